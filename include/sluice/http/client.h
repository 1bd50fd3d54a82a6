// Client: HTTP/1.1 requests (http or https) to one origin from coroutines, with a pool of
// kept-alive connections, a limit on requests in flight, deadlines on every
// request, and retries.
//
//   auto api = sluice::http::Client::create(rt, {.base_url = "http://127.0.0.1:8080",
//                                                .max_in_flight = 256});
//   Result<Response> r = co_await api->get("/v1/items/42");
//
// Thread safety: a Client is cheap to copy (shared internals) and every member
// may be called from any thread or coroutine. It must not outlive its Runtime.
//
// Every request ends exactly once, within its deadline:
//   * a Response for any final HTTP status (2xx, and 4xx/5xx that are not
//     retried or whose retries ran out are errors, see below);
//   * or a Status: kDeadlineExceeded (a connect, read or total deadline
//     passed), kUnavailable (connection refused or closed, retryable status
//     after the last attempt), kResourceExhausted (a body over
//     max_body_bytes), kDataLoss (a malformed response), kCancelled (the
//     client was closed). The message names the method and the URL, with
//     secret query parameters redacted, and what happened at each attempt.
// Header values are never part of a message or a log.
#pragma once

#include "sluice/runtime.h"
#include "sluice/status.h"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete };

struct Request {
  Method method = Method::kGet;
  std::string path;  // appended to the base URL's path; percent-encoded as needed
  // The path is already percent-encoded (by a signer that must send exactly
  // what it signed): sent as it is. REQUIRES: only URI characters in it.
  bool path_is_encoded = false;
  std::vector<std::pair<std::string, std::string>> query;  // percent-encoded by the client
  Headers headers;
  std::string body;
};

struct Response {
  int status = 0;
  std::string body;  // decoded when it came gzip or deflate encoded
  int attempts = 1;
  // Every header as "name: value\r\n", names in lower case, in the order
  // received (one allocation however many headers there are).
  std::string header_block;

  // The first header of that name (lower case), or empty.
  std::string_view header(std::string_view name) const;
};

struct RetryPolicy {
  int max_attempts = 3;                             // 1: no retries
  std::chrono::milliseconds base_backoff{50};       // full jitter: uniform [0, min(max, base * 2^n)]
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds max_retry_after{30000}; // a longer Retry-After is cut to this
  std::vector<int> retry_statuses{429, 502, 503, 504};
  bool retry_connect_errors = true;                 // refused, reset, closed before an answer
  bool retry_timeouts = true;
};

// Adapts the in-flight limit to the origin, in the manner of TCP's congestion
// control (AIMD): +1 for every `limit` answers that come back near the
// lowest latency seen, times `backoff` on a timeout, 429 or 5xx (at most
// once per `decrease_interval`), always within [min, max].
struct AdaptiveLimit {
  bool enabled = false;
  std::size_t min = 4;
  std::size_t max = 1024;
  std::size_t initial = 32;
  double backoff = 0.7;
  double latency_tolerance = 2.0;  // "near the floor": under floor * (1 + tolerance)
  std::chrono::milliseconds decrease_interval{100};
};

// Stops hammering an origin that is down: after `failures` attempts in a row
// fail (transport errors, 5xx), attempts fail at once for `open_for`; then
// one probe at a time is let through, and a success closes it again.
struct CircuitBreaker {
  bool enabled = true;
  int failures = 50;
  std::chrono::milliseconds open_for{5000};
};

struct ClientOptions {
  std::string base_url;                             // http[s]://host[:port][/prefix]
  // https: the server's certificate chain and host name are always verified,
  // against the system's CA bundle, or against this PEM file when set.
  std::string ca_file;
  std::size_t max_connections = 256;                // open at once
  std::size_t max_idle = 256;                       // kept for reuse
  std::chrono::milliseconds idle_timeout{30000};    // an idle connection older than this is closed
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{10000};    // the longest wait for the next bytes
  std::chrono::milliseconds request_timeout{30000}; // the whole request from when it gets its in-flight
                                                    // slot: connects, retries and their waits included
  std::size_t max_in_flight = 256;                  // requests at once, waiting retries included
  std::size_t max_body_bytes = 64 << 20;            // decoded
  RetryPolicy retry;
  AdaptiveLimit adaptive;                           // when enabled, max_in_flight is its ceiling too
  CircuitBreaker breaker;
  // Retries at once are capped to this fraction of requests in flight (but
  // min_retries are always allowed), so an outage cannot become a retry storm.
  double retry_budget = 0.2;
  std::size_t min_retries = 3;
  Headers headers;                                  // sent with every request
  bool accept_compressed = true;                    // send Accept-Encoding: gzip, deflate
  std::vector<std::string> secret_query{"api_key", "apikey", "key", "token", "access_token", "signature"};
};

// What went wrong with one attempt, or kNone.
enum class FailureKind : std::uint8_t { kNone, kConnect, kTimeout, kClosed, kProtocol, kTooLarge, kStatus, kCount };

struct ClientStats {
  std::uint64_t requests = 0;   // started
  std::uint64_t succeeded = 0;  // ended with a Response
  std::uint64_t failed = 0;     // ended with an error
  std::uint64_t attempts = 0;
  std::uint64_t retries = 0;
  std::uint64_t stale_retries = 0;  // resent once on a fresh connection after a kept-alive one was closed
  std::array<std::uint64_t, static_cast<std::size_t>(FailureKind::kCount)> failures{};  // attempts, by kind
  std::uint64_t connections_opened = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t limit = 0;            // the in-flight limit now (adaptive or static)
  std::uint64_t budget_denied = 0;    // retries not made: the retry budget was spent
  std::uint64_t breaker_rejected = 0; // attempts failed at once: the circuit was open
  std::uint64_t paused_ms = 0;        // time attempts waited for the origin's Retry-After
  // Latency of requests that ended with a Response: bucket i counts those
  // under 2^i microseconds (and at least 2^(i-1)).
  std::array<std::uint64_t, 32> latency_us_log2{};
  std::uint64_t latency_us_sum = 0;  // of those latencies
  // The latency under which `q` of them ended (0 < q <= 1), from the buckets.
  std::chrono::microseconds latency_quantile(double q) const;
};

class Client {
 public:
  // Checks the options (kInvalidArgument naming the bad one).
  static Result<Client> create(Runtime& rt, ClientOptions options);

  // The returned awaitable holds the client's shared state: the Client
  // object itself may be destroyed before it is awaited.
  boost::asio::awaitable<Result<Response>> send(Request request);
  boost::asio::awaitable<Result<Response>> get(std::string path,
                                               std::vector<std::pair<std::string, std::string>> query = {});

  ClientStats stats() const;
  // Fails requests waiting for a slot and later ones with kCancelled, and
  // closes idle connections. Requests in flight finish or time out.
  void close();

  // The URL of a request as messages show it: secret query values redacted.
  std::string display_url(const Request& request) const;

 private:
  struct State;
  explicit Client(std::shared_ptr<State> s) : state_(std::move(s)) {}
  static boost::asio::awaitable<Result<Response>> run(std::shared_ptr<State> s, Request request);
  std::shared_ptr<State> state_;
};

std::string_view to_string(FailureKind k);
std::string_view to_string(Method m);  // "GET", "PUT", ...

}  // namespace sluice::http
