// Channel<T>: a bounded multi-producer multi-consumer queue that connects the
// stages of a pipeline. A full channel suspends its sender; this is the
// backpressure that keeps memory flat however large the input.
//
// Three ways to use it, mixable on one channel:
//   * coroutines on an Asio executor: co_await send(v) / receive(), which
//     suspend without blocking the thread;
//   * threads outside the event loop (a file reader, a CPU worker):
//     send_blocking(v) / receive_blocking(), which block on a condition variable
//     (a thread blocked on a full channel is woken once it is half empty, so
//     that a fast receiver and a blocked sender do not trade a wake-up per item);
//   * anyone: try_send(v) / try_receive(out), which never wait.
//
// Thread safety: every member may be called from any thread at any time.
// Ordering: one sender's items are received in the order it sent them.
// Waiters of one kind are served first come, first served.
//
// Lifetime and shutdown:
//   * close(): no more items are accepted. Items already buffered are still
//     received; after the last one, receivers see the end (nullopt). Senders
//     waiting at the time of close() fail (their item is destroyed).
//   * add_senders(n) / sender_done(): counts producers; the channel closes
//     itself when the last one is done ("all senders gone").
//   * cancel(): both sides stop now. Buffered items are destroyed, every waiter
//     and every later call fails. Used to stop a pipeline on error or when a
//     consumer stops early; a send that fails tells the producer to stop.
//   REQUIRES: the channel outlives every operation started on it. A coroutine
//   using receive_until() runs on a serial executor (an io_context run by one
//   thread, or a strand), as Asio's timers themselves require.
//
// Costs: try_send / try_receive take one uncontended mutex. A coroutine that
// suspends costs one allocation and one post to its executor when resumed.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/system_executor.hpp>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "sluice/detail/mutex.h"
#include "sluice/detail/thread_role.h"
#include "sluice/detail/waiter.h"

namespace sluice {

enum class SendResult : unsigned char {
  kSent,    // the item is in the channel, or handed to a waiting receiver
  kFull,    // no room now; the item was not moved from
  kClosed,  // closed or cancelled; the item was not moved from
};

enum class RecvResult : unsigned char {
  kItem,     // an item was received
  kEmpty,    // nothing now (try_receive only)
  kClosed,   // closed and drained, or cancelled: no item will ever come
  kTimeout,  // the deadline passed first (receive_until only)
};

template <class T>
class Channel {
 public:
  using value_type = T;
  using Clock = std::chrono::steady_clock;

