// An open-loop load generator for `sluice serve`: requests are sent at
// Poisson arrival times at a set rate, whether or not earlier ones have been
// answered (a closed-loop tool such as wrk or hey waits for an answer before
// the next request on a connection, and so hides the queueing a server under
// load builds up). Latency is measured from each request's scheduled time, so
// a generator that falls behind counts against the server, never for it.
//
//   serve_load PORT RATE SECONDS [IDS] [DEADLINE_MS] [RECORDS_PER_REQUEST]
//   serve_load --direct API_PORT RATE SECONDS [IDS]
//
// --direct asks the mock API itself what a record of the reference workload
// needs (its item, then, if kept, every page of its events at once) at the
// same arrival times: the upstream critical path as this machine serves it
// under that load, which sluice's end-to-end latency is compared with.
//
// Each request asks for RECORDS_PER_REQUEST (1) random ids in 1..IDS (2000)
// of the reference workload, with deadline_ms DEADLINE_MS (0: the server's
// default). A request is sent on an idle keep-alive connection, or a new one.
// Prints one JSON object: requests sent and how they ended, the rate reached,
// percentiles (within 1%) of every answered request's latency, of the shed
// ones', and "two_rounds": the latency of the single records written with
// events, whose critical path is the item then its pages (with --direct, of
// the records kept that have pages: the same records, the same path).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sluice/histogram.h"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

struct Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
};

struct Load {
  asio::io_context io;
  tcp::endpoint server;
  std::vector<std::unique_ptr<Connection>> idle;
  std::uint64_t sent = 0, ok = 0, shed = 0, deadline = 0, failed = 0, outstanding = 0;
  sluice::LatencyCounts answered, shed_latency, two_rounds;

  // An idle keep-alive connection, or a new one (null: it could not connect).
  asio::awaitable<std::unique_ptr<Connection>> connection() {
    if (!idle.empty()) {
      std::unique_ptr<Connection> c = std::move(idle.back());
      idle.pop_back();
      co_return c;
    }
    auto c = std::make_unique<Connection>(io);
    auto [ec] = co_await c->socket.async_connect(server, use_tuple);
    if (ec) co_return nullptr;
    c->socket.set_option(tcp::no_delay(true), ec);
    co_return c;
  }

  asio::awaitable<void> one(std::string body, Clock::time_point scheduled, bool single) {
    std::unique_ptr<Connection> c = co_await connection();
    if (!c) {
      ++failed;
      --outstanding;
      co_return;
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/features", 11};
    req.set(bhttp::field::host, "sluice");
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(c->socket, req, use_tuple);
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code rec = wec;
    if (!rec) std::tie(rec, wn) = co_await bhttp::async_read(c->socket, c->buffer, res, use_tuple);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - scheduled);
    --outstanding;
    if (rec) {
      ++failed;
      co_return;
    }
    const std::string& b = res.body();
    if (res.result_int() == 503) {
      ++shed;
      shed_latency.add(static_cast<std::uint64_t>(took.count()));
    } else if (res.result_int() != 200) {
      ++failed;
    } else {
      answered.add(static_cast<std::uint64_t>(took.count()));
      if (b.find("\"deadline: ") != std::string::npos) {
        ++deadline;
      } else {
        ++ok;
        // Written, with events: two rounds of the API's latency.
        if (single && b.starts_with("{\"status\":\"ok\"") && b.find("\"n_events\":0,") == std::string::npos) {
          two_rounds.add(static_cast<std::uint64_t>(took.count()));
        }
      }
    }
    if (res.keep_alive()) idle.push_back(std::move(c));
  }

