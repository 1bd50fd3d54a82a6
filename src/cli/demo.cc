#include "demo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ranges>
#include <string>
#include <vector>

#include "../mockapi/workload.h"
#include "log.h"
#include "sluice/pipeline.h"
#include "sluice/sleep.h"

namespace sluice::cli {

void add_demo_options(CLI::App& cmd, DemoOptions& o) {
  cmd.add_option("--records", o.records, "records to process")->check(CLI::Range(1, 100'000'000));
  cmd.add_option_function<std::uint64_t>(
         "--latency-us", [&o](std::uint64_t us) { o.latency = std::chrono::microseconds(us); },
         "simulated latency of each API call (default " + std::to_string(o.latency.count()) + ")")
      ->check(CLI::Range(0, 10'000'000));
  cmd.add_option("--in-flight", o.in_flight, "calls in flight at once")->check(CLI::Range(1, 100'000));
  cmd.add_option("--cpu-threads", o.cpu_threads, "CPU pool threads (0: automatic)")->check(CLI::Range(0, 1024));
}
namespace {

using mockapi::mix;

struct Item {
  std::uint64_t id;
  double score;
  std::uint64_t pages;
};

struct Features {
  std::uint64_t id;
  double score;
  std::size_t n_events;
  double v_mean, v_std, v_p50, v_p99;
};

constexpr std::size_t kEventsPerPage = 200;

// Stands in for GET /v1/items/{id} until the HTTP client exists: the same
// answer as the reference workload's API, after a simulated latency.
boost::asio::awaitable<Item> fetch_item(std::uint64_t id, std::chrono::microseconds latency) {
  co_await sleep_for(latency);
  std::uint64_t h = mix(id);
  co_return Item{id, static_cast<double>(h % 1000) / 1000.0, 1 + (h >> 16) % 4};
}

// The CPU-heavy part: every event of every page, then moments and exact quantiles.
Features aggregate(const Item& item) {
  std::vector<double> v;
  v.reserve(item.pages * kEventsPerPage);
  for (std::uint64_t j = 0; j < item.pages * kEventsPerPage; ++j) {
    v.push_back(static_cast<double>(mix((item.id << 10) | j) % 1000000) / 1000.0);
  }
  double sum = 0;
  for (double x : v) sum += x;
  double mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  std::sort(v.begin(), v.end());
  auto q = [&](double p) { return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]; };
  return {item.id, item.score, v.size(), mean, std::sqrt(sq / static_cast<double>(v.size())), q(0.5), q(0.99)};
}

}  // namespace

int run_demo(const DemoOptions& options) {
  Result<RuntimeOptions> ro = Runtime::resolve({.io_threads = 1, .cpu_threads = options.cpu_threads});
  if (!ro.ok()) {
    log_error(ro.status().message());
    return 2;
  }
  Runtime rt(*ro);
  std::vector<Features> rows;
  auto latency = options.latency;
  auto started = std::chrono::steady_clock::now();

  auto pipeline =
      from_range(std::views::iota(std::uint64_t{1}, options.records + 1), {.name = "records"}) |
      map_unordered([latency](std::uint64_t id) { return fetch_item(id, latency); },
                    {.name = "fetch", .concurrency = options.in_flight}) |
      filter([](const Item& it) { return it.score >= 0.3; }, {.name = "keep"}) |
      batch({.name = "batch", .size = 64, .timeout = std::chrono::milliseconds(20)}) |
      cpu(
          [](const std::vector<Item>& items) {
            std::vector<Features> out;
            out.reserve(items.size());
            for (const Item& it : items) out.push_back(aggregate(it));
            return out;
          },
          {.name = "aggregate"}) |
      sink([&rows](std::vector<Features> fs) { rows.insert(rows.end(), fs.begin(), fs.end()); }, {.name = "collect"});

  RunHandle run = rt.start(std::move(pipeline));
  Status status = run.wait();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!status.ok()) {
    log_error(status.to_string());
    return 1;
  }

  std::sort(rows.begin(), rows.end(), [](const Features& a, const Features& b) { return a.id < b.id; });
  std::printf("%-8s %-6s %-8s %-9s %-9s %-9s %-9s\n", "id", "score", "n_events", "v_mean", "v_std", "v_p50", "v_p99");
  for (const Features& f : rows | std::views::take(5)) {
    std::printf("%-8llu %-6.3f %-8zu %-9.3f %-9.3f %-9.3f %-9.3f\n", static_cast<unsigned long long>(f.id), f.score,
                f.n_events, f.v_mean, f.v_std, f.v_p50, f.v_p99);
  }
  std::printf("\n%-10s %10s %10s %10s %12s\n", "stage", "in", "out", "busy_ms", "queue");
  for (const StageStats& s : run.stats()) {
    std::printf("%-10s %10llu %10llu %10.1f %5zu/%-6zu\n", s.name.c_str(), static_cast<unsigned long long>(s.items_in),
                static_cast<unsigned long long>(s.items_out), std::chrono::duration<double, std::milli>(s.busy).count(),
                s.queue_depth, s.queue_capacity);
  }
  std::printf("\n%llu records, %zu kept, in %.2f s (%.0f records/s; %zu in flight, %lld us latency, %d CPU threads)\n",
              static_cast<unsigned long long>(options.records), rows.size(), seconds,
              static_cast<double>(options.records) / seconds, options.in_flight,
              static_cast<long long>(options.latency.count()), rt.cpu_threads());
  return 0;
}

}  // namespace sluice::cli
