// HTTP client throughput and CPU cost per request.
//
//   http_client_benchmark BASE_URL IN_FLIGHT SECONDS [PATH]
//
// Keeps IN_FLIGHT requests going on one event-loop thread for SECONDS and
// prints requests/s, this process's CPU time per request, and latency
// quantiles. Run the server in another process (bench/http_vs_wrk.sh) so
// its CPU is not counted here.
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <cstdlib>
#include <future>

#include "sluice/http/client.h"

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

boost::asio::awaitable<void> worker(sluice::http::Client c, std::string path, std::chrono::steady_clock::time_point end,
                                    std::atomic<std::uint64_t>* ok, std::atomic<std::uint64_t>* failed) {
  std::vector<std::pair<std::string, std::string>> query;  // PATH?k=v: one parameter
  if (auto q = path.find('?'); q != std::string::npos) {
    std::string kv = path.substr(q + 1);
    path.resize(q);
    auto eq = kv.find('=');
    query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
  while (std::chrono::steady_clock::now() < end) {
    auto r = co_await c.get(path, query);
    (r.ok() && r->status == 200 ? ok : failed)->fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: http_client_benchmark BASE_URL IN_FLIGHT SECONDS [PATH]\n");
    return 2;
  }
  const int in_flight = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  const std::string path = argc > 4 ? argv[4] : "/v1/items/12345";
  sluice::Runtime rt({.io_threads = 1, .cpu_threads = 1});
  auto client = sluice::http::Client::create(rt, {.base_url = argv[1],
                                                  .max_connections = static_cast<std::size_t>(in_flight),
                                                  .max_idle = static_cast<std::size_t>(in_flight),
                                                  .max_in_flight = static_cast<std::size_t>(in_flight)});
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().to_string().c_str());
    return 2;
  }
  std::atomic<std::uint64_t> ok{0}, failed{0};
  const double cpu0 = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::future<void>> done;
  for (int i = 0; i < in_flight; ++i) {
    done.push_back(
        boost::asio::co_spawn(rt.executor(), worker(*client, path, end, &ok, &failed), boost::asio::use_future));
  }
  for (auto& f : done) f.get();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;
  auto st = client->stats();
  std::printf(
      "sluice in_flight=%d requests=%llu failed=%llu requests_per_s=%.0f cpu_us_per_request=%.2f p50_us<=%lld "
      "p99_us<=%lld connections=%llu\n",
      in_flight, static_cast<unsigned long long>(ok.load()), static_cast<unsigned long long>(failed.load()),
      static_cast<double>(ok.load()) / wall, cpu * 1e6 / static_cast<double>(std::max<std::uint64_t>(1, ok.load())),
      static_cast<long long>(st.latency_quantile(0.5).count()),
      static_cast<long long>(st.latency_quantile(0.99).count()),
      static_cast<unsigned long long>(st.connections_opened));
  return failed.load() == 0 ? 0 : 1;
}
