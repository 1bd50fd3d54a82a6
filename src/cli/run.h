// `sluice run FILE`: a pipeline run over its whole input, to files.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>

#include "job_command.h"

namespace sluice::cli {

struct RunOptions {
  JobCommandOptions job;
  std::uint64_t limit = 0;
  std::string shard;  // "I/N", or "auto" (from the scheduler)
  bool resume = false;
  std::string output;
  std::string metrics_addr;
  std::string metrics_file;      // node_exporter's textfile collector: rewritten atomically
  std::string metrics_push;      // a Prometheus Pushgateway
  double metrics_interval = 10;  // seconds between rewrites of metrics_file and pushes
};

void add_run_options(CLI::App& cmd, RunOptions& o);

// Exit codes: 0 every record written, filtered or not joined; 3 the run
// completed but some records were dead-lettered; 1 the run failed for a
// reason a retry may get past (the API or the store down, a timeout, a
// refused write; what was finished is committed, --resume carries on);
// 4 it failed for one a retry cannot (credentials refused, a bucket
// missing, the output holding another run, a changed input under
// --resume); 2 the pipeline file or the command line is wrong; 130 or 143
// stopped, or abandoned, by a signal. `sluice stream` exits the same way.
int run_pipeline_command(const RunOptions& o);

}  // namespace sluice::cli
