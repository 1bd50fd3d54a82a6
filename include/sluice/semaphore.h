// AsyncSemaphore: a counting semaphore for coroutines, used to bound work in
// flight (requests, batches on the CPU pool). acquire() suspends the calling
// coroutine while no unit is free; it never blocks a thread.
//
// Thread safety: every member may be called from any thread.
// Fairness: waiters are served first come, first served, urgent waiters
// before the others; a released unit goes to the oldest (urgent) waiter,
// never to a later try_acquire(). (A pipeline marks the follow-up requests of
// records it has already admitted urgent, so new records cannot starve them.)
// close(): every waiting and later acquire fails (returns false); units
// already held stay valid and may still be released.
// REQUIRES: the semaphore outlives every acquire() started on it.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/system_executor.hpp>
#include <cstddef>

#include "sluice/detail/mutex.h"
#include "sluice/detail/waiter.h"

namespace sluice {

class AsyncSemaphore {
 public:
  // Where a waiting acquire queues: urgent ones are served before the others.
  enum class Priority : unsigned char { kNormal, kUrgent };

  explicit AsyncSemaphore(std::size_t units) : available_(units) {}
  AsyncSemaphore(const AsyncSemaphore&) = delete;
  AsyncSemaphore& operator=(const AsyncSemaphore&) = delete;
  ~AsyncSemaphore();

  // Takes one unit if one is free now.
  bool try_acquire();

  // Completion signature: void(bool acquired).
  template <class Token>
  auto async_acquire(Token&& token, Priority priority = Priority::kNormal) {
    return boost::asio::async_initiate<Token, void(bool)>(
        [this, priority](auto handler) {
          using W = detail::HandlerWaiter<Waiter, decltype(handler), bool>;
          enqueue(new W(std::move(handler), boost::asio::system_executor()), priority);
        },
        token);
  }

  // Takes one unit, waiting for it if needed. False if the semaphore is closed.
  // An urgent acquire waits ahead of every normal one.
  boost::asio::awaitable<bool> acquire(Priority priority = Priority::kNormal) {
    if (try_acquire()) co_return true;  // units are free only when nobody waits
    co_return co_await async_acquire(boost::asio::deferred, priority);
  }

  // Returns a unit: to the oldest waiter if any, else to the pool.
  void release();

  void close();

  std::size_t available() const;
  std::size_t waiting() const;

 private:
  using Waiter = detail::Waiter<bool>;
  void enqueue(Waiter* w, Priority priority);

  mutable Mutex mu_;
  std::size_t available_ SLUICE_GUARDED_BY(mu_);
  std::size_t waiting_ SLUICE_GUARDED_BY(mu_) = 0;
  bool closed_ SLUICE_GUARDED_BY(mu_) = false;
  detail::WaiterList<Waiter> waiters_ SLUICE_GUARDED_BY(mu_);
  detail::WaiterList<Waiter> urgent_ SLUICE_GUARDED_BY(mu_);
};

// Holds one unit of a semaphore and releases it when destroyed.
class SemaphoreUnit {
 public:
  SemaphoreUnit() = default;
  explicit SemaphoreUnit(AsyncSemaphore& s) : sem_(&s) {}
  SemaphoreUnit(SemaphoreUnit&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
  SemaphoreUnit& operator=(SemaphoreUnit&& o) noexcept {
    if (this != &o) {
      reset();
      sem_ = std::exchange(o.sem_, nullptr);
    }
    return *this;
  }
  ~SemaphoreUnit() { reset(); }
  void reset() {
    if (sem_) std::exchange(sem_, nullptr)->release();
  }

 private:
  AsyncSemaphore* sem_ = nullptr;
};

}  // namespace sluice