  // REQUIRES: capacity >= 1.
  explicit Channel(std::size_t capacity) : capacity_(capacity), slots_(capacity) {
    if (capacity == 0) throw std::invalid_argument("Channel capacity must be at least 1");
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() { assert(recv_waiters_.empty() && send_waiters_.empty()); }

  // ---- never waits -------------------------------------------------------

  // Moves from `value` only when the result is kSent.
  SendResult try_send(T& value) {
    ReceiveWaiter* handoff = nullptr;
    SendResult r;
    {
      MutexLock lock(mu_);
      r = send_locked(value, handoff);
    }
    if (handoff) handoff->complete(RecvResult::kItem, std::optional<T>(std::move(value)));
    return r;
  }

  // On kItem, `out` holds the item.
  RecvResult try_receive(std::optional<T>& out) {
    SendWaiter* refill = nullptr;
    RecvResult r;
    {
      MutexLock lock(mu_);
      r = receive_locked(out, refill);
    }
    if (refill) refill->complete(true);
    return r;
  }

  // ---- coroutines --------------------------------------------------------

  // Returns false if the channel is closed or cancelled; the item is then destroyed.
  boost::asio::awaitable<bool> send(T value) {
    if (SendResult r = try_send(value); r != SendResult::kFull) co_return r == SendResult::kSent;
    co_return co_await async_send(std::move(value), boost::asio::deferred);
  }

  // Returns the next item, or nullopt once the channel is closed and drained or cancelled.
  boost::asio::awaitable<std::optional<T>> receive() {
    std::optional<T> out;
    if (try_receive(out) != RecvResult::kEmpty) co_return out;
    auto [r, item] = co_await async_receive(boost::asio::deferred);
    co_return std::move(item);
  }

  // Like receive(), but gives up with kTimeout at `deadline`. Never loses an
  // item: one either is received, or stays in the channel.
  boost::asio::awaitable<std::pair<RecvResult, std::optional<T>>> receive_until(Clock::time_point deadline) {
    std::pair<RecvResult, std::optional<T>> out;
    out.first = try_receive(out.second);
    if (out.first != RecvResult::kEmpty) co_return out;
    if (Clock::now() >= deadline) co_return std::pair{RecvResult::kTimeout, std::optional<T>()};
    auto [r, item] = co_await async_receive_until(deadline, boost::asio::deferred);
    co_return std::pair{r, std::move(item)};
  }

  // The waiting parts, as Asio asynchronous operations.
  // Completion signature: void(bool sent).
  template <class Token>
  auto async_send(T value, Token&& token) {
    return boost::asio::async_initiate<Token, void(bool)>(
        [this](auto handler, T v) { this->initiate_send(std::move(handler), std::move(v)); }, token, std::move(value));
  }
  // Completion signature: void(RecvResult, std::optional<T>).
  template <class Token>
  auto async_receive(Token&& token) {
    return boost::asio::async_initiate<Token, void(RecvResult, std::optional<T>)>(
        [this](auto handler) { this->initiate_receive(std::move(handler), std::nullopt); }, token);
  }
  template <class Token>
  auto async_receive_until(Clock::time_point deadline, Token&& token) {
    return boost::asio::async_initiate<Token, void(RecvResult, std::optional<T>)>(
        [this, deadline](auto handler) { this->initiate_receive(std::move(handler), deadline); }, token);
  }

  // ---- blocking threads --------------------------------------------------
  // REQUIRES: not called on an event-loop thread of a Runtime.

  bool send_blocking(T value) {
    assert(detail::this_thread_role() != detail::ThreadRole::kIo);
    ReceiveWaiter* handoff = nullptr;
    SendResult r;
    {
      MutexLock lock(mu_);
      while ((r = send_locked(value, handoff)) == SendResult::kFull) {
        ++blocked_senders_;
        not_full_.wait(lock);
        --blocked_senders_;
      }
    }
    if (handoff) handoff->complete(RecvResult::kItem, std::optional<T>(std::move(value)));
    return r == SendResult::kSent;
  }

  std::optional<T> receive_blocking() {
    assert(detail::this_thread_role() != detail::ThreadRole::kIo);
    std::optional<T> out;
    SendWaiter* refill = nullptr;
    {
      MutexLock lock(mu_);
      while (receive_locked(out, refill) == RecvResult::kEmpty) {
        ++blocked_receivers_;
        not_empty_.wait(lock);
        --blocked_receivers_;
      }
    }
    if (refill) refill->complete(true);
    return out;
  }

  // ---- lifetime ----------------------------------------------------------

  void close() { shut(State::kClosed); }
  void cancel() { shut(State::kCancelled); }

  void add_senders(std::size_t n) {
    MutexLock lock(mu_);
    senders_ += n;
  }
  // Closes the channel when the count of senders drops to zero.
  // REQUIRES: matched by an earlier add_senders().
  void sender_done() {
    bool last;
    {
      MutexLock lock(mu_);
      assert(senders_ > 0);
      last = --senders_ == 0;
    }
    if (last) close();
  }

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const {
    MutexLock lock(mu_);
    return count_;
  }
  bool is_closed() const {
    MutexLock lock(mu_);
    return state_ != State::kOpen;
  }
  bool is_cancelled() const {
    MutexLock lock(mu_);
    return state_ == State::kCancelled;
  }

 private:
  enum class State : unsigned char { kOpen, kClosed, kCancelled };

  using ReceiveWaiter = detail::Waiter<RecvResult, std::optional<T>>;
  struct SendWaiter : detail::Waiter<bool> {
    std::optional<T> value;
  };

  static boost::asio::any_io_executor fallback_executor() { return boost::asio::system_executor(); }

  // Under mu_. On kSent with *handoff set, the caller completes *handoff with
  // `value` after unlocking (the buffer was empty and a receiver waited).
  SendResult send_locked(T& value, ReceiveWaiter*& handoff) SLUICE_REQUIRES(mu_) {
    if (state_ != State::kOpen) return SendResult::kClosed;
    if (!recv_waiters_.empty()) {
      handoff = recv_waiters_.pop_front();
      if (handoff->timed) handoff->timed->resolved = true;
      return SendResult::kSent;
    }
    if (count_ == slots_.size()) return SendResult::kFull;
    slots_[(head_ + count_) % slots_.size()].emplace(std::move(value));
    ++count_;
    if (blocked_receivers_ > 0) not_empty_.notify_one();
    return SendResult::kSent;
  }

  // Under mu_. When an item leaves a full buffer, the first waiting sender's
  // item takes its place and *refill is set for the caller to complete.
  RecvResult receive_locked(std::optional<T>& out, SendWaiter*& refill) SLUICE_REQUIRES(mu_) {
    if (count_ == 0) return state_ == State::kOpen ? RecvResult::kEmpty : RecvResult::kClosed;
    std::optional<T>& slot = slots_[head_];
    out.emplace(std::move(*slot));
    slot.reset();
    head_ = (head_ + 1) % slots_.size();
    --count_;
    if (!send_waiters_.empty()) {
      refill = send_waiters_.pop_front();
      slots_[(head_ + count_) % slots_.size()].emplace(std::move(*refill->value));
      ++count_;
    } else if (blocked_senders_ > 0 && count_ <= slots_.size() / 2) {
      not_full_.notify_one();
    }
    return RecvResult::kItem;
  }

  template <class Handler>
  void initiate_send(Handler handler, T value) {
    using W = detail::HandlerWaiter<SendWaiter, Handler, bool>;
    auto* w = new W(std::move(handler), fallback_executor());
    ReceiveWaiter* handoff = nullptr;
    SendResult r;
    {
      MutexLock lock(mu_);
      r = send_locked(value, handoff);
      if (r == SendResult::kFull) {
        w->value.emplace(std::move(value));
        send_waiters_.push_back(w);
        return;
      }
    }
    if (handoff) handoff->complete(RecvResult::kItem, std::optional<T>(std::move(value)));
    w->complete(r == SendResult::kSent);
  }

  template <class Handler>
  void initiate_receive(Handler handler, std::optional<Clock::time_point> deadline) {
    using W = detail::HandlerWaiter<ReceiveWaiter, Handler, RecvResult, std::optional<T>>;
    auto* w = new W(std::move(handler), fallback_executor());
    std::optional<T> out;
    SendWaiter* refill = nullptr;
    RecvResult r;
    {
      MutexLock lock(mu_);
      r = receive_locked(out, refill);
      if (r == RecvResult::kEmpty) {
        if (deadline) arm_deadline(w, *deadline);
        recv_waiters_.push_back(w);
        return;
      }
    }
    if (refill) refill->complete(true);
    w->complete(r, std::move(out));
  }

  // Under mu_. Starts a timer on the waiter's executor; if it fires while the
  // waiter still waits, the waiter completes with kTimeout.
  void arm_deadline(ReceiveWaiter* w, Clock::time_point deadline) SLUICE_REQUIRES(mu_) {
    // The timer runs on the waiter's executor, which HandlerWaiter keeps alive.
    auto timed = std::make_shared<detail::TimedWait>(w->executor());
    w->timed = timed;
    timed->timer.expires_at(deadline);
    timed->timer.async_wait([this, timed, w](boost::system::error_code) {
      if (timed->finished) return;  // completed and resumed; the channel may be gone
      {
        MutexLock lock(mu_);
        if (timed->resolved) return;  // an item or close() got there first
        timed->resolved = true;
        detail::WaiterList<ReceiveWaiter>::unlink(w);
      }
      w->complete(RecvResult::kTimeout, std::nullopt);
    });
  }

  void shut(State to) {
    detail::WaiterList<ReceiveWaiter> receivers;
    detail::WaiterList<SendWaiter> senders;
    std::vector<std::optional<T>> dropped;
    {
      MutexLock lock(mu_);
      if (state_ == State::kCancelled || state_ == to) return;
      state_ = to;
      while (!send_waiters_.empty()) senders.push_back(send_waiters_.pop_front());
      // Receivers wait only while the buffer is empty, so they all see the end.
      while (!recv_waiters_.empty()) {
        ReceiveWaiter* w = recv_waiters_.pop_front();
        if (w->timed) w->timed->resolved = true;
        receivers.push_back(w);
      }
      if (to == State::kCancelled && count_ > 0) {
        dropped.swap(slots_);  // destroyed outside the lock
        slots_.resize(dropped.size());
        head_ = count_ = 0;
      }
      not_empty_.notify_all();
      not_full_.notify_all();
    }
    while (!senders.empty()) senders.pop_front()->complete(false);
    while (!receivers.empty()) receivers.pop_front()->complete(RecvResult::kClosed, std::nullopt);
  }

  mutable Mutex mu_;
  const std::size_t capacity_;
  std::vector<std::optional<T>> slots_ SLUICE_GUARDED_BY(mu_);  // ring buffer of capacity_ slots
  std::size_t head_ SLUICE_GUARDED_BY(mu_) = 0;
  std::size_t count_ SLUICE_GUARDED_BY(mu_) = 0;
  State state_ SLUICE_GUARDED_BY(mu_) = State::kOpen;
  std::size_t senders_ SLUICE_GUARDED_BY(mu_) = 0;
  detail::WaiterList<ReceiveWaiter> recv_waiters_ SLUICE_GUARDED_BY(mu_);
  detail::WaiterList<SendWaiter> send_waiters_ SLUICE_GUARDED_BY(mu_);
  CondVar not_empty_;
  CondVar not_full_;
  int blocked_senders_ SLUICE_GUARDED_BY(mu_) = 0;
  int blocked_receivers_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice
