#include "exchange.h"

#include <algorithm>
#include <array>
#include <bit>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <charconv>

#include "response_parser.h"
#include "sluice/byte_budget.h"

namespace sluice::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::deferred);

FailureKind classify(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return FailureKind::kTimeout;
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return FailureKind::kTooLarge;
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == asio::error::connection_aborted) {
    return FailureKind::kClosed;
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category()) return FailureKind::kProtocol;
  return FailureKind::kClosed;
}

// The idle timeout a server announces in `Keep-Alive: timeout=5, max=100`
// (RFC 2068's header, which Apache, Node and others send), if any.
std::optional<std::chrono::milliseconds> keep_alive_timeout(std::string_view header) {
  for (std::size_t at = 0; at < header.size();) {
    std::size_t end = header.find(',', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(at, end - at);
    at = end + 1;
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    constexpr std::string_view kTimeout = "timeout=";
    if (part.size() <= kTimeout.size() ||
        !std::equal(kTimeout.begin(), kTimeout.end(), part.begin(),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      continue;
    }
    part.remove_prefix(kTimeout.size());
    std::uint32_t seconds = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), seconds);
    if (ec != std::errc() || seconds > 86400) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  return std::nullopt;
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
                                     Clock::time_point deadline, const ClientOptions& options) {
  Outcome o;
  // The watchdog's timer runs on this coroutine's executor, so its handler
  // and this coroutine never touch the connection at the same time.
  auto watch = std::make_shared<Watchdog>(co_await asio::this_coro::executor, c, options.read_timeout, deadline);
  watch->arm();
  struct Finish {
    Watchdog& w;
    ~Finish() { w.finish(); }
  } finish{*watch};
  // Which deadline fired: the exchange's (the client names it) or read_timeout.
  auto timed_out = [&] {
    o.deadline_passed = Clock::now() >= watch->deadline;
    return std::string(o.deadline_passed ? "the deadline passed" : "no bytes for read_timeout");
  };
  // Bytes of the answer count toward the receive budget as they come.
  std::optional<ByteBudget::Grower> grower;
  if (options.receive_budget) grower.emplace(*options.receive_budget, wire.priority);
  auto [wec, written] = co_await asio::async_write(
      stream, std::array{asio::buffer(wire.head), asio::buffer(wire.body.data(), wire.body.size())}, use_tuple);
  o.bytes_sent = written;
  if (wec) {
    o.failure = watch->fired ? FailureKind::kTimeout : classify(wec);
    o.what = watch->fired ? timed_out() : "sending: " + wec.message();
    o.before_response = !watch->fired;
    co_return o;
  }
  Response r;
  ResponseParser parser(r);
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
  o.bytes_received = received;
  c.fit_buffer(received);
  if (Status d = wire.decode ? decode_body(r, options.max_body_bytes) : Status(); !d.ok()) {
    o.failure = d.code() == StatusCode::kResourceExhausted ? FailureKind::kTooLarge : FailureKind::kProtocol;
    o.what = d.message();
    co_return o;
  }
  if (r.status == 429 || r.status == 503) {  // Retry-After on other answers is not a request to wait
    if (std::string_view ra = r.header("retry-after"); !ra.empty()) o.retry_after = parse_retry_after(ra);
  }
  o.keep_alive = parser.keep_alive();
  if (o.keep_alive) o.keep_alive_timeout = keep_alive_timeout(r.header("keep-alive"));
  o.response = std::move(r);
  co_return o;
}

}  // namespace

// Beast reads as much as the buffer has room for, at least 512 bytes: a
// buffer that small takes an 8 KB answer in 16 reads, while one large buffer
// per connection costs cache misses with hundreds of connections and small
// answers. So a connection's buffer grows to the size of the answers it
// gets, up to 64 KiB.
void Connection::fit_buffer(std::size_t answer_bytes) {
  constexpr std::size_t kMax = std::size_t{64} * 1024;
  if (answer_bytes > buffer.capacity() && buffer.capacity() < kMax) {
    buffer.reserve(std::min(kMax, std::bit_ceil(answer_bytes)));
  }
}

asio::awaitable<Outcome> exchange(Connection& c, const Wire& wire, Method method, Clock::time_point deadline,
                                  const ClientOptions& options) {
  if (c.secure) co_return co_await exchange_on(*c.secure, c, wire, method, deadline, options);
  co_return co_await exchange_on(*c.plain, c, wire, method, deadline, options);
}

}  // namespace sluice::http::detail
