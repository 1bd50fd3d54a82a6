#include "sluice/http/client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <cmath>
#include <random>

#include "governor.h"
#include "response_parser.h"
#include "sluice/byte_budget.h"
#include "sluice/detail/mutex.h"
#include "sluice/semaphore.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::deferred);

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Idempotent methods may be sent again after a kept-alive connection turned
// out closed; POST may not.
bool idempotent(Method m) { return m != Method::kPost; }

// A connection: plain TCP, or TLS over TCP.
struct Connection {
  explicit Connection(const asio::any_io_executor& ex) : plain(std::in_place, ex) {}
  Connection(const asio::any_io_executor& ex, asio::ssl::context& ctx)
      : secure(std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, ctx)) {}

  // Beast reads as much as the buffer has room for, at least 512 bytes: a
  // buffer that small takes an 8 KB answer in 16 reads, while one large
  // buffer per connection costs cache misses with hundreds of connections
  // and small answers. So a connection's buffer grows to the size of the
  // answers it gets, up to 64 KiB.
  void fit_buffer(std::size_t answer_bytes) {
    constexpr std::size_t kMax = std::size_t{64} * 1024;
    if (answer_bytes > buffer.capacity() && buffer.capacity() < kMax) {
      buffer.reserve(std::min(kMax, std::bit_ceil(answer_bytes)));
    }
  }
  beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }

  std::optional<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool reused = false;
};

// What one attempt came to.
struct Outcome {
  FailureKind failure = FailureKind::kNone;
  std::string what;  // for the error message
  std::optional<Response> response;
  std::optional<std::chrono::milliseconds> retry_after;
  bool before_response = false;   // failed before any byte of an answer (safe to resend)
  bool deadline_passed = false;   // a timeout of the attempt's deadline, not of read_timeout
  Clock::duration memory_wait{};  // waited for the receive budget (moves the request's deadline)
  bool keep_alive = true;         // the server lets the connection be reused
};

}  // namespace

std::string_view to_string(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
  }
  return "?";
}

std::string_view to_string(FailureKind k) {
  switch (k) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kClosed:
      return "closed";
    case FailureKind::kProtocol:
      return "protocol";
    case FailureKind::kTooLarge:
      return "too_large";
    case FailureKind::kStatus:
      return "status";
    case FailureKind::kCount:
      break;
  }
  return "?";
}

std::string_view Response::header(std::string_view name) const {
  std::string_view rest = header_block;
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    if (line.size() > name.size() + 1 && line.starts_with(name) && line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
  }
  return {};
}

std::chrono::microseconds ClientStats::latency_quantile(double q) const {
  std::uint64_t total = 0;
  for (auto n : latency_us_log2) total += n;
  if (total == 0) return std::chrono::microseconds(0);
  auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < latency_us_log2.size(); ++i) {
    seen += latency_us_log2[i];
    if (seen >= want) return std::chrono::microseconds(std::int64_t{1} << i);
  }
  return std::chrono::microseconds(std::int64_t{1} << 31);
}

struct Client::State {
  State(Runtime& r, ClientOptions o)
      : rt(r), options(std::move(o)), governor(options, Clock::now()), slots(options.max_connections) {}

  Runtime& rt;
  ClientOptions options;
  std::string scheme, host, port, host_header, base_path;
  std::optional<asio::ssl::context> tls;  // https only
  std::string fixed_headers;              // Host, User-Agent, Accept-Encoding and the client's headers
  OriginGovernor governor;                // in-flight limit, retry budget, outage gate
  AsyncSemaphore slots;                   // one per connection in use
  Mutex mu;
  std::vector<std::unique_ptr<Connection>> idle SLUICE_GUARDED_BY(mu);
  std::optional<tcp::resolver::results_type> endpoints SLUICE_GUARDED_BY(mu);
  std::atomic<bool> closed{false};

