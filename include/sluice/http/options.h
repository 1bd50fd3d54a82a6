// The settings of an HTTP client (see client.h): plain structs with their
// defaults, checked once by Client::create. A pipeline file's `http:`
// section fills these same structs.
//
// How a request is tried, in short: each attempt has its own deadline
// (attempt_timeout), the request as a whole another (request_timeout); a
// failed attempt that is worth retrying (RetryPolicy) is retried after a
// backoff or the server's Retry-After, up to max_attempts; retries draw on a
// budget that slows them down when the origin fails most of them but never
// refuses one; and when the origin looks down (Outage), requests wait for it instead
// of spending their attempts, until it answers again or give_up_after.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
class ByteBudget;
}

namespace sluice::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct RetryPolicy {
  // Attempts of one request that may fail before it fails (1: no retries).
  // Waiting for an origin that is down (see Outage) is not an attempt, nor is
  // resending on a fresh connection a request that a kept-alive one lost
  // before any byte of its answer.
  int max_attempts = 5;
  std::chrono::milliseconds base_backoff{50};  // full jitter: uniform [0, min(max, base * 2^n)]
  std::chrono::milliseconds max_backoff{2000};
  // A 429 or 503 with Retry-After waits that long before that request's
  // next attempt (other requests go on), at most this long; the wait moves
  // the request's deadline, as the API asked for it.
  std::chrono::milliseconds max_retry_after{30000};
  std::vector<int> retry_statuses{429, 500, 502, 503, 504};
  bool retry_connect_errors = true;  // refused, reset, closed before an answer
  bool retry_timeouts = true;
  // The retry budget, a token bucket: each request adds `budget` tokens
  // (up to max_in_flight of them), a retry takes one, and the bucket also
  // refills at min_per_second. A retry with no token waits for one; it is
  // never refused, and the wait does not count against request_timeout.
  // With the default, retries go at once while they are at most one per
  // request (up to about half of all attempts failing: an API that fails a
  // share of its requests is retried at full speed); past that they slow
  // down to budget x the request rate, sparing an API that fails most of
  // what it is sent.
  double budget = 1.0;
  double min_per_second = 10;
};

// Adapts the in-flight limit to the origin, in the manner of TCP's congestion
// control (AIMD): +1 for every `limit` answers that come back near the
// lowest latency seen, times `backoff` on a timeout, 429 or 5xx (at most
// once per `decrease_interval`), always within [min, max].
// When disabled, the limit is max_in_flight, except that 429s without
// Retry-After lower it the same way when they are more than a tenth of the
// answers (a rate limit, not a few scattered ones), and answers bring it
// back (+1 for every `limit` of them). A 429 with Retry-After is waited out
// by its own request, as the API asks, and lowers no static limit.
struct AdaptiveLimit {
  bool enabled = false;
  std::size_t min = 4;
  std::size_t max = 1024;
  std::size_t initial = 32;
  double backoff = 0.7;
  double latency_tolerance = 2.0;  // "near the floor": under floor * (1 + tolerance)
  std::chrono::milliseconds decrease_interval{100};
};

// An origin that is down is waited for, not given up on request by request.
// After `failures` requests fail (transport errors, timeouts, 5xx; fewer
// when fewer requests are under way, but at least two unless `failures` is
// 1) on attempts sent after the last attempt the origin answered was sent,
// the origin counts as down: an answer to a later attempt says it was up
// then, so an origin that fails a share of what it is sent is never down,
// while answers still coming to attempts sent before it went down do not
// hide that it did. Each request counts once, however often it fails.
// Then requests stop making attempts and wait, and one
// probe at a time is let through, the first `probe_after` later, then at
// doubling intervals up to `max_probe_interval`. A probe sends again the
// last GET the origin answered (else the waiting request's own attempt), so
// it tells whether the origin is up, not whether one request can be served.
// The first answer that is not a failure ends the outage: every waiting
// request goes on, and takes back the attempts it failed during it.
// Waiting spends neither attempts nor the request's deadline. Requests that
// keep failing while others are answered are not an outage.
// A lone request never makes an outage (it fails on its own attempts).
// An outage is counted (ClientStats::outages) once its first probe fails
// too: a false alarm that the first probe dispels costs a wait of at most
// probe_after and is not reported as one.
// An outage longer than `give_up_after` (10 s if the origin never answered
// once: a wrong address fails fast) fails every waiting and later request
// with kUnavailable, and Client::origin_status() says so.
struct Outage {
  bool enabled = true;
  int failures = 20;
  std::chrono::milliseconds probe_after{250};
  std::chrono::milliseconds max_probe_interval{5000};
  std::chrono::milliseconds give_up_after{300000};
};

struct ClientOptions {
  std::string base_url;  // http[s]://host[:port][/prefix]
  // https: the server's certificate chain and host name are always verified,
  // against the system's CA bundle, or against this PEM file when set.
  std::string ca_file;
  std::size_t max_connections = 256;              // open at once
  std::size_t max_idle = 256;                     // kept for reuse
  std::chrono::milliseconds idle_timeout{30000};  // an idle connection older than this is closed
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{10000};     // the longest wait for the next bytes
  std::chrono::milliseconds attempt_timeout{10000};  // one attempt: connect, send, the whole answer
  // The whole request from when it gets its in-flight slot: its attempts
  // and backoffs. Waits that are not the request's own move it: a
  // Retry-After, a token of the retry budget, an origin that is down.
  std::chrono::milliseconds request_timeout{60000};
  std::size_t max_in_flight = 256;        // requests at once, waiting retries included
  std::size_t max_body_bytes = 64 << 20;  // decoded
  // Answers being received count toward this budget as their bytes arrive
  // (and are given back when the request ends): over it, one answer at a
  // time reads on, the others wait, without their timeouts running (see
  // ByteBudget). Shared with whoever keeps answers, it bounds both. None:
  // no bound but max_body_bytes per answer.
  std::shared_ptr<ByteBudget> receive_budget;
  RetryPolicy retry;
  AdaptiveLimit adaptive;  // when enabled, max_in_flight is its ceiling too
  Outage outage;
  Headers headers;                // sent with every request
  bool accept_compressed = true;  // send Accept-Encoding: gzip, deflate
  std::vector<std::string> secret_query{"api_key", "apikey", "key", "token", "access_token", "signature"};
};

}  // namespace sluice::http
