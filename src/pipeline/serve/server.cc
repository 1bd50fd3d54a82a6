#include "pipeline/serve/server.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <map>
#include <thread>
#include <unordered_map>

#include "pipeline/run/lines.h"
#include "pipeline/serve/serve_request.h"
#include "sluice/detail/listen.h"
#include "sluice/detail/mutex.h"
#include "sluice/prometheus.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::deferred);
constexpr std::string_view kFeatures = "/v1/features";
constexpr std::string_view kDeadlineHeader = "X-Sluice-Deadline-Ms";

struct Reply {
  unsigned status = 200;
  std::string body;
  int retry_after = -1;  // seconds; -1: no header
  const char* type = "application/json";
};

Reply error_reply(unsigned status, std::string_view message) {
  return {status, "{\"error\":" + json_quote(message) + "}"};
}

// A Transfer-Encoding this server reads: none, or chunked alone.
bool only_chunked(std::string_view codings) {
  auto blank = [](char ch) { return ch == ' ' || ch == '\t'; };
  while (!codings.empty() && blank(codings.front())) codings.remove_prefix(1);
  while (!codings.empty() && blank(codings.back())) codings.remove_suffix(1);
  if (codings.empty()) return true;
  constexpr std::string_view kChunked = "chunked";
  return codings.size() == kChunked.size() &&
         std::equal(codings.begin(), codings.end(), kChunked.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

// A connection, as drain() and abort() reach it from other threads: they
// post to its strand, where `idle` and `stop_waiting` are read.
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {}
  tcp::socket socket;
  bool idle = false;                   // waiting for its next request
  std::function<void()> stop_waiting;  // while its records are under way: answer them now
  // Reads and writes that take too long are cancelled (not closed, so that
  // a client too slow to send its request can still be told 408).
  asio::steady_timer watchdog;
  bool timed_out = false;

  void arm(std::chrono::milliseconds limit, const std::shared_ptr<Connection>& self) {
    timed_out = false;
    watchdog.expires_after(limit);
    watchdog.async_wait([self](boost::system::error_code ec) {
      if (ec) return;  // disarmed
      self->timed_out = true;
      self->socket.cancel(ec);
    });
  }
  void disarm() { watchdog.cancel(); }
};

// A request's records under way. Their ends are posted to the request's
// strand, so `out`, `left` and the timer are only touched there.
struct Pending {
  Pending(const asio::any_io_executor& strand, std::size_t n) : timer(strand), out(n), left(n) {}
  asio::steady_timer timer;
  std::vector<std::string> out;
  std::size_t left;
  std::shared_ptr<std::atomic<bool>> given_up = std::make_shared<std::atomic<bool>>(false);
};

// How long records take now, estimated as TCP estimates a round trip
// (RFC 6298): a smoothed mean and mean deviation, mean + 4 deviations
// standing for the slow end of what a record starting now may take. An
// estimate older than a second says little: then it is 0, and a request is
// let through to measure anew (else a server that shed everything would
// never learn that it may stop).
class RecordTime {
 public:
  void add(std::chrono::microseconds took, Clock::time_point now) {
    const std::int64_t r = took.count();
    MutexLock lock(mu_);
    if (at_ == Clock::time_point()) {
      mean_ = r;
      deviation_ = r / 2;
    } else {
      deviation_ += (std::abs(mean_ - r) - deviation_) / 4;
      mean_ += (r - mean_) / 8;
    }
    at_ = now;
  }
  std::chrono::microseconds slow_end(Clock::time_point now) const {
    MutexLock lock(mu_);
    if (at_ == Clock::time_point() || now - at_ > std::chrono::seconds(1)) return {};
    return std::chrono::microseconds(mean_ + 4 * deviation_);
  }

 private:
  mutable Mutex mu_;
  std::int64_t mean_ SLUICE_GUARDED_BY(mu_) = 0;
  std::int64_t deviation_ SLUICE_GUARDED_BY(mu_) = 0;
  Clock::time_point at_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  const Plan& plan;
  Runtime& rt;
  RunRecord run;
  ServeOptions options;
  tcp::acceptor acceptor;
  const std::uint64_t max_under_way;

  std::atomic<bool> draining{false};
  // Coroutines started and not ended (sessions, records, the accept loop):
  // the destructor waits for none.
  std::atomic<std::uint64_t> tasks{0};
  Mutex mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections SLUICE_GUARDED_BY(mu);
  std::uint64_t next_connection SLUICE_GUARDED_BY(mu) = 0;
  std::function<void()> drained SLUICE_GUARDED_BY(mu);
  std::map<std::pair<std::string, unsigned>, std::uint64_t> replies SLUICE_GUARDED_BY(mu);  // (endpoint, status)

  std::atomic<std::uint64_t> read{0}, deadline_exceeded{0};
  EndCounts answered;  // records, by the outcome they were answered with
  std::atomic<std::uint64_t> requests{0}, bad{0}, shed{0}, accept_pauses{0}, idle_closed{0};
  // Accepting pauses this long after a failure for want of descriptors,
  // doubling while it goes on (each pause also closes idle connections).
  static constexpr std::chrono::milliseconds kFirstAcceptPause{10};
  static constexpr std::chrono::milliseconds kLastAcceptPause{500};
  std::atomic<std::uint64_t> under_way{0}, next_position{0};
  RecordTime record_time;
  LatencyHistogram latency, shed_latency;  // POST /v1/features answered 200, and 503

  Impl(const Plan& p, Runtime& r, RunRecord fn, ServeOptions o)
      : plan(p),
        rt(r),
        run(std::move(fn)),
        options(std::move(o)),
        acceptor(asio::make_strand(rt.io_context())),
        max_under_way(p.config.records_in_flight + p.config.queue_capacity) {}

  void count_reply(std::string_view endpoint, unsigned status) {
    requests.fetch_add(1, std::memory_order_relaxed);
    if (status >= 400 && status < 500) bad.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(mu);
    ++replies[{std::string(endpoint), status}];
  }

  // ---- connections ----------------------------------------------------------

  // A failed accept that another try at once would fail the same way, and
  // again: the process or the system is out of file descriptors or memory.
  static bool out_of_descriptors(const boost::system::error_code& ec) {
    if (ec.category() != asio::error::get_system_category()) return false;
    const int e = ec.value();
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
  }

  // Idle keep-alive connections (waiting for their next request) are
  // closed, to free their descriptors for connections that want an answer
  // now (a health check among them). Returns how many connections are open.
  std::size_t close_idle() {
    std::size_t n = 0;
    for (auto& c : open_connections()) {
      ++n;
      asio::post(c->socket.get_executor(), [c, self = shared_from_this()] {
        boost::system::error_code ignored;
        if (!c->idle) return;
        self->idle_closed.fetch_add(1, std::memory_order_relaxed);
        c->socket.cancel(ignored);
      });
    }
    return n;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer pause(acceptor.get_executor());
    auto backoff = kFirstAcceptPause;
    Clock::time_point warned{};
    std::uint64_t paused_since_warning = 0;
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(rt.io_context()), use_tuple);
      if (draining.load()) break;
      if (ec && !acceptor.is_open()) break;
      if (ec && out_of_descriptors(ec)) {
        // The connection stays in the listen queue and the acceptor stays
        // ready: trying again at once would spin a core. Idle connections
        // make room, and accepting pauses, longer while it goes on.
        accept_pauses.fetch_add(1, std::memory_order_relaxed);
        ++paused_since_warning;
        const std::size_t open = close_idle();
        const auto now = Clock::now();
        if (now - warned >= std::chrono::seconds(1) && options.on_warning) {
          options.on_warning("cannot take a connection: " + errno_text(ec.value()) + " (" + std::to_string(open) +
                             " connections open); closing idle keep-alive connections, pausing accepts (" +
                             std::to_string(paused_since_warning) + " times in the last second at most)");
          warned = now;
          paused_since_warning = 0;
        }
        pause.expires_after(backoff);
        co_await pause.async_wait(use_tuple);
        backoff = std::min(2 * backoff, kLastAcceptPause);
        continue;
      }
      if (ec) continue;  // one connection's trouble (reset before it was taken): the next
      backoff = kFirstAcceptPause;
      socket.set_option(tcp::no_delay(true), ec);
      auto c = std::make_shared<Connection>(std::move(socket));
      std::uint64_t id = 0;
      {
        MutexLock lock(mu);
        id = next_connection++;
        connections.emplace(id, c);
      }
      tasks.fetch_add(1, std::memory_order_relaxed);
      auto ex = c->socket.get_executor();
      asio::co_spawn(ex, session(std::move(c), id), asio::detached);
    }
    tasks.fetch_sub(1, std::memory_order_release);
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> c, std::uint64_t id) {
    auto self = shared_from_this();
    FeaturesRequestReader reader(plan);
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(16 * 1024);
      if (draining.load()) break;
      c->idle = true;
      c->arm(options.read_timeout, c);
      auto [ec, n] = co_await bhttp::async_read_header(c->socket, buffer, parser, use_tuple);
      c->idle = false;
      if (!ec && !only_chunked(parser.get()[bhttp::field::transfer_encoding])) {
        // A coding the body would have to be decoded from (RFC 9112: 501):
        // read as plain chunked, its bytes would be taken for the request.
        c->disarm();
        count_reply("", 501);
        co_await send(
            c, parser.get().version(),
            error_reply(501, "Transfer-Encoding '" + std::string(parser.get()[bhttp::field::transfer_encoding]) +
                                 "' is not supported: send the body as it is, or chunked"),
            false);
        break;
      }
      if (!ec && !parser.is_done()) {
        if (parser.get()[bhttp::field::expect] == "100-continue") {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [wec, wn] = co_await asio::async_write(c->socket, asio::buffer(kContinue), use_tuple);
          ec = wec;
        }
        if (!ec) std::tie(ec, n) = co_await bhttp::async_read(c->socket, buffer, parser, use_tuple);
      }
      c->disarm();
      if (ec) {
        // What the client is told, if it is worth telling: then the
        // connection closes (what follows on it cannot be trusted).
        std::optional<Reply> why;
        const bool begun = parser.got_some() || buffer.size() > 0;  // else the client closed between requests
        if (!begun || ec == bhttp::error::end_of_stream) {
          // nothing to answer
        } else if (ec == bhttp::error::body_limit) {
          why = error_reply(413, "the body is larger than " + std::to_string(options.max_body_bytes) + " bytes");
        } else if (ec == bhttp::error::header_limit) {
          why = error_reply(431, "the header is larger than 16 KiB");
        } else if (c->timed_out) {
          why = error_reply(
              408, "the request was not read whole within " + std::to_string(options.read_timeout.count()) + " ms");
        } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
          why = error_reply(400, "malformed HTTP request: " + ec.message());
        }
        if (why && !draining.load()) {
          count_reply("", why->status);
          co_await send(c, 11, std::move(*why), false);
        }
        break;
      }
      bhttp::request<bhttp::string_body> req = parser.release();
      const auto t0 = Clock::now();
      auto [endpoint, reply] = co_await handle(*c, req, reader);
      const bool keep_alive = req.keep_alive() && !draining.load();
      const unsigned status = reply.status;
      const bool sent = co_await send(c, req.version(), std::move(reply), keep_alive);
      if (endpoint == kFeatures && (status == 200 || status == 503)) {
        (status == 200 ? latency : shed_latency)
            .record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
      }
      if (!sent || !keep_alive) break;
    }
    boost::system::error_code ignored;
    c->disarm();
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    ended_connection(id);
    tasks.fetch_sub(1, std::memory_order_release);
  }

  std::vector<std::shared_ptr<Connection>> open_connections() {
    std::vector<std::shared_ptr<Connection>> open;
    MutexLock lock(mu);
    for (auto& [id, weak] : connections) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    return open;
  }

  void stop_accepting() {
    draining = true;
    asio::post(acceptor.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor.close(ignored);
    });
  }

  void ended_connection(std::uint64_t id) {
    std::function<void()> call;
    {
      MutexLock lock(mu);
      connections.erase(id);
      if (connections.empty() && drained) call = std::exchange(drained, nullptr);
    }
    if (call) call();
  }

  asio::awaitable<bool> send(const std::shared_ptr<Connection>& c, unsigned version, Reply r, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "sluice");
    res.set(bhttp::field::content_type, r.type);
    if (r.retry_after >= 0) res.set(bhttp::field::retry_after, std::to_string(r.retry_after));
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    c->arm(options.read_timeout, c);  // a client that does not read its answer is let go
    auto [ec, n] = co_await bhttp::async_write(c->socket, res, use_tuple);
    c->disarm();
    co_return !ec;
  }

  // ---- requests -------------------------------------------------------------

  // The answer to one request, and the endpoint it counts under.
  asio::awaitable<std::pair<std::string_view, Reply>> handle(Connection& c,
                                                             const bhttp::request<bhttp::string_body>& req,
                                                             const FeaturesRequestReader& reader) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    std::string_view endpoint = path;
    Reply reply;
    if (path == kFeatures) {
      if (req.method() != bhttp::verb::post) {
        reply = error_reply(405, "POST a record, or {\"records\": [...]}, to /v1/features");
      } else {
        reply = co_await features(c, req, reader);
      }
    } else if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
      if (req.method() != bhttp::verb::get) {
        reply = error_reply(405, "GET " + std::string(path));
      } else if (path == "/healthz") {
        reply = {200, "ok\n", -1, "text/plain"};
      } else if (path == "/readyz") {
        reply = draining.load() ? Reply{503, "draining\n", -1, "text/plain"} : Reply{200, "ready\n", -1, "text/plain"};
      } else {
        reply = {200, metrics_page(), -1, "text/plain; version=0.0.4"};
      }
    } else {
      endpoint = "";
      reply = error_reply(
          404, "no such endpoint: " + std::string(path) + " (POST /v1/features; GET /healthz, /readyz, /metrics)");
    }
    count_reply(endpoint, reply.status);
    co_return std::pair{endpoint, std::move(reply)};
  }

  asio::awaitable<Reply> features(Connection& c, const bhttp::request<bhttp::string_body>& req,
                                  const FeaturesRequestReader& reader) {
    const auto received = Clock::now();
    Result<FeaturesRequest> asked = reader.read(req.body(), options.max_records);
    if (!asked.ok()) co_return error_reply(400, asked.status().message());
    std::chrono::milliseconds budget = plan.config.serve_deadline;
    if (asked->deadline) {
      budget = *asked->deadline;
    } else if (auto h = req.find(kDeadlineHeader); h != req.end()) {
      std::int64_t ms = 0;
      const std::string_view v(h->value().data(), h->value().size());
      const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (err != std::errc() || end != v.data() + v.size() || ms <= 0 || ms > 3'600'000) {
        co_return error_reply(
            400, std::string(kDeadlineHeader) + ": expected a whole number of milliseconds from 1 to 3600000");
      }
      budget = std::chrono::milliseconds(ms);
    }
    std::vector<Record>& records = asked->records;
    // Shed at once what cannot be done in time: too many records under way,
    // or records taking longer now than this request may wait.
    const std::uint64_t n = records.size();
    const std::chrono::microseconds recent = record_time.slow_end(Clock::now());
    // (A request alone is always taken: one over the bound, up to
    // max_records, would otherwise never be.)
    const std::uint64_t now = under_way.load(std::memory_order_relaxed);
    if ((now > 0 && now + n > max_under_way) || recent > budget) {
      shed.fetch_add(1, std::memory_order_relaxed);
      Reply r = error_reply(503, "overloaded: records now take up to " + std::to_string(recent.count() / 1000) +
                                     " ms, " + std::to_string(under_way.load()) + " are under way; try again later");
      r.retry_after = 1;
      co_return r;
    }
    read.fetch_add(n, std::memory_order_relaxed);
    std::vector<std::string> out = co_await answer(c, std::move(records), received + budget, budget);
    std::string body;
    if (asked->list) {
      body = "{\"results\":[";
      for (std::size_t i = 0; i < out.size(); ++i) (body += i ? "," : "") += out[i];
      body += "]}";
    } else {
      body = std::move(out.front());
    }
    co_return Reply{200, std::move(body)};
  }

  // Every record through the engine at once; each one's outcome, or, for
  // those not ended by `deadline`, a deadline error (and they are given up:
  // no further request is sent for them).
  asio::awaitable<std::vector<std::string>> answer(Connection& c, std::vector<Record> records,
                                                   Clock::time_point deadline, std::chrono::milliseconds budget) {
    auto strand = co_await asio::this_coro::executor;
    auto p = std::make_shared<Pending>(strand, records.size());
    std::vector<std::string> keys;
    keys.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      Record& r = records[i];
      keys.push_back(key_json(plan, r));
      r.position = next_position.fetch_add(1, std::memory_order_relaxed);
      r.given_up = p->given_up;
      under_way.fetch_add(1, std::memory_order_relaxed);
      tasks.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(rt.executor(), one(shared_from_this(), p, i, std::move(r), strand), asio::detached);
    }
    if (p->left > 0) {
      c.stop_waiting = [p] { p->timer.cancel(); };
      p->timer.expires_at(deadline);
      co_await p->timer.async_wait(use_tuple);
      c.stop_waiting = nullptr;
    }
    if (p->left > 0) {
      p->given_up->store(true, std::memory_order_relaxed);
      for (std::size_t i = 0; i < p->out.size(); ++i) {
        if (!p->out[i].empty()) continue;
        p->out[i] = "{\"status\":\"error\",\"key\":" + keys[i] +
                    ",\"error\":" + json_quote("deadline: not done within " + std::to_string(budget.count()) + " ms") +
                    "}";
        deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
        answered.dead.fetch_add(1, std::memory_order_relaxed);
      }
    }
    co_return std::move(p->out);
  }

  // One record through the engine; its line handed to its request's strand.
  static asio::awaitable<void> one(std::shared_ptr<Impl> self, std::shared_ptr<Pending> p, std::size_t i, Record r,
                                   asio::any_io_executor strand) {
    const auto t0 = Clock::now();
    Record done = co_await self->run(std::move(r));
    self->ended(Clock::now() - t0);
    std::string line = outcome_json(self->plan, done, /*line=*/false);
    const Record::Outcome outcome = done.outcome;
    asio::post(strand, [self, p = std::move(p), i, outcome, line = std::move(line)]() mutable {
      if (!p->given_up->load(std::memory_order_relaxed)) {
        self->answered.add(outcome);
        p->out[i] = std::move(line);
        if (--p->left == 0) p->timer.cancel();
      }
      self->tasks.fetch_sub(1, std::memory_order_release);
    });
  }

  void ended(Clock::duration took) {
    under_way.fetch_sub(1, std::memory_order_relaxed);
    record_time.add(std::chrono::duration_cast<std::chrono::microseconds>(took), Clock::now());
  }

  std::string metrics_page() {
    PrometheusText page;
    page.family("sluice_serve_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
    {
      MutexLock lock(mu);
      for (const auto& [key, n] : replies) {
        const std::string code = std::to_string(key.second);
        page.sample(
            "sluice_serve_requests_total",
            {{"endpoint", key.first.empty() ? std::string_view("other") : std::string_view(key.first)}, {"code", code}},
            n);
      }
    }
    page.family("sluice_serve_request_duration_seconds", "histogram",
                "POST /v1/features answered 200, and shed (503): from its last byte read to its answer written.");
    page.seconds("sluice_serve_request_duration_seconds", {{"endpoint", "/v1/features"}, {"code", "200"}},
                 latency.snapshot());
    page.seconds("sluice_serve_request_duration_seconds", {{"endpoint", "/v1/features"}, {"code", "503"}},
                 shed_latency.snapshot());
    auto one = [&page](const char* name, const char* type, const char* help, std::uint64_t value) {
      page.family(name, type, help);
      page.sample(name, {}, value);
    };
    one("sluice_serve_shed_total", "counter", "Requests answered 503 at once: they could not be done in time.",
        shed.load());
    one("sluice_serve_deadline_exceeded_total", "counter", "Records answered with a deadline error.",
        deadline_exceeded.load());
    one("sluice_serve_accept_pauses_total", "counter",
        "Times accepting paused for want of a file descriptor (the open-file limit).", accept_pauses.load());
    one("sluice_serve_idle_closed_total", "counter", "Idle keep-alive connections closed to make room for new ones.",
        idle_closed.load());
    one("sluice_serve_records_under_way", "gauge", "Records of requests being answered.", under_way.load());
    one("sluice_serve_ready", "gauge", "1 while new requests are taken, 0 while draining.", draining.load() ? 0 : 1);
    if (options.metrics) page.append(options.metrics());
    return std::move(page).text();
  }
};

