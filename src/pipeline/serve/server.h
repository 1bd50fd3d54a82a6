// Server: `sluice serve`'s HTTP/1.1 front. Each connection is a coroutine
// on the runtime's event loop (on a strand of its own); each record of a
// request runs through the engine as `sluice run` would run it (its
// requests, through the same gate and client; its evaluation, on the same
// CPU pool), and the request is answered when its last record ends or its
// deadline passes, whichever is first.
//
//   POST /v1/features   records -> their outcomes (serve_request.h, lines.h)
//   GET  /healthz       200 while the process serves
//   GET  /readyz        200 once listening, 503 while draining
//   GET  /metrics       Prometheus text: the server's, then ServeOptions::metrics
//
// Overload: at most records_in_flight + queue_capacity records are under
// way at once (or one request's, if it alone holds more); a request that
// would pass that, or whose deadline is shorter than records may take now
// (their smoothed mean plus four mean deviations, as TCP estimates a
// retransmission timeout), is answered 503 with Retry-After at once, and
// costs nothing more.
//
// Thread safety: counts() and stats() from any thread; drain() and abort()
// from any thread, once each.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>

#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"
#include "sluice/job_options.h"
#include "sluice/job_summary.h"
#include "sluice/runtime.h"

namespace sluice::pipeline {

class Server {
 public:
  // A record through its requests and evaluation (the engine's).
  using RunRecord = std::function<boost::asio::awaitable<Record>(Record)>;

  // Listens (kUnavailable naming the address when it cannot) and serves.
  static Result<std::unique_ptr<Server>> start(const Plan& plan, Runtime& rt, RunRecord run, ServeOptions options);
  // Waits for every coroutine it started. REQUIRES: drain() or abort()
  // was called (else its connections go on, and this waits for them).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops taking connections and closes idle ones; requests under way are
  // answered (with Connection: close). `drained` is called, once, on the
  // event loop, when no connection is left.
  void drain(std::function<void()> drained);
  // Closes every connection now; records under way end on their own.
  void abort();

  // Records asked for and what they were answered (read: accepted; done:
  // answered).
  JobProgress counts() const;
  ServeStats stats() const;

 private:
  struct Impl;
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::pipeline