  std::atomic<std::uint64_t> requests{0}, succeeded{0}, failed{0}, attempts{0}, retries{0}, stale_resends{0},
      connections_opened{0}, bytes_sent{0}, bytes_received{0}, active{0}, budget_waits{0}, retry_after_ms{0},
      outage_wait_ms{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(FailureKind::kCount)> failures{};
  std::array<std::atomic<std::uint64_t>, 32> latency{};
  std::atomic<std::uint64_t> latency_sum_us{0};

  void count_failure(FailureKind k) { failures[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed); }

  // The request target: base path + path, then the query, percent-encoded
  // (RFC 3986: a path keeps its pchars and '/', a query component only its
  // unreserved characters).
  std::string target_of(const Request& r, bool redact) const {
    std::string t;
    t.reserve(base_path.size() + r.path.size() + 16 * r.query.size() + 1);
    if (base_path.empty() && (r.path.empty() || r.path.front() != '/')) t.push_back('/');
    percent_encode(base_path, kPathChars, t);
    if (r.path_is_encoded) {
      t += r.path;
    } else {
      percent_encode(r.path, kPathChars, t);
    }
    char sep = '?';
    for (const auto& [k, v] : r.query) {
      t.push_back(sep);
      sep = '&';
      percent_encode(k, kQueryChars, t);
      t.push_back('=');
      const bool secret = redact && std::find(options.secret_query.begin(), options.secret_query.end(), lower(k)) !=
                                        options.secret_query.end();
      percent_encode(secret ? std::string_view("REDACTED") : std::string_view(v), kQueryChars, t);
    }
    return t;
  }

  std::string display_url(const Request& r) const {
    return scheme + "://" + host_header + target_of(r, /*redact=*/true);
  }

  static constexpr std::string_view kPathChars = "/-._~!$&'()*+,;=:@";
  static constexpr std::string_view kQueryChars = "-._~";

  static void percent_encode(std::string_view in, std::string_view keep, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : in) {
      if (std::isalnum(c) || keep.find(static_cast<char>(c)) != std::string_view::npos) {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
  }

  // The request's bytes: the head (request line, the client's fixed header
  // lines made once in create(), the request's own headers), then the body,
  // sent from where it is (a large upload is not copied).
  struct Wire {
    std::string head;
    std::string_view body;
    std::uint64_t priority = 0;  // the request's, for the receive budget
  };
  Wire serialize(const Request& r) const {
    std::string target = target_of(r, false);
    std::string out;
    out.reserve(target.size() + fixed_headers.size() + 256);
    out.append(to_string(r.method)).append(" ").append(target).append(" HTTP/1.1\r\n").append(fixed_headers);
    for (const auto& [k, v] : r.headers) out.append(k).append(": ").append(v).append("\r\n");
    if (!r.body.empty() || r.method == Method::kPost || r.method == Method::kPut) {
      out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    }
    out.append("\r\n");
    return {std::move(out), r.body, r.priority};
  }

  // A connection to the origin: the most recently used idle one that is
  // still fresh (unless `fresh`), else a new one. REQUIRES: a slot is held.
  asio::awaitable<Result<std::unique_ptr<Connection>>> checkout(Clock::time_point deadline, bool fresh) {
    if (!fresh) {
      MutexLock lock(mu);
      while (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        if (Clock::now() - c->idle_since < options.idle_timeout) {
          c->reused = true;
          co_return c;
        }
      }
    }
    auto ex = rt.executor();
    std::optional<tcp::resolver::results_type> eps;
    {
      MutexLock lock(mu);
      eps = endpoints;
    }
    if (!eps) {
      tcp::resolver resolver(ex);
      auto [ec, results] = co_await resolver.async_resolve(host, port, use_tuple);
      if (ec) co_return Status::Unavailable("cannot resolve " + host + ": " + ec.message());
      eps = results;
      MutexLock lock(mu);
      endpoints = results;
    }
    auto c = tls ? std::make_unique<Connection>(ex, *tls) : std::make_unique<Connection>(ex);
    const auto connect_bound = std::min<Clock::duration>(options.connect_timeout, deadline - Clock::now());
    c->tcp().expires_after(connect_bound);
    // Beast 1.81's range connect predates asio::deferred; use_awaitable works.
    auto [ec, ep] = co_await c->tcp().async_connect(*eps, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      MutexLock lock(mu);
      endpoints.reset();  // resolve again next time
      if (ec == beast::error::timeout) co_return Status::DeadlineExceeded("connect timed out");
      co_return Status::Unavailable("connect: " + ec.message());
    }
    c->tcp().socket().set_option(tcp::no_delay(true), ec);
    if (c->secure) {
      // SNI, then verification of the chain and of the host name.
      if (!SSL_set_tlsext_host_name(c->secure->native_handle(), host.c_str())) {
        co_return Status::Unavailable("TLS: cannot set the server name");
      }
      c->secure->set_verify_mode(asio::ssl::verify_peer);
      c->secure->set_verify_callback(asio::ssl::host_name_verification(host));
      c->tcp().expires_after(connect_bound);
      auto [hec] =
          co_await c->secure->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
      if (hec) {
        if (hec == beast::error::timeout) co_return Status::DeadlineExceeded("TLS handshake timed out");
        co_return Status::Unavailable("TLS handshake: " + hec.message());
      }
    }
    // The connect deadline must not outlive the connect: Beast applies an
    // expiry to every later operation until it is changed. Exchanges have
    // their own watchdog.
    c->tcp().expires_never();
    connections_opened.fetch_add(1, std::memory_order_relaxed);
    co_return c;
  }

  void checkin(std::unique_ptr<Connection> c) {
    MutexLock lock(mu);
    if (closed.load() || idle.size() >= options.max_idle) return;  // closed as it goes
    c->idle_since = Clock::now();
    idle.push_back(std::move(c));
  }

  static FailureKind classify(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) return FailureKind::kTimeout;
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return FailureKind::kTooLarge;
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        ec == asio::error::connection_aborted) {
      return FailureKind::kClosed;
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category()) return FailureKind::kProtocol;
    return FailureKind::kClosed;
  }

