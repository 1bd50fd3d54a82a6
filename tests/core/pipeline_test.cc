#include "sluice/pipeline.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <ranges>
#include <set>

#include "sluice/detail/mutex.h"
#include "sluice/sleep.h"
#include "sluice/sources.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// An item that counts how many instances hold a value, and the peak.
// A moved-from instance holds nothing and is not counted.
struct Tracked {
  static inline std::atomic<long> alive{0};
  static inline std::atomic<long> peak{0};
  static void reset() { alive = 0, peak = 0; }

  explicit Tracked(int v) : value(v), owns(true) {
    long now = alive.fetch_add(1) + 1;
    long p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
  Tracked(Tracked&& o) noexcept : value(o.value), owns(std::exchange(o.owns, false)) {}
  Tracked& operator=(Tracked&& o) noexcept {
    if (owns) alive.fetch_sub(1);
    value = o.value;
    owns = std::exchange(o.owns, false);
    return *this;
  }
  ~Tracked() {
    if (owns) alive.fetch_sub(1);
  }
  int value;
  bool owns;
};

std::size_t count_threads() {
  std::size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST(Pipeline, SlowSinkKeepsLiveItemsWithinChannelAndInFlightBounds) {
  Tracked::reset();
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  constexpr int kItems = 30'000;
  constexpr std::size_t kCap = 16, kInFlight = 8, kBatch = 32, kBatchCap = 2, kCpu = 2;
  std::atomic<long> received{0};
  auto p = from_range(std::views::iota(0, kItems)) | map([](int v) { return Tracked(v); }, {.capacity = kCap}) |
           map_unordered([](Tracked t) -> asio::awaitable<Tracked> { co_return t; },
                         {.concurrency = kInFlight, .capacity = kCap}) |
           batch({.size = kBatch, .timeout = 5ms, .capacity = kBatchCap}) |
           cpu([](std::vector<Tracked> b) { return b; }, {.concurrency = kCpu, .capacity = kBatchCap}) |
           map_unordered(
               [](std::vector<Tracked> b) -> asio::awaitable<std::vector<Tracked>> {
                 co_await sleep_for(100us);  // the slow consumer
                 co_return b;
               },
               {.concurrency = 1, .capacity = 1}) |
           sink([&](std::vector<Tracked> b) { received += static_cast<long>(b.size()); });
  ASSERT_TRUE(rt.block_on(std::move(p)).ok());
  EXPECT_EQ(received.load(), kItems);
  EXPECT_EQ(Tracked::alive.load(), 0);
  // Where an item can be: the first map's channel and hand; each unordered
  // worker's hand (1 each) and its channel; the batch being filled and the
  // batch channel; each CPU worker's batch and the CPU channel; the slow
  // consumer's batch and channel; the sink's batch.
  const long bound = (kCap + 1) + (kInFlight + kCap) + kBatch + kBatchCap * kBatch + kCpu * kBatch +
                     kBatchCap * kBatch + 2 * kBatch + kBatch;
  EXPECT_LE(Tracked::peak.load(), bound);
  EXPECT_LT(bound, kItems / 50) << "the bound must be far below the input for the test to mean anything";
}

TEST(Pipeline, BatchFlushesOnSize) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::vector<std::size_t> sizes;
  auto p = from_range(std::views::iota(0, 1000)) | batch({.size = 100, .timeout = 10s}) |
           sink([&](std::vector<int> b) { sizes.push_back(b.size()); });
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(rt.block_on(std::move(p)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "no batch may wait for its timeout";
  EXPECT_EQ(sizes, std::vector<std::size_t>(10, 100));
}

TEST(Pipeline, BatchFlushesOnTimeoutWhenTheSourceTrickles) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::vector<std::size_t> sizes;
  auto p = from_range(std::views::iota(0, 6)) |
           map_unordered(
               [](int v) -> asio::awaitable<int> {
                 co_await sleep_for(30ms);
                 co_return v;
               },
               {.concurrency = 1}) |
           batch({.size = 100, .timeout = 5ms}) | sink([&](std::vector<int> b) { sizes.push_back(b.size()); });
  ASSERT_TRUE(rt.block_on(std::move(p)).ok());
  std::size_t total = 0;
  for (std::size_t s : sizes) {
    EXPECT_LT(s, 100u);
    total += s;
  }
  EXPECT_EQ(total, 6u);
  // The end of input flushes at most one batch; the rest were timeouts.
  EXPECT_GE(sizes.size(), 3u);
}

TEST(Pipeline, EveryItemComesOutExactlyOnceUnderRandomBoundsAndDelays) {
  Runtime rt({.io_threads = 2, .cpu_threads = 2});
  for (unsigned seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
    constexpr int kItems = 3000;
    std::size_t max_delay_us = pick(0, 200);
    Mutex mu;
    std::vector<int> out;
    auto p = from_range(std::views::iota(0, kItems), {.capacity = pick(1, 8)}) |
             map([](int v) { return v * 2; }, {.capacity = pick(1, 8)}) |
             map_unordered(
                 [max_delay_us](int v) -> asio::awaitable<int> {
                   if (max_delay_us > 0) co_await sleep_for(std::chrono::microseconds((v * 7919) % (max_delay_us + 1)));
                   co_return v / 2;
                 },
                 {.concurrency = pick(1, 32), .capacity = pick(1, 8)}) |
             batch({.size = pick(1, 40), .timeout = std::chrono::milliseconds(pick(1, 5)), .capacity = pick(1, 4)}) |
             cpu([](std::vector<int> b) { return b; }, {.concurrency = pick(1, 4), .capacity = pick(1, 4)}) |
             sink([&](std::vector<int> b) {
               MutexLock lock(mu);
               out.insert(out.end(), b.begin(), b.end());
             });
    Status s = rt.block_on(std::move(p));
    ASSERT_TRUE(s.ok()) << "seed " << seed << ": " << s.to_string();
    std::sort(out.begin(), out.end());
    ASSERT_EQ(out.size(), static_cast<std::size_t>(kItems)) << "seed " << seed;
    for (int i = 0; i < kItems; ++i) ASSERT_EQ(out[i], i) << "seed " << seed;
  }
}

TEST(Pipeline, CpuStageNeverRunsOnAnIoThread) {
  Runtime rt({.io_threads = 2, .cpu_threads = 2});
  auto io_ids = rt.io_thread_ids();
  Mutex mu;
  std::set<std::thread::id> cpu_ids;
  std::atomic<int> wrong_role{0};
  auto p = from_range(std::views::iota(0, 2000)) | batch({.size = 16, .timeout = 1ms}) | cpu([&](std::vector<int> b) {
             if (detail::this_thread_role() != detail::ThreadRole::kCpu) ++wrong_role;
             MutexLock lock(mu);
             cpu_ids.insert(std::this_thread::get_id());
             return b.size();
           }) |
           sink([](std::size_t) {});
  ASSERT_TRUE(rt.block_on(std::move(p)).ok());
  ASSERT_FALSE(cpu_ids.empty());
  for (auto id : io_ids) EXPECT_EQ(cpu_ids.count(id), 0u) << "CPU work ran on an I/O thread";
  EXPECT_EQ(cpu_ids.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(wrong_role.load(), 0);
}

TEST(Pipeline, ErrorInAMiddleStageEndsTheRunWithThatErrorAndItsStage) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  // An endless source: the run can only end because the error stops it.
  auto p = from_range(std::views::iota(0)) |
           map(
               [](int v) -> Result<int> {
                 if (v == 500) return Status::InvalidArgument("record 500: field 'id' is not a number");
                 return v;
               },
               {.name = "parse"}) |
           map_unordered(
               [](int v) -> asio::awaitable<int> {
                 co_await sleep_for(1ms);
                 co_return v;
               },
               {.concurrency = 16}) |
           sink([](int) {});
  Status s = rt.block_on(std::move(p));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "stage 'parse': record 500: field 'id' is not a number");
}

TEST(Pipeline, ErrorCancelsInFlightAsyncWorkInsteadOfWaitingForIt) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::atomic<int> aborted{0};
  std::atomic<int> waiting{0};
  // Item 0 fails once the others wait; they would each wait a minute unless
  // the failure cancels their wait.
  auto p = from_range(std::views::iota(0, 16)) |
           map_unordered(
               [&](int v) -> asio::awaitable<Result<int>> {
                 if (v == 0) {
                   while (waiting.load() < 15) co_await sleep_for(1ms);
                   co_return Status::Unavailable("item 0: upstream is down");
                 }
                 ++waiting;
                 try {
                   co_await sleep_for(60s);
                 } catch (const boost::system::system_error& e) {
                   if (e.code() == asio::error::operation_aborted) ++aborted;
                   throw;
                 }
                 co_return v;
               },
               {.name = "fetch", .concurrency = 16}) |
           sink([](int) {});
  auto start = std::chrono::steady_clock::now();
  Status s = rt.block_on(std::move(p));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "far below the minute the waits would take";
  EXPECT_EQ(s.to_string(), "UNAVAILABLE: stage 'fetch': item 0: upstream is down");
  EXPECT_EQ(aborted.load(), 15);
}