Result<std::unique_ptr<Server>> Server::start(const Plan& plan, Runtime& rt, RunRecord run, ServeOptions options) {
  auto impl = std::make_shared<Impl>(plan, rt, std::move(run), std::move(options));
  SLUICE_RETURN_IF_ERROR(detail::listen_on(impl->acceptor, impl->options.address, impl->options.port), "--listen");
  const std::uint16_t port = impl->acceptor.local_endpoint().port();
  impl->tasks.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(impl->acceptor.get_executor(), impl->accept_loop(), asio::detached);
  if (impl->options.listening) impl->options.listening(port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  while (impl_->tasks.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::drain(std::function<void()> drained) {
  Impl& s = *impl_;
  s.stop_accepting();
  {
    MutexLock lock(s.mu);
    if (s.connections.empty()) {
      asio::post(s.rt.executor(), std::move(drained));
    } else {
      s.drained = std::move(drained);
    }
  }
  for (auto& c : s.open_connections()) {
    asio::post(c->socket.get_executor(), [c] {
      boost::system::error_code ignored;
      if (c->idle) c->socket.cancel(ignored);  // busy ones end after their answer
    });
  }
}

void Server::abort() {
  Impl& s = *impl_;
  s.stop_accepting();
  for (auto& c : s.open_connections()) {
    asio::post(c->socket.get_executor(), [c] {
      if (c->stop_waiting) c->stop_waiting();
      boost::system::error_code ignored;
      c->socket.cancel(ignored);
    });
  }
}

JobProgress Server::counts() const {
  const Impl& s = *impl_;
  JobProgress p;
  p.read = s.read.load();
  p.written = s.answered.written.load();
  p.filtered = s.answered.filtered.load();
  p.not_joined = s.answered.not_joined.load();
  p.dead_lettered = s.answered.dead.load();
  p.unfinished = s.answered.unfinished.load();
  p.records_in_flight = s.under_way.load();
  return p;
}

ServeStats Server::stats() const {
  const Impl& s = *impl_;
  return {.requests = s.requests.load(),
          .bad_requests = s.bad.load(),
          .shed = s.shed.load(),
          .deadline_exceeded = s.deadline_exceeded.load(),
          .accept_pauses = s.accept_pauses.load(),
          .idle_closed = s.idle_closed.load(),
          .latency = s.latency.snapshot(),
          .shed_latency = s.shed_latency.snapshot()};
}

}  // namespace sluice::pipeline