  // Sends the request on `c` and reads the answer, each wait bounded by the
  // read timeout and the request's deadline.
  asio::awaitable<Outcome> exchange(Connection& c, const Wire& wire, Method method, Clock::time_point deadline) {
    if (c.secure) co_return co_await exchange_on(*c.secure, c, wire, method, deadline);
    co_return co_await exchange_on(*c.plain, c, wire, method, deadline);
  }

  // Watches one exchange: fires at the earlier of the request's deadline and
  // read_timeout after the last progress, re-arming itself while bytes keep
  // coming, and cancels the socket when time is up. One timer per exchange,
  // instead of one armed and cancelled around every read and write.
  struct Watchdog : std::enable_shared_from_this<Watchdog> {
    Watchdog(const asio::any_io_executor& ex, Connection& c, Clock::duration read_timeout, Clock::time_point deadline)
        : timer(ex), conn(&c), read_timeout(read_timeout), deadline(deadline), last(Clock::now()) {}
    void arm() { arm_at(std::min(deadline, last + read_timeout)); }
    void arm_at(Clock::time_point t) {
      timer.expires_at(t);
      timer.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec); });
    }
    void on_timer(boost::system::error_code ec) {
      if (ec || done) return;  // cancelled, or the exchange ended: the connection may be gone
      const auto now = Clock::now();
      if (paused) {  // the exchange waits for memory, not for the server: look again later
        arm_at(now + read_timeout);
        return;
      }
      if (now < deadline && now < last + read_timeout) {
        arm();  // progress since: wait for the rest
        return;
      }
      fired = true;
      boost::system::error_code ignored;
      conn->tcp().socket().cancel(ignored);
    }
    void finish() {
      done = true;
      timer.cancel();
    }
    asio::steady_timer timer;
    Connection* conn;
    Clock::duration read_timeout;
    Clock::time_point deadline;
    Clock::time_point last;
    bool done = false;
    bool fired = false;
    bool paused = false;
  };

  template <class Stream>
  asio::awaitable<Outcome> exchange_on(Stream& stream, Connection& c, const Wire& wire, Method method,
                                       Clock::time_point deadline) {
    Outcome o;
    // The watchdog's timer runs on this coroutine's executor, so its handler
    // and this coroutine never touch the connection at the same time.
    auto watch = std::make_shared<Watchdog>(co_await asio::this_coro::executor, c, options.read_timeout, deadline);
    watch->arm();
    struct Finish {
      Watchdog& w;
      ~Finish() { w.finish(); }
    } finish{*watch};
    // Which deadline fired: the exchange's (run() names it) or read_timeout.
    auto timed_out = [&] {
      o.deadline_passed = Clock::now() >= watch->deadline;
      return std::string(o.deadline_passed ? "the deadline passed" : "no bytes for read_timeout");
    };
    // Bytes of the answer count toward the receive budget as they come.
    std::optional<ByteBudget::Grower> grower;
    if (options.receive_budget) grower.emplace(*options.receive_budget, wire.priority);
    auto [wec, written] = co_await asio::async_write(
        stream, std::array{asio::buffer(wire.head), asio::buffer(wire.body.data(), wire.body.size())}, use_tuple);
    bytes_sent.fetch_add(written, std::memory_order_relaxed);
    if (wec) {
      o.failure = watch->fired ? FailureKind::kTimeout : classify(wec);
      o.what = watch->fired ? timed_out() : "sending: " + wec.message();
      o.before_response = !watch->fired;
      co_return o;
    }
    Response r;
    detail::ResponseParser parser(r);
    parser.body_limit(options.max_body_bytes);
    if (method == Method::kHead) parser.skip(true);
    std::size_t received = 0;
    while (!parser.is_done()) {
      if (grower && !options.receive_budget->may_grow_now(*grower)) {
        // Over the budget: read on when bytes are given back or this
        // answer's turn comes. The wait is not the server's: neither
        // read_timeout nor the deadline runs meanwhile.
        const auto waiting_since = Clock::now();
        watch->paused = true;
        const bool go = co_await options.receive_budget->may_grow(*grower);
        watch->paused = false;
        const auto waited = Clock::now() - waiting_since;
        watch->deadline += waited;
        watch->last = Clock::now();
        o.memory_wait += waited;
        if (!go) {
          o.failure = FailureKind::kClosed;
          o.what = "the run is stopping";
          co_return o;
        }
      }
      auto [ec, n] = co_await bhttp::async_read_some(stream, c.buffer, parser, use_tuple);
      received += n;
      if (grower) grower->add(n);
      if (n > 0) watch->last = Clock::now();
      if (ec) {
        o.failure = watch->fired ? FailureKind::kTimeout : classify(ec);
        o.before_response = received == 0 && c.buffer.size() == 0 && o.failure == FailureKind::kClosed;
        o.what = watch->fired ? timed_out()
                 : o.failure == FailureKind::kTooLarge
                     ? "the body is larger than max_body_bytes (" + std::to_string(options.max_body_bytes) + ")"
                     : "reading the answer: " + ec.message();
        co_return o;
      }
    }
    bytes_received.fetch_add(received, std::memory_order_relaxed);
    c.fit_buffer(received);
    if (Status d = detail::decode_body(r, options.max_body_bytes); !d.ok()) {
      o.failure = d.code() == StatusCode::kResourceExhausted ? FailureKind::kTooLarge : FailureKind::kProtocol;
      o.what = d.message();
      co_return o;
    }
    if (r.status == 429 || r.status == 503) {  // Retry-After on other answers is not a request to wait
      if (std::string_view ra = r.header("retry-after"); !ra.empty()) o.retry_after = detail::parse_retry_after(ra);
    }
    o.keep_alive = parser.keep_alive();
    o.response = std::move(r);
    co_return o;
  }

  asio::awaitable<Outcome> attempt(const Wire& wire, Method method, Clock::time_point deadline) {
    Outcome o;
    if (!co_await slots.acquire()) {
      o.failure = FailureKind::kConnect;
      o.what = "the client is closed";
      co_return o;
    }
    SemaphoreUnit slot(slots);
    for (bool fresh = false;; fresh = true) {
      Result<std::unique_ptr<Connection>> c = co_await checkout(deadline, fresh);
      if (!c.ok()) {
        o.failure = c.status().code() == StatusCode::kDeadlineExceeded ? FailureKind::kTimeout : FailureKind::kConnect;
        o.what = c.status().message();
        co_return o;
      }
      const bool reused = (*c)->reused;
      attempts.fetch_add(1, std::memory_order_relaxed);
      o = co_await exchange(**c, wire, method, deadline);
      if (o.failure == FailureKind::kNone) {
        if (o.keep_alive) checkin(std::move(*c));
        co_return o;
      }
      // A kept-alive connection that the server closed as the request went
      // out (its idle timeout raced our reuse): not one byte of answer came,
      // so the request did nothing there. Sent once more on a new connection
      // (never another idle one, which may be just as stale) when that is
      // safe; the request's attempts are not spent by it.
      if (reused && !fresh && o.before_response && idempotent(method) && Clock::now() < deadline) {
        stale_resends.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      co_return o;
    }
  }

  bool retryable_status(int status) const {
    const auto& codes = options.retry.retry_statuses;
    return std::find(codes.begin(), codes.end(), status) != codes.end();
  }

  bool retryable(const Outcome& o) const {
    const RetryPolicy& p = options.retry;
    switch (o.failure) {
      case FailureKind::kNone:
        return false;
      case FailureKind::kStatus:
        return retryable_status(o.response->status);
      case FailureKind::kConnect:
      case FailureKind::kClosed:
        return p.retry_connect_errors;
      case FailureKind::kTimeout:
        return p.retry_timeouts;
      case FailureKind::kProtocol:
        return p.retry_connect_errors;  // a garbled answer: the connection's fault
      case FailureKind::kTooLarge:
      case FailureKind::kCount:
        return false;
    }
    return false;
  }

  std::chrono::milliseconds backoff(int retry, const Outcome& o) {
    const RetryPolicy& p = options.retry;
    if (o.retry_after) return std::min(*o.retry_after, p.max_retry_after);
    double cap = std::min<double>(static_cast<double>(p.max_backoff.count()),
                                  static_cast<double>(p.base_backoff.count()) * std::pow(2.0, retry));
    thread_local std::mt19937_64 rng(std::random_device{}());
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::uniform_real_distribution<double>(0, cap)(rng)));
  }

  static StatusCode final_code(const Outcome& o) {
    switch (o.failure) {
      case FailureKind::kTimeout:
        return StatusCode::kDeadlineExceeded;
      case FailureKind::kTooLarge:
        return StatusCode::kResourceExhausted;
      case FailureKind::kProtocol:
        return StatusCode::kDataLoss;
      default:
        return StatusCode::kUnavailable;
    }
  }

  void record_latency(Clock::duration d) {
    auto us = static_cast<std::uint64_t>(
        std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
    std::size_t bucket = std::min<std::size_t>(31, static_cast<std::size_t>(std::bit_width(us)));
    latency[bucket].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us.fetch_add(us, std::memory_order_relaxed);
  }
};

