// The engine: runs a plan by joining the rooms of a record's life into one
// flow (docs/architecture.md draws it):
//   input.h      rows read on a thread of their own into records;
//   fetch.h      each record admitted (admission.h: the byte bound), its
//                requests made as coroutines on the event loop, then its
//                row evaluated on the CPU pool (evaluate.h), in batches
//                (evaluations.h);
//   columns.h    batches of ended records into Parquet column batches and
//                dead letters, on the CPU pool;
//   commit.h     one writer stage: files, dead letters, the manifest;
//   server.h     or, serving, records that come in HTTP requests, each
//                answered with its outcome (lines.h).
// The engine builds them, runs the flow, and sums the run up. It is what
// sluice::Job (include/sluice/job.h, which says what a run promises) runs
// once the file is planned.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "pipeline/plan/plan.h"
#include "sluice/job_options.h"
#include "sluice/job_summary.h"

namespace sluice::pipeline {

// What its members do, and from which threads, Job's say.
class Engine {
 public:
  // Where records go: Parquet files and dead letters under the output
  // (run), or a JSON line each to a caller (stream; no output is opened),
  // or answers to HTTP requests, which the records come in (serve; neither
  // input nor output is opened). One engine does one of them: the others
  // return a summary whose status is kFailedPrecondition.
  enum class Output : std::uint8_t { kFiles, kLines, kServed };
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<Plan> plan, JobOptions options,
                                                Output output = Output::kFiles);
  ~Engine();

  JobSummary run();  // kFiles
  // Every record's outcome to `emit` (lines.h), as it ends, in the order
  // they end (`ordered`: the input's); emit runs on the event loop and its
  // waiting holds records back. kLines.
  JobSummary stream(const std::function<void(std::string_view line)>& emit, bool ordered = false);
  // Serves until stop() (then drains) or abort(). kServed.
  JobSummary serve(const ServeOptions& options);
  // Reads the datasets anew and swaps them in; on failure keeps the old.
  Status reload_datasets();
  JobProgress progress() const;
  std::vector<std::pair<std::string, LatencyCounts>> step_latencies() const;
  std::vector<StepAnswers> step_answers() const;
  http::ClientStats http_stats() const;
  void stop();
  void abort();

 private:
  struct State;
  explicit Engine(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::pipeline
