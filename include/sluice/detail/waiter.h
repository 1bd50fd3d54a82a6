// Waiters: where a suspended coroutine's completion handler waits for a
// channel or semaphore. Internal to sluice.
//
// A Waiter sits in exactly one WaiterList, guarded by its owner's mutex. The
// owner unlinks it under that mutex and then calls complete() exactly once,
// after releasing the mutex. complete() posts the handler to the executor it
// is associated with (never runs it inline, so a sender never runs a receiver
// on its own stack) and frees the waiter. While a waiter waits it keeps
// outstanding work on that executor, so the event loop does not run dry.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <tuple>
#include <utility>

namespace sluice::detail {

struct WaiterHook {
  WaiterHook* prev = nullptr;
  WaiterHook* next = nullptr;
  bool linked() const { return prev != nullptr; }
};

// Intrusive FIFO of waiters. Not thread-safe: its owner's mutex guards it.
template <class W>
class WaiterList {
 public:
  WaiterList() { head_.prev = head_.next = &head_; }
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  bool empty() const { return head_.next == &head_; }

  void push_back(W* w) {
    WaiterHook* h = w;
    h->prev = head_.prev;
    h->next = &head_;
    head_.prev->next = h;
    head_.prev = h;
  }

  // REQUIRES: !empty().
  W* pop_front() {
    WaiterHook* h = head_.next;
    unlink(h);
    return static_cast<W*>(h);
  }

  // The first waiter for which `better(w, best)` holds against every
  // other, or nullptr if empty; it stays linked.
  template <class Better>
  W* best(Better better) {
    W* found = nullptr;
    for (WaiterHook* h = head_.next; h != &head_; h = h->next) {
      W* w = static_cast<W*>(h);
      if (found == nullptr || better(w, found)) found = w;
    }
    return found;
  }

  static void unlink(WaiterHook* h) {
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->prev = h->next = nullptr;
  }

 private:
  WaiterHook head_;
};

// The part of a timed wait shared by the waiter, its timer's handler and the
// posted completion. `resolved` is guarded by the owner's mutex; `finished`
// and the timer belong to the waiter's (serial) executor.
struct TimedWait {
  explicit TimedWait(const boost::asio::any_io_executor& ex) : timer(ex) {}
  boost::asio::steady_timer timer;
  bool resolved = false;
  bool finished = false;
};

template <class... Args>
class Waiter : public WaiterHook {
 public:
  // Posts the handler with args and deletes this waiter.
  virtual void complete(Args... args) = 0;

  // The executor the handler will run on.
  virtual boost::asio::any_io_executor executor() const = 0;

  // Set for a wait with a deadline; the owner marks it resolved under its
  // mutex whenever it unlinks this waiter.
  std::shared_ptr<TimedWait> timed;

 protected:
  ~Waiter() = default;
};

// Binds a completion handler to a waiter of type Base (a Waiter<Args...>, or
// a class derived from it that carries data, such as the value to send).
template <class Base, class Handler, class... Args>
class HandlerWaiter final : public Base {
 public:
  HandlerWaiter(Handler&& h, const boost::asio::any_io_executor& fallback)
      : work_(boost::asio::make_work_guard(boost::asio::get_associated_executor(h, fallback))),
        handler_(std::move(h)) {}

  void complete(Args... args) override {
    auto ex = work_.get_executor();
    boost::asio::post(ex, [h = std::move(handler_), timed = std::move(this->timed), work = std::move(work_),
                           args = std::make_tuple(std::move(args)...)]() mutable {
      if (timed) {
        timed->finished = true;
        timed->timer.cancel();
      }
      std::apply(std::move(h), std::move(args));
    });
    delete this;
  }

  boost::asio::any_io_executor executor() const override { return work_.get_executor(); }

 private:
  using Executor = boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>;
  boost::asio::executor_work_guard<Executor> work_;
  Handler handler_;
};

}  // namespace sluice::detail