Status check_options(const ClientOptions& options) {
  auto parsed = urls::parse_uri(options.base_url);
  if (!parsed)
    return Status::InvalidArgument("base_url '" + options.base_url + "': not a URL (" + parsed.error().message() + ")");
  if (parsed->scheme() != "http" && parsed->scheme() != "https") {
    return Status::InvalidArgument("base_url '" + options.base_url + "': the scheme must be http or https");
  }
  if (parsed->host().empty()) return Status::InvalidArgument("base_url '" + options.base_url + "': no host");
  if (options.max_in_flight == 0) return Status::InvalidArgument("max_in_flight: must be at least 1");
  if (options.max_connections == 0) return Status::InvalidArgument("max_connections: must be at least 1");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("retry.max_attempts: must be at least 1");
  for (auto d : {options.connect_timeout, options.read_timeout, options.attempt_timeout, options.request_timeout}) {
    if (d.count() <= 0) return Status::InvalidArgument("timeouts must be positive");
  }
  if (!(options.retry.budget >= 0)) return Status::InvalidArgument("retry.budget: must be 0 or more");
  if (!(options.retry.min_per_second > 0)) {
    return Status::InvalidArgument("retry.min_per_second: must be more than 0 (or retries could wait forever)");
  }
  if (options.outage.enabled &&
      (options.outage.failures < 1 || options.outage.probe_after.count() <= 0 ||
       options.outage.max_probe_interval < options.outage.probe_after || options.outage.give_up_after.count() <= 0)) {
    return Status::InvalidArgument(
        "outage: failures and probe_after must be at least 1, max_probe_interval at least probe_after, give_up_after "
        "positive");
  }
  for (const auto& [k, v] : options.headers) {
    if (k.empty() || k.find_first_of(":\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument(
          "header '" + k + "': a name may not be empty or hold ':' or a line break, nor a value a line break");
    }
  }
  return Status();
}