  // GET `target` on a connection of the idle list (or a new one): the body,
  // or nothing when it failed.
  asio::awaitable<std::optional<std::string>> get(std::string target) {
    std::unique_ptr<Connection> c = co_await connection();
    if (!c) co_return std::nullopt;
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "api");
    auto [wec, wn] = co_await bhttp::async_write(c->socket, req, use_tuple);
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code rec = wec;
    if (!rec) std::tie(rec, wn) = co_await bhttp::async_read(c->socket, c->buffer, res, use_tuple);
    if (rec || res.result_int() != 200) co_return std::nullopt;
    if (res.keep_alive()) idle.push_back(std::move(c));
    co_return std::move(res.body());
  }

  // The API's critical path for one record, as the pipeline walks it.
  asio::awaitable<void> direct(std::uint64_t id, Clock::time_point scheduled) {
    const std::string item_path = "/v1/items/" + std::to_string(id);
    std::optional<std::string> item = co_await get(item_path);
    if (!item) {
      ++failed;
      --outstanding;
      co_return;
    }
    auto number = [&](const char* key) {
      const auto at = item->find(key);
      return at == std::string::npos ? 0.0 : std::atof(item->c_str() + at + std::strlen(key));
    };
    const auto pages = static_cast<int>(number("\"pages\":"));
    if (number("\"score\":") >= 0.3 && pages > 0) {
      auto left = std::make_shared<int>(pages);
      asio::steady_timer all_in(io, Clock::time_point::max());
      for (int p = 0; p < pages; ++p) {
        asio::co_spawn(
            io,
            [](Load* self, std::string target, std::shared_ptr<int> left,
               asio::steady_timer* all_in) -> asio::awaitable<void> {
              if (!co_await self->get(std::move(target))) ++self->failed;
              if (--*left == 0) all_in->cancel();
            }(this, item_path + "/events?page=" + std::to_string(p), left, &all_in),
            asio::detached);
      }
      co_await all_in.async_wait(use_tuple);
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - scheduled);
      two_rounds.add(static_cast<std::uint64_t>(took.count()));
    }
    ++ok;
    --outstanding;
  }

  asio::awaitable<void> schedule(double rate, double seconds, std::uint64_t ids, int deadline_ms, int per_request,
                                 bool to_api = false) {
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> gap(rate);
    std::uniform_int_distribution<std::uint64_t> id(1, ids);
    asio::steady_timer timer(io);
    const auto start = Clock::now() + std::chrono::milliseconds(50);
    double at = 0;
    for (;;) {
      at += gap(rng);
      if (at >= seconds) break;
      const auto when = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
      timer.expires_at(when);
      co_await timer.async_wait(use_tuple);
      if (to_api) {
        ++sent;
        ++outstanding;
        asio::co_spawn(io, direct(id(rng), when), asio::detached);
        continue;
      }
      std::string body;
      if (per_request == 1) {
        body = "{\"id\":" + std::to_string(id(rng));
      } else {
        body = "{\"records\":[";
        for (int i = 0; i < per_request; ++i) body += (i ? ",{\"id\":" : "{\"id\":") + std::to_string(id(rng)) + "}";
        body += "]";
      }
      if (deadline_ms > 0) body += ",\"deadline_ms\":" + std::to_string(deadline_ms);
      body += "}";
      ++sent;
      ++outstanding;
      asio::co_spawn(io, one(std::move(body), when, per_request == 1), asio::detached);
    }
  }
};

std::string percentiles(const sluice::LatencyCounts& c) {
  char buf[256];
  auto ms = [&](double q) { return static_cast<double>(c.quantile(q).count()) / 1000.0; };
  std::snprintf(buf, sizeof buf, "{\"n\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}",
                static_cast<unsigned long long>(c.count()), ms(0.5), ms(0.9), ms(0.99), ms(0.999));
  return buf;
}

int run(int argc, char** argv) {
  const bool to_api = argc > 1 && std::string(argv[1]) == "--direct";
  if (to_api) --argc, ++argv;
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: serve_load PORT RATE SECONDS [IDS] [DEADLINE_MS] [RECORDS_PER_REQUEST]\n"
                 "       serve_load --direct API_PORT RATE SECONDS [IDS]\n");
    return 2;
  }
  Load load;
  load.server = tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::atoi(argv[1])));
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const std::uint64_t ids = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 2000;
  const int deadline_ms = argc > 5 ? std::atoi(argv[5]) : 0;
  const int per_request = argc > 6 ? std::max(1, std::atoi(argv[6])) : 1;
  const auto t0 = Clock::now();
  asio::co_spawn(load.io, load.schedule(rate, seconds, ids, deadline_ms, per_request, to_api), asio::detached);
  load.io.run();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "{\"rate\":%.0f,\"seconds\":%.1f,\"sent\":%llu,\"ok\":%llu,\"deadline\":%llu,\"shed\":%llu,\"failed\":%llu,"
      "\"answered_per_s\":%.0f,\"latency\":%s,\"two_rounds\":%s,\"shed_latency\":%s}\n",
      rate, took, static_cast<unsigned long long>(load.sent), static_cast<unsigned long long>(load.ok),
      static_cast<unsigned long long>(load.deadline), static_cast<unsigned long long>(load.shed),
      static_cast<unsigned long long>(load.failed), static_cast<double>(load.ok + load.deadline) / seconds,
      percentiles(load.answered).c_str(), percentiles(load.two_rounds).c_str(), percentiles(load.shed_latency).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_load: %s\n", e.what());
    return 1;
  }
}
