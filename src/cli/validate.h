// `sluice validate FILE`: the pipeline file checked without running it.
#pragma once

#include <CLI/App.hpp>

#include "job_command.h"

namespace sluice::cli {

struct ValidateOptions {
  PipelineFile file;
  bool offline = false;  // leave out the checks that read files
};

void add_validate_options(CLI::App& cmd, ValidateOptions& o);

// Exit codes: 0 the file is valid; 2 it is not (the reason printed).
int validate_command(const ValidateOptions& o);

}  // namespace sluice::cli
