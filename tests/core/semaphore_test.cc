#include "sluice/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <random>

#include "sluice/detail/mutex.h"
#include "sluice/runtime.h"
#include "sluice/sleep.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST(AsyncSemaphore, InFlightNeverExceedsTheLimit) {
  Runtime rt({.io_threads = 2, .cpu_threads = 1});
  constexpr std::size_t kLimit = 5;
  constexpr int kTasks = 400;
  AsyncSemaphore sem(kLimit);
  std::atomic<int> in_flight{0}, peak{0}, finished{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < kTasks; ++i) {
    done.push_back(asio::co_spawn(
        asio::make_strand(rt.io_context()),
        [&, i]() -> asio::awaitable<void> {
          EXPECT_TRUE(co_await sem.acquire());
          SemaphoreUnit unit(sem);
          int now = in_flight.fetch_add(1) + 1;
          int p = peak.load();
          while (now > p && !peak.compare_exchange_weak(p, now)) {
          }
          co_await sleep_for(std::chrono::microseconds(50 + (i * 37) % 300));
          in_flight.fetch_sub(1);
          finished.fetch_add(1);
        },
        asio::use_future));
  }
  for (auto& f : done) f.get();
  EXPECT_EQ(finished.load(), kTasks);
  EXPECT_LE(peak.load(), static_cast<int>(kLimit));
  EXPECT_EQ(peak.load(), static_cast<int>(kLimit)) << "the limit was never reached; the test proves nothing";
  EXPECT_EQ(sem.available(), kLimit);
}

TEST(AsyncSemaphore, ReleaseGoesToTheOldestWaiterNotALaterTryAcquire) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  AsyncSemaphore sem(1);
  ASSERT_TRUE(sem.try_acquire());
  auto waiter = asio::co_spawn(rt.executor(), sem.acquire(), asio::use_future);
  while (sem.waiting() == 0) std::this_thread::sleep_for(1ms);
  sem.release();
  EXPECT_FALSE(sem.try_acquire()) << "the unit belongs to the waiter";
  EXPECT_TRUE(waiter.get());
}

TEST(AsyncSemaphore, UrgentWaitersAreServedBeforeEarlierOrdinaryOnes) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  AsyncSemaphore sem(0);
  std::vector<int> order;
  Mutex mu;
  using enum AsyncSemaphore::Priority;
  auto waiter = [&](int id, AsyncSemaphore::Priority priority) -> asio::awaitable<void> {
    EXPECT_TRUE(co_await sem.acquire(priority));
    MutexLock lock(mu);
    order.push_back(id);
  };
  std::vector<std::future<void>> done;
  const AsyncSemaphore::Priority priority[] = {kNormal, kNormal, kUrgent, kNormal, kUrgent};
  for (int i = 0; i < 5; ++i) {
    done.push_back(asio::co_spawn(rt.executor(), waiter(i, priority[i]), asio::use_future));
    while (sem.waiting() < static_cast<std::size_t>(i + 1)) std::this_thread::sleep_for(1ms);
  }
  for (int i = 0; i < 5; ++i) sem.release();
  for (auto& f : done) f.get();
  EXPECT_EQ(order, (std::vector<int>{2, 4, 0, 1, 3}));
  EXPECT_EQ(sem.available(), 0u);
}

TEST(AsyncSemaphore, CloseFailsWaitersAndLaterAcquires) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  AsyncSemaphore sem(0);
  auto waiter = asio::co_spawn(rt.executor(), sem.acquire(), asio::use_future);
  while (sem.waiting() == 0) std::this_thread::sleep_for(1ms);
  sem.close();
  EXPECT_FALSE(waiter.get());
  EXPECT_FALSE(rt.block_on(sem.acquire()));
}

}  // namespace
}  // namespace sluice
