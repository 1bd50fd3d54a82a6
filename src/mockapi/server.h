// The mock API: the reference workload's HTTP API on loopback, for the demo,
// the tests and the benchmarks, with latency and fault injection.
//
// Routes: GET /v1/items/{id} and GET /v1/items/{id}/events?page=p, answering
// as the workload specifies; an unknown id (outside 1..max_id when set), page
// or path answers 404. HTTP/1.1 keep-alive.
//
// Faults are decided per request path and attempt: the n-th request for a
// path is faulty with the configured probabilities, drawn from a hash of
// (seed, path, n), so a run is reproducible; after max_faults_per_path faulty
// answers a path always answers correctly, so a client that retries gets
// complete, correct data. Two faults are not transient: items chosen by id
// that always fail, and an outage of the whole API for a while.
//
// The server runs on threads of its own; start() returns once it listens.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sluice/status.h"

namespace sluice::mockapi {

struct FaultOptions {
  double error_500 = 0;  // fraction of answers: 500 Internal Server Error
  double too_many = 0;   // 429 Too Many Requests with Retry-After
  double malformed = 0;  // 200 with a body that is not JSON
  double truncated = 0;  // Content-Length promises more than is sent, then close
  double slow_body = 0;  // the body trickled in four pieces, trickle_interval apart
  double close = 0;      // the connection closed without an answer
  int retry_after_seconds = 1;
  std::chrono::milliseconds trickle_interval{100};
  int max_faults_per_path = 2;
  std::uint64_t seed = 1;
  // A permanent fault: every request about an item whose id is a multiple
  // of this answers 500, however often it is asked (0: none).
  std::uint64_t fail_ids_every = 0;
};

// An outage: from the `after`-th request on (counted from 1), for
// `duration`, every request is answered 503 (no Retry-After) or, with
// `close`, its connection is closed without an answer, as is every new
// connection; then the API answers again.
struct OutageOptions {
  std::uint64_t after = 0;  // 0: no outage
  std::chrono::milliseconds duration{0};
  bool close = false;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;                // 0: any free port (see Server::port())
  std::chrono::microseconds latency{0};  // added to every answer,
  std::chrono::microseconds jitter{0};   // plus a uniform [0, jitter]
  std::uint64_t max_id = 0;              // 0: every positive id exists
  std::size_t pad_bytes = 0;             // added to every events answer (a "pad" field): large answers
  // Answers gzipped (level 1, nginx's default gzip_comp_level) when the
  // request accepts gzip, as a server with `gzip on` for JSON does.
  bool gzip = false;
  FaultOptions faults;
  OutageOptions outage;
  int threads = 1;
};

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;
  std::uint64_t not_found = 0;
  std::uint64_t faults = 0;
  std::uint64_t outage_answers = 0;  // requests (or connections) refused by the outage
  std::uint64_t gzipped = 0;         // answers sent gzip-compressed
};

class Server {
 public:
  // Listens and starts serving. Fails with kInvalidArgument for bad options
  // or kUnavailable naming the address when it cannot listen.
  static Result<std::unique_ptr<Server>> start(ServerOptions options);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"
  ServerStats stats() const;
  // Stops accepting, closes every connection, joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::mockapi
