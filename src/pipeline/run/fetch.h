// Fetch: a record's life from its admission to its evaluation, and every
// request it makes on the way.
//
// A record is admitted (Admission: the byte bound), then its steps run in
// order. Each request is rendered from the step's templates (request.h: path, query,
// body) and the record's values, and sent through the run's gate
// (http.max_in_flight slots; a record's follow-ups go before new records'
// first requests) once the byte bound lets it. A step with for_each fans
// out, its answers kept in loop order; a step's fields are read as soon as
// its answer is in (later steps need them); keep_if may end the record
// there. When the last answer is in, the record is evaluated on the CPU pool
// (evaluate.h), in a batch with the others ready then (evaluations.h); an
// answer that cannot be read is asked for again, up to the retry policy's
// attempts.
//
// A record given up on (Record::given_up) sends no request after that: one
// waiting for a slot gives it back, and the record ends with kDeadlineExceeded
// (requests already sent run to their end; on HTTP/1.1 the only way to
// cancel one is to close its connection, which costs more than its answer).
//
// A record that fails is dead-lettered with the step, the URL (secrets
// redacted) and why, unless the failure is the run's (the API given up on,
// the run stopping): then it is left unfinished, for a resume to do again,
// and an API given up on is reported through `fail_run`.
//
// Thread safety: the coroutines run on the runtime's event loop; the
// counters may be read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "pipeline/plan/plan.h"
#include "pipeline/run/admission.h"
#include "pipeline/run/evaluations.h"
#include "pipeline/run/record.h"
#include "sluice/histogram.h"
#include "sluice/http/client.h"
#include "sluice/runtime.h"
#include "sluice/semaphore.h"

namespace sluice::pipeline {

class Fetch {
 public:
  // `client` may be null when the plan has no steps.
  Fetch(const Plan& plan, Runtime& rt, http::Client* client, Admission& admission,
        std::function<void(const Status&)> fail_run);

  // The record through admission, its steps and its evaluation; it comes
  // back with its outcome set (and its row, when written).
  boost::asio::awaitable<Record> record(Record r);

  // Requests waiting for a slot fail at once, and so do later ones.
  void close() { gate_.close(); }

  std::uint64_t records_in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::uint64_t requests_waiting() const { return requests_waiting_.load(std::memory_order_relaxed); }
  std::uint64_t answer_retries() const { return answer_retries_.load(std::memory_order_relaxed); }
  // Each step's requests that were answered, from their slot to their answer
  // (retries included), by step.
  LatencyCounts step_latency(std::size_t step) const { return step_latency_[step]->snapshot(); }
  // Each step's requests by how they ended, after their retries: the class
  // of the last answer, 2xx to 5xx (indices 0 to 3), or no answer (4).
  static constexpr std::size_t kNoAnswer = 4;
  std::array<std::uint64_t, 5> step_answers(std::size_t step) const {
    std::array<std::uint64_t, 5> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = (*step_answers_[step])[i].load(std::memory_order_relaxed);
    return out;
  }
  // Batches of records evaluated on the CPU pool, and the records in them.
  std::uint64_t cpu_batches() const { return evaluations_.batches(); }
  std::uint64_t cpu_batch_records() const { return evaluations_.records(); }
  // Fan-out requests run as coroutines of their own; a cancelled run can
  // end before them, and must wait for this to be 0 before it goes away.
  std::uint64_t children() const { return children_.load(std::memory_order_acquire); }

 private:
  static constexpr std::int64_t kMaxFanOut = 10000;  // requests of one step for one record

  boost::asio::awaitable<void> run_steps(Record& r);
  boost::asio::awaitable<bool> single(const StepPlan& s, int si, Record& r);
  boost::asio::awaitable<bool> fan_out(const StepPlan& s, int si, Record& r, std::int64_t first, std::int64_t end);
  // An answer's body and Content-Encoding (see http::Request::decode).
  struct Body {
    std::string bytes;
    std::string encoding;
  };
  // For step `step`; `given_up`: the record's (see Record::given_up), may
  // be null.
  boost::asio::awaitable<Result<Body>> call(http::Request req, int step, AsyncSemaphore::Priority priority,
                                            std::shared_ptr<const std::atomic<bool>> given_up);
  boost::asio::awaitable<void> finish(Record& r);
  std::string url_of(const StepPlan& s, const Record& r, std::int64_t loop) const;
  void keep(Record& r, int step, std::int64_t loop, Body body);
  void drop_answers(Record& r);
  void kill(Record& r, const std::string& step, std::string url, const Status& s);
  int attempts() const;

  const Plan& plan_;
  http::Client* client_;
  Admission& admission_;
  std::function<void(const Status&)> fail_run_;
  AsyncSemaphore gate_;
  Evaluations evaluations_;  // records whose answers are in, to the CPU pool in batches
  std::vector<std::unique_ptr<LatencyHistogram>> step_latency_;
  std::vector<std::unique_ptr<std::array<std::atomic<std::uint64_t>, 5>>> step_answers_;
  std::atomic<std::uint64_t> in_flight_{0}, requests_waiting_{0}, answer_retries_{0}, children_{0};
};

}  // namespace sluice::pipeline
