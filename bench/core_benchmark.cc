// Runtime core benchmarks: channel throughput and per-item pipeline overhead.
//
//   build/release/bench/core_benchmark
//
// Targets (issue 2): >= 5 million items/s through a bounded channel between
// two coroutines on one thread; <= 1 us per item through
// source -> map -> batch(256) -> cpu -> sink.
#include <benchmark/benchmark.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <ranges>
#include <thread>

#include "sluice/pipeline.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
constexpr int kItems = 1'000'000;

asio::awaitable<void> produce(std::shared_ptr<Channel<std::int64_t>> ch, int n) {
  for (int i = 0; i < n; ++i) co_await ch->send(i);
  ch->close();
}

asio::awaitable<std::int64_t> consume(std::shared_ptr<Channel<std::int64_t>> ch) {
  std::int64_t sum = 0;
  while (auto v = co_await ch->receive()) sum += *v;
  co_return sum;
}

// Two coroutines on one event-loop thread.
void BM_ChannelOneThread(benchmark::State& state) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  const auto capacity = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto ch = std::make_shared<Channel<std::int64_t>>(capacity);
    asio::co_spawn(rt.executor(), produce(ch, kItems), asio::detached);
    benchmark::DoNotOptimize(rt.block_on(consume(ch)));
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_ChannelOneThread)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// Producer and consumer coroutines on two event-loop threads.
void BM_ChannelTwoThreads(benchmark::State& state) {
  Runtime rt({.io_threads = 2, .cpu_threads = 1});
  const auto capacity = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto ch = std::make_shared<Channel<std::int64_t>>(capacity);
    asio::co_spawn(asio::make_strand(rt.io_context()), produce(ch, kItems), asio::detached);
    benchmark::DoNotOptimize(asio::co_spawn(asio::make_strand(rt.io_context()), consume(ch), asio::use_future).get());
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_ChannelTwoThreads)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// A blocking thread (as a file source is) feeding a coroutine.
void BM_ChannelBlockingToCoroutine(benchmark::State& state) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  for (auto _ : state) {
    auto ch = std::make_shared<Channel<std::int64_t>>(1024);
    std::thread producer([ch] {
      for (int i = 0; i < kItems; ++i) ch->send_blocking(i);
      ch->close();
    });
    benchmark::DoNotOptimize(rt.block_on(consume(ch)));
    producer.join();
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_ChannelBlockingToCoroutine)->Unit(benchmark::kMillisecond)->UseRealTime();

// source -> map -> batch(256) -> cpu -> sink; the work per item is trivial,
// so the time is the pipeline's own overhead.
void BM_PipelineOverhead(benchmark::State& state) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  for (auto _ : state) {
    std::int64_t total = 0;
    Status s = rt.block_on(
        from_range(std::views::iota(0, kItems)) | map([](int v) { return static_cast<std::int64_t>(v) * 3; }) |
        batch({.size = 256, .timeout = std::chrono::milliseconds(50)}) | cpu([](std::vector<std::int64_t> b) {
          std::int64_t sum = 0;
          for (auto v : b) sum += v;
          return sum;
        }) |
        sink([&](std::int64_t sum) { total += sum; }));
    if (!s.ok()) state.SkipWithError(s.to_string().c_str());
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_PipelineOverhead)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace sluice
