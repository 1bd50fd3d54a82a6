// `sluice serve FILE --listen HOST:PORT`: POST /v1/features answered until
// SIGTERM or Ctrl-C, which drain (a second, or --grace passing, closes what
// is left); SIGHUP reads the datasets anew.
#pragma once

#include <CLI/App.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "job_command.h"

namespace sluice::cli {

struct ServeCommandOptions {
  JobCommandOptions job;
  std::string listen = "127.0.0.1:8080";
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::size_t max_records = 1000;
  std::uint64_t read_timeout_ms = 30000;
};

void add_serve_options(CLI::App& cmd, ServeCommandOptions& o);

// Exit codes: 0 drained; 1 it could not listen; 2 the pipeline file or a
// flag is wrong; 128 + the signal's number when closed before drained.
int serve_command(const ServeCommandOptions& o);

}  // namespace sluice::cli
