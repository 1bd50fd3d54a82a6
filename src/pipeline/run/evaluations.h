// Evaluations: the hand-off of records whose answers are in from the event
// loop to the CPU pool (evaluate.h), a batch at a time.
//
// Handing each record over on its own costs two thread hops per record (a
// wake-up of a CPU worker, then one of the event loop), and on a busy
// machine those system calls and wake-ups cost as much as the evaluation.
// Here a record that asks for its evaluation is queued; the first ask of an
// event-loop turn posts a flush to the end of that turn, which hands what
// is queued by then to the pool, split over the workers that are free. A
// lone record never waits for others: with the pool idle it goes at once.
// While every worker is busy with a batch, records queue, and the next
// batch takes them all when one ends. One batch's records resume on the
// event loop together, in one turn.
//
// Thread safety: evaluate() is called from coroutines on the runtime's event
// loop; counters may be read from any thread.
// Lifetime: every evaluate() must have completed before it is destroyed
// (the engine's flow ends only once its records have).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <vector>

#include "pipeline/plan/plan.h"
#include "pipeline/run/evaluate.h"
#include "pipeline/run/record.h"
#include "sluice/detail/mutex.h"
#include "sluice/detail/unique_function.h"
#include "sluice/runtime.h"

namespace sluice::pipeline {

class Evaluations {
 public:
  Evaluations(const Plan& plan, Runtime& rt);

  // evaluate(plan, r) on the CPU pool; rethrows what it threw.
  boost::asio::awaitable<Evaluation> evaluate(Record& r);

  std::uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  std::uint64_t records() const { return records_.load(std::memory_order_relaxed); }

 private:
  struct Done {
    std::exception_ptr error;
    Evaluation value;
  };
  struct Ask {
    Record* record;
    detail::UniqueFunction<void(Done)> resume;  // runs on the event loop
  };

  void queue(Ask ask);
  void flush();
  void start(std::vector<Ask> batch) SLUICE_REQUIRES(mu_);
  void ended();

  // Records in one batch at most: a bound on how long the first of them
  // waits for the last.
  static constexpr std::size_t kMaxBatch = 64;

  const Plan& plan_;
  Runtime& rt_;
  const int workers_;
  Mutex mu_;
  std::vector<Ask> queued_ SLUICE_GUARDED_BY(mu_);
  bool flush_posted_ SLUICE_GUARDED_BY(mu_) = false;
  int running_ SLUICE_GUARDED_BY(mu_) = 0;  // batches on the pool
  std::atomic<std::uint64_t> batches_{0}, records_{0};
};

}  // namespace sluice::pipeline
