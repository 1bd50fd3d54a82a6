// Job: a pipeline file run from C++, as `sluice run FILE` runs it.
//
//   sluice::Result<std::unique_ptr<sluice::Job>> job =
//       sluice::Job::open("item-features.yaml", {.sets = {"http.max_in_flight=512"}});
//   if (!job.ok()) { /* job.status() names the file, line and field */ }
//   sluice::JobSummary s = (*job)->run();   // blocks; (*job)->progress() meanwhile
//   if (!s.status.ok() || s.counts.dead_lettered > 0) { ... }
//
// open() reads the file (with `sets` applied as --set does), checks all of
// it, looks at the input's and datasets' files and the cloud credentials,
// loads the datasets and opens the output: what would stop the run as it
// starts is found here, before any record is read. run() then reads every
// record and ends each in exactly one of: written, filtered, not joined (an
// inner join found no row), dead-lettered (a request failed after its
// retries, an answer could not be read, an input row was malformed), or,
// when the run stops before it ends, unfinished (left for `resume`).
// docs/pipeline.md describes the file; docs/architecture.md how a run works.
//
// Thread safety: progress(), http_stats(), stop() and abort() may be called
// from any thread while run() goes on (a signal handler's thread, a metrics
// endpoint); run() once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/histogram.h"
#include "sluice/job_options.h"
#include "sluice/job_summary.h"
#include "sluice/status.h"

namespace sluice {

namespace pipeline {
class Engine;
}

// What a pipeline file holds, checked (`sluice validate`).
struct JobShape {
  std::size_t steps = 0;
  std::size_t joins = 0;
  std::size_t output_columns = 0;
};

class Job {
 public:
  // Errors: kInvalidArgument for what is wrong in the file, the settings or
  // the files they name (every problem of the file at once, each with its
  // line and field); others for what trying again may get past (the output's
  // store unreachable).
  static Result<std::unique_ptr<Job>> open(const std::string& file, JobOptions options = {});

  // For stream() (`sluice stream`): as open(), but the output is neither
  // looked at nor opened: each record's outcome goes to the caller instead.
  static Result<std::unique_ptr<Job>> open_stream(const std::string& file, JobOptions options = {});

  // For serve() (`sluice serve`): as open_stream(), and the input is not
  // looked at either: records come in requests. The datasets are loaded
  // here, so a server is ready once serve() listens.
  static Result<std::unique_ptr<Job>> open_serve(const std::string& file, JobOptions options = {});

  // Reads and checks the file as open() does, without loading the datasets
  // or opening the output; with `look_at_files` false, not the input's and
  // datasets' files or the cloud credentials either (they are elsewhere, or
  // made later).
  static Result<JobShape> check(const std::string& file, const JobOptions& options, bool look_at_files = true);

  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Runs to the end (blocking). The summary is returned even when the run
  // fails: its status says why, and its counts say what was done.
  // (A job from open_stream(): kFailedPrecondition.)
  JobSummary run();
  // A job from open_stream(): runs to the end of the input (blocking), and
  // gives each record's outcome, as it ends, to `emit` as one JSON object
  // (no newline; src/pipeline/run/lines.h shows them):
  //   {"line":3,"status":"ok","features":{...the output columns...}}
  //   {"line":4,"status":"filtered","key":{"id":4}}   (also not_joined, unfinished)
  //   {"line":6,"status":"error","key":{...},"step":"item","url":"...","error":"..."}
  // Lines come in the order records end, or with `ordered` in the input's
  // (a record that ends early waits for those before it, and
  // records_in_flight bounds the records under way and waiting together).
  // `emit` runs on the event loop: while it waits, no answer is read.
  // Nothing is written under the output, so there is no resume.
  JobSummary stream(const std::function<void(std::string_view line)>& emit, bool ordered = false);
  // A job from open_serve(): answers POST /v1/features (and /healthz,
  // /readyz, /metrics) until stop(), which drains: no new connection is
  // taken, /readyz answers 503, requests under way are answered, then it
  // returns. abort() closes every connection at once. Fails (in the
  // summary's status) when it cannot listen.
  JobSummary serve(const ServeOptions& options);
  // Reads the datasets' files anew and swaps them in whole (`sluice serve`
  // on SIGHUP): records being evaluated finish with the set they began
  // with, later ones join against the new; both sets are in memory while
  // the old is in use. On failure (kInvalidArgument naming the file and
  // line) the old set stays. For any job, from any thread.
  Status reload_datasets();
  JobProgress progress() const;
  // Each step's name and the latency of its requests that were answered,
  // from their in-flight slot to their answer (retries included).
  std::vector<std::pair<std::string, LatencyCounts>> step_latencies() const;
  std::vector<StepAnswers> step_answers() const;
  http::ClientStats http_stats() const;
  // Stops reading input; records already read finish and files are
  // committed.
  void stop();
  // Abandons the run: nothing more is committed. Records waiting for a
  // request slot give up at once; requests already sent end by their
  // deadline at the latest, and run() returns after them.
  void abort();

 private:
  explicit Job(std::unique_ptr<pipeline::Engine> engine);
  std::unique_ptr<pipeline::Engine> engine_;
};

}  // namespace sluice
