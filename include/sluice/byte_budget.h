// ByteBudget: one bound on the bytes that many holders build up at once,
// such as answers being received and answers kept until their record ends.
//
//   auto budget = std::make_shared<ByteBudget>(256 << 20);
//   ByteBudget::Grower g(*budget);          // one body being received
//   while (more) {
//     if (!co_await budget->may_grow(g)) break;   // closed
//     n = co_await read_some(...);
//     g.add(n);                             // counted at once
//   }                                       // ~Grower gives its bytes back
//
// Holders count bytes with charge()/release() (or a Grower) and are never
// refused. Before growing, a holder asks may_grow(): at once while the
// bytes held are under the limit; over it, one Grower at a time holds the
// overdraft and may go on (the waiting one of lowest priority value, the
// oldest of those first), and the others wait until bytes are given back
// or the overdraft comes to them. So the bytes held stay under the limit
// plus what the overdraft adds (+ what each holder adds between two
// asks), and every holder is served in turn: one bigger than the limit
// still completes. Give the Growers of the oldest work the lowest values,
// so that it is done, and gives its bytes back, first.
//
// Thread safety: every member may be called from any thread.
// close(): every waiting and later may_grow() / wait_under() returns false.
// REQUIRES: the budget outlives its Growers and waits; a Grower outlives
// its own may_grow() waits.
#pragma once

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/system_executor.hpp>
#include <cstdint>

#include "sluice/detail/mutex.h"
#include "sluice/detail/waiter.h"

namespace sluice {

class ByteBudget {
 public:
  explicit ByteBudget(std::uint64_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;
  ~ByteBudget();

  // Bytes that grow a holder: counted now, whatever the bound.
  void charge(std::uint64_t bytes);
  // Bytes given back; waiting holders go on once under the limit.
  void release(std::uint64_t bytes);

  // One holder that grows by steps (a body being received): its bytes are
  // given back when it ends, and so is the overdraft if it holds it.
  class Grower {
   public:
    explicit Grower(ByteBudget& b, std::uint64_t priority = 0) : budget_(b), priority_(priority) {}
    ~Grower();
    Grower(const Grower&) = delete;
    Grower& operator=(const Grower&) = delete;
    void add(std::uint64_t bytes) {
      held_ += bytes;
      budget_.charge(bytes);
    }
    std::uint64_t held() const { return held_; }

   private:
    friend class ByteBudget;
    ByteBudget& budget_;
    const std::uint64_t priority_;
    std::uint64_t held_ = 0;
    std::atomic<bool> overdraft_{false};  // written under the budget's mutex
  };

  // Whether `g` may grow now without waiting.
  bool may_grow_now(Grower& g);
  // Returns when `g` may grow (see above); false once closed.
  boost::asio::awaitable<bool> may_grow(Grower& g);
  // Returns when the bytes held are under the limit; false once closed.
  boost::asio::awaitable<bool> wait_under();

  void close();

  std::uint64_t limit() const { return limit_; }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  struct Waiter : detail::Waiter<bool> {
    Grower* grower = nullptr;  // null: waits to be under the limit
  };
  template <class Token>
  auto async_wait(Grower* g, Token&& token) {
    return boost::asio::async_initiate<Token, void(bool)>(
        [this, g](auto handler) {
          using W = detail::HandlerWaiter<Waiter, decltype(handler), bool>;
          auto* w = new W(std::move(handler), boost::asio::system_executor());
          w->grower = g;
          enqueue(w);
        },
        token);
  }
  bool ready_locked(Grower* g) SLUICE_REQUIRES(mu_);
  void enqueue(Waiter* w);
  void wake_locked(detail::WaiterList<Waiter>& out) SLUICE_REQUIRES(mu_);
  static void complete_all(detail::WaiterList<Waiter>& list, bool result);
  void end_grower(Grower& g);

  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0}, peak_{0};
  Mutex mu_;
  bool closed_ SLUICE_GUARDED_BY(mu_) = false;
  Grower* overdraft_ SLUICE_GUARDED_BY(mu_) = nullptr;         // the Grower that may grow over the limit
  detail::WaiterList<Waiter> growers_ SLUICE_GUARDED_BY(mu_);  // waiting to grow, oldest first
  detail::WaiterList<Waiter> under_ SLUICE_GUARDED_BY(mu_);    // waiting for the bytes held to be under the limit
};

}  // namespace sluice
