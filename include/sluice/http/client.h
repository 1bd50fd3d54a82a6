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
// Every request ends exactly once, within its deadline (plus the time it
// waited for an origin that was down, see Outage in options.h):
//   * a Response for any final HTTP status that is not retried, or whose
//     retries ran out (a retryable status after the last attempt is an error);
//   * or a Status: kDeadlineExceeded (a connect, read, attempt or request
//     deadline passed), kUnavailable (connection refused or closed, a
//     retryable status after the last attempt, the origin given up on),
//     kResourceExhausted (a body over max_body_bytes), kDataLoss (a
//     malformed response), kCancelled (the client was closed). The message
//     names the method and the URL, with secret query parameters redacted,
//     and what happened at each attempt.
// Header values are never part of a message or a log.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/histogram.h"
#include "sluice/http/options.h"
#include "sluice/runtime.h"
#include "sluice/status.h"

namespace sluice::http {

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
  // When answers wait for the receive budget (ClientOptions::receive_budget),
  // lower values read on first: say, the age of the work the request is for.
  std::uint64_t priority = 0;
  // false: a gzip or deflate body is left as it came (its Content-Encoding
  // says so), for the caller to decode where it parses it, with
  // decode_body() on a CPU thread rather than on the event loop.
  bool decode = true;
};

struct Response {
  int status = 0;
  std::string body;  // decoded when it came gzip or deflate encoded (unless the request said
                     // not to); with a Content-Length, its capacity holds 64 bytes more (what
                     // SIMD parsers read past the end)
  int attempts = 1;
  // Every header as "name: value\r\n", names in lower case, in the order
  // received (one allocation however many headers there are).
  std::string header_block;

  // The first header of that name (lower case), or empty.
  std::string_view header(std::string_view name) const;
};

// Decodes `body` as its Content-Encoding says (gzip, x-gzip or deflate,
// in any case; "" or any other: copied as it is) into `out`, replacing what
// it held but keeping its capacity, and growing it to `limit` bytes at most:
// kResourceExhausted past that, kDataLoss for a malformed body.
Status decode_body(std::string_view body, std::string_view content_encoding, std::size_t limit, std::string& out);

// What went wrong with one attempt, or kNone.
enum class FailureKind : std::uint8_t { kNone, kConnect, kTimeout, kClosed, kProtocol, kTooLarge, kStatus, kCount };

struct ClientStats {
  std::uint64_t requests = 0;   // started
  std::uint64_t succeeded = 0;  // ended with a Response
  std::uint64_t failed = 0;     // ended with an error
  std::uint64_t attempts = 0;   // tried: those that could not connect, and resends on a fresh connection, included
  std::uint64_t retries = 0;
  std::uint64_t stale_resends = 0;  // resent on a fresh connection after a kept-alive one was lost
  // Idle connections not reused because the server had closed them (or
  // they were past the idle timeout it announced): no request was lost.
  std::uint64_t stale_discarded = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(FailureKind::kCount)> failures{};  // attempts, by kind
  std::uint64_t connections_opened = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t limit = 0;           // the in-flight limit now (adaptive or static)
  std::uint64_t budget_waits = 0;    // retries that waited for the retry budget
  std::uint64_t retry_after_ms = 0;  // time requests waited as a Retry-After asked
  std::uint64_t outages = 0;         // times the origin counted as down
  std::uint64_t outage_probes = 0;
  std::uint64_t outage_wait_ms = 0;  // time requests waited for the origin to come back, summed over them
  std::uint64_t outage_ms = 0;       // wall time the origin counted as down
  // Latency of requests that ended with a Response, from the start of their
  // first attempt to the end of the answer (percentiles within 1%).
  LatencyCounts latency;
  // The latency under which `q` of them ended (0 < q <= 1).
  std::chrono::microseconds latency_quantile(double q) const { return latency.quantile(q); }
};

// The options' problems (kInvalidArgument naming the bad one), or OK: what
// Client::create checks, without a runtime.
Status check_options(const ClientOptions& options);

class Client {
 public:
  // Checks the options (see check_options).
  static Result<Client> create(Runtime& rt, ClientOptions options);

  // The returned awaitable holds the client's shared state: the Client
  // object itself may be destroyed before it is awaited.
  boost::asio::awaitable<Result<Response>> send(Request request);
  // As send(), and the status of the last answer received, if any (0 if
  // none), in `*last_status`: a request that failed after its retries may
  // still have been answered (a 503 each time). REQUIRES: `last_status`
  // outlives the awaitable.
  boost::asio::awaitable<Result<Response>> send(Request request, int* last_status);
  boost::asio::awaitable<Result<Response>> get(std::string path,
                                               std::vector<std::pair<std::string, std::string>> query = {});

  ClientStats stats() const;
  // OK, or why every request now fails at once: the origin was down longer
  // than outage.give_up_after (kUnavailable). A caller that would otherwise
  // give up on its work item by item should stop as a whole instead.
  Status origin_status() const;
  // Fails requests waiting for a slot and later ones with kCancelled, and
  // closes idle connections. Requests in flight finish or time out.
  void close();

  // The URL of a request as messages show it: secret query values redacted.
  std::string display_url(const Request& request) const;

 private:
  struct State;
  class RequestRun;
  explicit Client(std::shared_ptr<State> s) : state_(std::move(s)) {}
  static boost::asio::awaitable<Result<Response>> run(std::shared_ptr<State> s, Request request, int* last_status);
  std::shared_ptr<State> state_;
};

std::string_view to_string(FailureKind k);
std::string_view to_string(Method m);  // "GET", "PUT", ...

}  // namespace sluice::http