TEST(Pipeline, ExceptionInACpuStageIsAnInternalErrorNamingTheStage) {
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  auto p = from_range(std::views::iota(0)) | batch({.size = 8}) |
           cpu(
               [](std::vector<int> b) -> int {
                 if (b.front() >= 64) throw std::runtime_error("aggregation failed");
                 return 0;
               },
               {.name = "aggregate"}) |
           sink([](int) {});
  Status s = rt.block_on(std::move(p));
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "stage 'aggregate': exception: aggregation failed");
}

TEST(Pipeline, ErrorInASinkStopsAFileSourceThread) {
  std::string path = testing::TempDir() + "/sluice_sink_error.csv";
  {
    std::ofstream f(path);
    f << "id\n";
    for (int i = 0; i < 100'000; ++i) f << i << "\n";
  }
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  auto p = from_csv(path, {.capacity = 4}) | sink(
                                                 [](CsvRecord r) -> Status {
                                                   if (r.line == 10) return Status::DataLoss("line 10 rejected");
                                                   return Status();
                                                 },
                                                 {.name = "write"});
  Status s = rt.block_on(std::move(p));
  EXPECT_EQ(s.to_string(), "DATA_LOSS: stage 'write': line 10 rejected");
}

TEST(Pipeline, EarlyStopLeavesNoThreadOrCoroutineBehind) {
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  // Warm up: the CPU pool starts its threads on first use.
  ASSERT_TRUE(rt.block_on(from_range(std::views::iota(0, 100)) | batch({.size = 10}) |
                          cpu([](std::vector<int> b) { return b; }) | sink([](std::vector<int>) {}))
                  .ok());
  const std::size_t threads_before = count_threads();

  std::string path = testing::TempDir() + "/sluice_early_stop.csv";
  {
    std::ofstream f(path);
    f << "id,name\n";
    for (int i = 0; i < 200'000; ++i) f << i << ",item-" << i << "\n";
  }
  auto state = std::make_shared<int>(0);  // shared by every function of the run
  std::vector<std::string> got;
  RunHandle run =
      rt.start(from_csv(path) |
               map_unordered(
                   [state](CsvRecord r) -> asio::awaitable<std::string> {
                     co_await sleep_for(100us);
                     co_return r.fields[1];
                   },
                   {.concurrency = 32}) |
               batch({.size = 4, .timeout = 1ms}) | cpu([state](std::vector<std::string> b) { return b; }) | take(5) |
               sink([&, state](std::vector<std::string> b) { got.insert(got.end(), b.begin(), b.end()); }));
  Status s = run.wait();
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_LE(got.size(), 20u);
  EXPECT_GT(got.size(), 0u);
  EXPECT_EQ(run.live_tasks(), 0u);
  EXPECT_EQ(count_threads(), threads_before) << "the file source's thread must be joined";
  // Every stage function (and so every coroutine frame and queued CPU task
  // holding one) has been destroyed.
  EXPECT_EQ(state.use_count(), 1);
}

TEST(Pipeline, SinkReturningStopEndsTheRunOk) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  int seen = 0;
  Status s = rt.block_on(from_range(std::views::iota(0)) |
                         sink([&](int) { return ++seen == 1000 ? Control::kStop : Control::kContinue; }));
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(seen, 1000);
}

TEST(Pipeline, StatsAreReadableWhileRunningAndCancelEndsTheRun) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  RunHandle run = rt.start(from_range(std::views::iota(0), {.name = "ids"}) |
                           map_unordered(
                               [](int v) -> asio::awaitable<int> {
                                 co_await sleep_for(1ms);
                                 co_return v;
                               },
                               {.name = "slow", .concurrency = 4}) |
                           sink([](int) {}, {.name = "drop"}));
  std::vector<StageStats> stats;
  auto until = std::chrono::steady_clock::now() + 10s;
  do {
    std::this_thread::sleep_for(5ms);
    stats = run.stats();
  } while (stats[2].items_in < 20 && std::chrono::steady_clock::now() < until);
  EXPECT_FALSE(run.done());
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].name, "ids");
  EXPECT_EQ(stats[1].name, "slow");
  EXPECT_EQ(stats[2].name, "drop");
  EXPECT_GE(stats[2].items_in, 20u);
  EXPECT_EQ(stats[0].queue_capacity, kDefaultCapacity);
  EXPECT_GT(stats[1].busy, 0ns);
  run.cancel();
  EXPECT_EQ(run.wait().code(), StatusCode::kCancelled);
  EXPECT_EQ(run.live_tasks(), 0u);
}

TEST(Pipeline, StageCountersAddUp) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  RunHandle run = rt.start(from_range(std::views::iota(0, 1000)) | filter([](int v) { return v % 4 != 0; }) |
                           batch({.size = 50}) | sink([](std::vector<int>) {}));
  ASSERT_TRUE(run.wait().ok());
  auto stats = run.stats();
  ASSERT_EQ(stats.size(), 4u);
  EXPECT_EQ(stats[0].items_out, 1000u);
  EXPECT_EQ(stats[1].items_in, 1000u);
  EXPECT_EQ(stats[1].items_out, 750u);
  EXPECT_EQ(stats[2].items_in, 750u);
  EXPECT_EQ(stats[2].items_out, 750u);  // counted in items, not batches
  EXPECT_EQ(stats[3].items_in, 15u);    // batches
}

}  // namespace
}  // namespace sluice