Result<Client> Client::create(Runtime& rt, ClientOptions options) {
  SLUICE_RETURN_IF_ERROR(check_options(options));
  auto parsed = urls::parse_uri(options.base_url);
  for (auto& k : options.secret_query) k = lower(k);
  auto state = std::make_shared<State>(rt, std::move(options));
  state->scheme = std::string(parsed->scheme());
  state->host = std::string(parsed->host());
  const bool https = state->scheme == "https";
  state->port = parsed->has_port() ? std::string(parsed->port()) : https ? "443" : "80";
  if (https) {
    asio::ssl::context& ctx = state->tls.emplace(asio::ssl::context::tls_client);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (state->options.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(state->options.ca_file, ec);
    }
    if (ec) {
      return Status::InvalidArgument("ca_file '" + state->options.ca_file + "': cannot load certificates (" +
                                     ec.message() + ")");
    }
  }
  state->host_header = parsed->has_port() ? state->host + ":" + state->port : state->host;
  state->base_path = std::string(parsed->path());
  if (!state->base_path.empty() && state->base_path.back() == '/') state->base_path.pop_back();
  std::string& fixed = state->fixed_headers;
  fixed = "Host: " + state->host_header + "\r\nUser-Agent: sluice/0.1.0\r\n";
  if (state->options.accept_compressed) fixed += "Accept-Encoding: gzip, deflate\r\n";
  for (const auto& [k, v] : state->options.headers) fixed += k + ": " + v + "\r\n";
  return Client(std::move(state));
}

