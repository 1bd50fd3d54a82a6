// ByteBudget: holders under the limit never wait; over it, one grower at a
// time (the lowest priority value) goes on, the rest when bytes come back;
// nothing deadlocks and nothing is lost however many grow at once.
#include "sluice/byte_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <random>
#include <thread>

#include "sluice/runtime.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint64_t kLimit = 1000, kStep = 10, kBiggest = 3000;  // of ManyGrowers...

class ByteBudgetTest : public ::testing::Test {
 protected:
  Runtime rt{{.io_threads = 1, .cpu_threads = 1}};

  // Asks for `g` to grow, on the event loop; the future says when it may.
  std::future<bool> ask(ByteBudget& b, ByteBudget::Grower& g) {
    return asio::co_spawn(rt.executor(), b.may_grow(g), asio::use_future);
  }
  static bool ready(std::future<bool>& f) { return f.wait_for(0s) == std::future_status::ready; }
  // Every handler posted before now has run on the loop.
  void settle() {
    asio::co_spawn(
        rt.executor(), []() -> asio::awaitable<void> { co_return; }(), asio::use_future)
        .get();
  }
};

TEST_F(ByteBudgetTest, UnderTheLimitNobodyWaitsAndBytesAreCounted) {
  ByteBudget b(100);
  ByteBudget::Grower g(b);
  EXPECT_TRUE(b.may_grow_now(g));
  g.add(60);
  b.charge(30);
  EXPECT_EQ(b.used(), 90u);
  EXPECT_TRUE(ask(b, g).get());
  b.release(30);
  EXPECT_EQ(b.used(), 60u);
  EXPECT_EQ(b.peak(), 90u);
}

TEST_F(ByteBudgetTest, OverTheLimitOneGrowerGoesOnAndTheOthersWaitForIt) {
  ByteBudget b(100);
  auto first = std::make_unique<ByteBudget::Grower>(b);
  ByteBudget::Grower second(b);
  first->add(150);  // over
  auto f1 = ask(b, *first);
  ASSERT_TRUE(f1.get()) << "the first to ask takes the overdraft";
  EXPECT_TRUE(b.may_grow_now(*first)) << "and keeps it while it grows";
  auto f2 = ask(b, second);
  settle();
  EXPECT_FALSE(ready(f2)) << "one grower over the limit at a time";
  first.reset();  // its answer is done: its bytes and the overdraft come back
  EXPECT_TRUE(f2.get());
  EXPECT_EQ(b.used(), 0u);
}

TEST_F(ByteBudgetTest, TheOverdraftGoesToTheLowestPriorityValue) {
  ByteBudget b(10);
  b.charge(20);  // over, and held by something else
  ByteBudget::Grower late(b, 9), early(b, 1), middle(b, 5);
  auto holder = std::make_unique<ByteBudget::Grower>(b, 0);
  ASSERT_TRUE(ask(b, *holder).get());
  auto fl = ask(b, late);
  auto fe = ask(b, early);
  auto fm = ask(b, middle);
  settle();
  EXPECT_FALSE(ready(fl) || ready(fe) || ready(fm));
  holder.reset();
  EXPECT_TRUE(fe.get()) << "the oldest work first";
  settle();
  EXPECT_FALSE(ready(fl) || ready(fm));
  b.release(20);  // under the limit: everyone goes on
  EXPECT_TRUE(fl.get());
  EXPECT_TRUE(fm.get());
}

TEST_F(ByteBudgetTest, WaitUnderReturnsOnceBytesComeBackAndCloseFailsEveryWaiter) {
  ByteBudget b(10);
  b.charge(10);
  auto under = asio::co_spawn(rt.executor(), b.wait_under(), asio::use_future);
  settle();
  EXPECT_FALSE(ready(under));
  b.release(1);
  EXPECT_TRUE(under.get());

  b.charge(1);
  ByteBudget::Grower owner(b), waiting(b);
  ASSERT_TRUE(ask(b, owner).get());
  auto grow = ask(b, waiting);
  auto again = asio::co_spawn(rt.executor(), b.wait_under(), asio::use_future);
  settle();
  b.close();
  EXPECT_FALSE(grow.get());
  EXPECT_FALSE(again.get());
}

// Many growers on two threads, each growing by random steps to a random
// size, some far bigger than the limit: every one finishes, and the bytes
// held never pass the limit by more than one overdraft and a step each.
TEST_F(ByteBudgetTest, ManyGrowersAllFinishAndStayWithinTheBound) {
  Runtime two{{.io_threads = 2, .cpu_threads = 1}};
  constexpr int kGrowers = 200;
  ByteBudget b(kLimit);
  std::atomic<int> done{0};
  std::vector<std::future<void>> all;
  for (int i = 0; i < kGrowers; ++i) {
    all.push_back(asio::co_spawn(
        two.executor(),
        [](ByteBudget& b, int i, std::atomic<int>& done) -> asio::awaitable<void> {
          std::mt19937 rng(static_cast<unsigned>(i));
          const std::uint64_t size = i % 10 == 0 ? kBiggest : std::uniform_int_distribution<std::uint64_t>(1, 300)(rng);
          ByteBudget::Grower g(b, static_cast<std::uint64_t>(i));
          while (g.held() < size) {
            if (!co_await b.may_grow(g)) co_return;
            g.add(std::min(kStep, size - g.held()));
            co_await asio::post(co_await asio::this_coro::executor, asio::deferred);  // let others in
          }
          ++done;
        }(b, i, done),
        asio::use_future));
  }
  for (auto& f : all) f.get();
  EXPECT_EQ(done, kGrowers);
  EXPECT_EQ(b.used(), 0u);
  EXPECT_LE(b.peak(), kLimit + kBiggest + kGrowers * kStep);
  EXPECT_GT(b.peak(), kLimit) << "the limit was reached: the test proves something";
}

}  // namespace
}  // namespace sluice
