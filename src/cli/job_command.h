// What the commands that run a job (run, stream, serve) share: the pipeline
// file, the threads, the run's log, the summary and the exit codes.
#pragma once

#include <CLI/App.hpp>
#include <string>
#include <vector>

#include "sluice/job_summary.h"
#include "sluice/status.h"

namespace sluice::cli {

class Signals;

// The pipeline file and the settings --set overrides in it (validate's too).
struct PipelineFile {
  std::string path;
  std::vector<std::string> sets;  // --set key=value
};
void add_pipeline_file(CLI::App& cmd, PipelineFile& f);

// What run, stream and serve take alike.
struct JobCommandOptions {
  PipelineFile file;
  int io_threads = 1;
  int cpu_threads = 0;
  double grace_seconds = 30;  // after the first signal, before the records in flight are abandoned
  bool quiet = false;
  std::string summary_json;
};
// --io-threads, --cpu-threads and --grace, last in each command's help
// (the file first: add_pipeline_file; --quiet and --summary-json are each
// command's own to word).
void add_threads(CLI::App& cmd, JobCommandOptions& o);

// This process's run id (8 hex digits), drawn and set for the log; the
// command passes it on in JobOptions::run_id so that the summary names it too.
std::string start_run_log();

// What a scheduler that retries failed tasks should do about a job that
// failed with `why` (exit codes: run.h): 1 when trying again may get past
// it, 4 when only a change can (a Kubernetes podFailurePolicy or an AWS
// Batch evaluateOnExit fails the task at once on 2 and 4).
int exit_code_of(const Status& why);

// A job that could not be opened: logs why; the exit code (2: the file,
// its settings or the files it names; else as exit_code_of).
int open_failed(const Status& why);

// The summary to --summary-json, and as the last JSON log line (unless -q).
void report_summary(const JobSummary& s, const JobCommandOptions& o);

// The exit code of a job that ran (run and stream), after reporting its
// summary: see run.h.
int ended(const JobSummary& s, const JobCommandOptions& o, const Signals& signals, const char* command);

}  // namespace sluice::cli