std::string Client::display_url(const Request& request) const { return state_->display_url(request); }

asio::awaitable<Result<Response>> Client::get(std::string path,
                                              std::vector<std::pair<std::string, std::string>> query) {
  return send(Request{.path = std::move(path), .query = std::move(query)});
}

// Not a coroutine itself: the state is copied now, so the Client object may
// be gone by the time the request runs.
asio::awaitable<Result<Response>> Client::send(Request request) { return run(state_, std::move(request)); }

namespace {

// How an attempt's outcome counts for the origin (see OriginGovernor).
OriginGovernor::Signal signal_of(const Outcome& o) {
  const int status = o.response ? o.response->status : 0;
  if (status == 429) return OriginGovernor::Signal::kTooMany;
  if (status >= 500) return OriginGovernor::Signal::kFailure;
  switch (o.failure) {
    case FailureKind::kNone:
    case FailureKind::kStatus:
    case FailureKind::kTooLarge:
      return OriginGovernor::Signal::kAnswer;  // the origin answered
    default:
      return OriginGovernor::Signal::kFailure;
  }
}

std::uint64_t millis(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

}  // namespace

asio::awaitable<Result<Response>> Client::run(std::shared_ptr<State> s, Request request) {
  s->requests.fetch_add(1, std::memory_order_relaxed);
  std::string history;
  auto fail = [&](StatusCode code, const std::string& what) -> Result<Response> {
    s->failed.fetch_add(1, std::memory_order_relaxed);
    return Status(code, std::string(to_string(request.method)) + " " + s->display_url(request) + ": " + history +
                            (history.empty() || what.empty() ? "" : "; ") + what);
  };
  for (const auto& [k, v] : request.headers) {
    if (k.empty() || k.find_first_of(":\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
      co_return fail(
          StatusCode::kInvalidArgument,
          "header '" + k + "': a name may not be empty or hold ':' or a line break, nor a value a line break");
    }
  }
  if (s->closed.load() || !co_await s->governor.enter()) co_return fail(StatusCode::kCancelled, "the client is closed");
  struct Turn {
    State& s;
    ~Turn() {
      s.governor.leave();
      s.active.fetch_sub(1, std::memory_order_relaxed);
    }
  } turn{*s};  // held through retries and their waits
  s->active.fetch_add(1, std::memory_order_relaxed);
  // The deadline runs from here: waiting for a turn is not the request's
  // fault, nor is waiting for an origin that is down (it moves the deadline).
  const auto started = Clock::now();
  auto deadline = started + s->options.request_timeout;
  s->governor.on_request(started);

  State::Wire wire = s->serialize(request);
  const bool replayable = request.method == Method::kGet || request.method == Method::kHead;

  auto ex = co_await asio::this_coro::executor;
  auto sleep_until = [&ex](Clock::time_point t) -> asio::awaitable<void> {
    asio::steady_timer timer(ex, t);
    co_await timer.async_wait(use_tuple);
  };
  // A probe must be settled however the coroutine ends, or the origin would
  // wait for a probe that never comes back.
  struct Probe {
    OriginGovernor& g;
    bool open = false;
    ~Probe() {
      if (open) g.probe_abandoned(Clock::now());
    }
  } probe{s->governor};

  std::vector<Clock::time_point> spent;  // when each attempt that counts against max_attempts failed
  bool failed_before = false;
  for (int attempt = 1;;) {
    // An origin that is down: wait for it; a probe at a time goes through.
    OriginGovernor::Turn t = s->governor.before_attempt(Clock::now());
    if (t.kind == OriginGovernor::Turn::Kind::kWait) {
      const auto waiting_since = Clock::now();
      while (t.kind == OriginGovernor::Turn::Kind::kWait) {
        if (s->closed.load()) co_return fail(StatusCode::kCancelled, "the client is closed");
        co_await sleep_until(t.until);
        t = s->governor.before_attempt(Clock::now());
      }
      const auto waited = Clock::now() - waiting_since;
      deadline += waited;
      s->outage_wait_ms.fetch_add(millis(waited), std::memory_order_relaxed);
      if (t.kind == OriginGovernor::Turn::Kind::kGo) {
        // The origin is back: what failed while it was down is not held
        // against this request.
        const OriginGovernor::Span outage = s->governor.last_outage();
        std::erase_if(spent, [&](Clock::time_point f) { return outage.contains(f); });
      }
    }
    if (t.kind == OriginGovernor::Turn::Kind::kGone)
      co_return fail(StatusCode::kUnavailable, s->governor.gone().message());
    probe.open = t.kind == OriginGovernor::Turn::Kind::kProbe;
    if (probe.open) {
      // Probe with the last request the origin answered, when there is
      // one: its answer says whether the origin is up, not whether this
      // request can be served.
      if (std::optional<std::string> known = s->governor.known_good()) {
        const auto sent = Clock::now();
        Outcome p = co_await s->attempt({.head = std::move(*known)}, Method::kGet,
                                        std::min(deadline, sent + s->options.attempt_timeout));
        probe.open = false;
        const auto ended = Clock::now();
        s->governor.after_attempt(signal_of(p), ended - sent, /*probe=*/true, ended, p.what);
        continue;
      }
    }

    // An attempt of this request.
    const auto attempt_start = Clock::now();
    const auto attempt_deadline = std::min(deadline, attempt_start + s->options.attempt_timeout);
    Outcome o = co_await s->attempt(wire, request.method, attempt_deadline);
    deadline += o.memory_wait;
    if (o.failure == FailureKind::kNone && s->retryable_status(o.response->status)) {
      o.failure = FailureKind::kStatus;
      o.what = "status " + std::to_string(o.response->status);
    }
    if (o.deadline_passed) {
      o.what = attempt_deadline < deadline
                   ? "no answer within attempt_timeout (" + std::to_string(s->options.attempt_timeout.count()) + " ms)"
                   : "the request's deadline passed (request_timeout)";
    }
    const auto ended = Clock::now();
    const bool was_probe = std::exchange(probe.open, false);
    s->governor.after_attempt(signal_of(o), ended - attempt_start, was_probe, ended, o.what, !failed_before);
    if (o.failure == FailureKind::kNone) {
      o.response->attempts = attempt;
      s->succeeded.fetch_add(1, std::memory_order_relaxed);
      s->record_latency(ended - started);
      if (replayable && o.response->status < 300 && s->governor.wants_known_good(ended)) {
        s->governor.remember_known_good(std::move(wire.head), ended);
      }
      co_return std::move(*o.response);
    }
    failed_before = true;
    s->count_failure(o.failure);
    history += (history.empty() ? "" : "; ") + ("attempt " + std::to_string(attempt) + ": " + o.what);
    ++attempt;
    if (!s->retryable(o)) co_return fail(State::final_code(o), "");
    spent.push_back(ended);
    if (static_cast<int>(spent.size()) >= s->options.retry.max_attempts) {
      // Out of attempts. But if the origin went down meanwhile, they went to
      // the outage: wait for it like every other request, and take them back
      // if it comes back.
      if (!s->governor.down()) co_return fail(State::final_code(o), "");
      continue;
    }
    // The wait before the next attempt: the server's Retry-After, else a backoff.
    const auto wait = s->backoff(static_cast<int>(spent.size()) - 1, o);
    if (Clock::now() + wait >= deadline) {
      co_return fail(StatusCode::kDeadlineExceeded, o.retry_after
                                                        ? "the server asked to wait " + std::to_string(wait.count()) +
                                                              " ms, past the request's deadline (request_timeout)"
                                                        : "no time left for another attempt (request_timeout)");
    }
    if (o.retry_after) s->retry_after_ms.fetch_add(static_cast<std::uint64_t>(wait.count()), std::memory_order_relaxed);
    co_await sleep_until(Clock::now() + wait);
    // The retry budget: a retry with no token waits for one.
    bool waited_for_budget = false;
    while (auto when = s->governor.take_retry(Clock::now())) {
      if (*when >= deadline)
        co_return fail(StatusCode::kDeadlineExceeded, "the retry budget left no time for another attempt");
      waited_for_budget = true;
      co_await sleep_until(*when);
    }
    if (waited_for_budget) s->budget_waits.fetch_add(1, std::memory_order_relaxed);
    s->retries.fetch_add(1, std::memory_order_relaxed);
  }
}

ClientStats Client::stats() const {
  const State& s = *state_;
  ClientStats st;
  st.requests = s.requests.load();
  st.succeeded = s.succeeded.load();
  st.failed = s.failed.load();
  st.attempts = s.attempts.load();
  st.retries = s.retries.load();
  st.stale_resends = s.stale_resends.load();
  st.connections_opened = s.connections_opened.load();
  st.bytes_sent = s.bytes_sent.load();
  st.bytes_received = s.bytes_received.load();
  st.in_flight = s.active.load();
  st.limit = s.governor.limit();
  st.budget_waits = s.budget_waits.load();
  st.retry_after_ms = s.retry_after_ms.load();
  st.outages = s.governor.outages();
  st.outage_probes = s.governor.probes();
  st.outage_wait_ms = s.outage_wait_ms.load();
  for (std::size_t i = 0; i < st.failures.size(); ++i) st.failures[i] = s.failures[i].load();
  for (std::size_t i = 0; i < st.latency_us_log2.size(); ++i) st.latency_us_log2[i] = s.latency[i].load();
  st.latency_us_sum = s.latency_sum_us.load();
  return st;
}

Status Client::origin_status() const { return state_->governor.gone(); }

void Client::close() {
  state_->closed.store(true);
  state_->governor.close();
  MutexLock lock(state_->mu);
  state_->idle.clear();
}

}  // namespace sluice::http
