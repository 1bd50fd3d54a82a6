// `sluice stream FILE`: JSON lines of records on standard input, a JSON line
// of each one's outcome on standard output, the summary on standard error.
#pragma once

#include <CLI/App.hpp>

#include "job_command.h"

namespace sluice::cli {

struct StreamOptions {
  JobCommandOptions job;
  bool ordered = false;  // lines in the input's order
};

void add_stream_options(CLI::App& cmd, StreamOptions& o);

// Exit codes as run's (run.h).
int stream_command(const StreamOptions& o);

}  // namespace sluice::cli
