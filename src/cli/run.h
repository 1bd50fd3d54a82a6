// `sluice run FILE` and `sluice validate FILE`.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::cli {

struct RunCommandOptions {
  std::string file;
  std::vector<std::string> sets;  // --set key=value
  std::uint64_t limit = 0;
  std::string shard;  // "I/N"
  bool resume = false;
  std::string output;
  bool quiet = false;
  std::string summary_json;
  std::string metrics_addr;
  std::string metrics_file;      // node_exporter's textfile collector: rewritten atomically
  std::string metrics_push;      // a Prometheus Pushgateway
  double metrics_interval = 10;  // seconds between rewrites of metrics_file and pushes
  int io_threads = 1;
  int cpu_threads = 0;
  double grace_seconds = 30;
  bool offline = false;  // validate: leave out the checks that read files
  bool ordered = false;  // stream: lines in the input's order
  // serve:
  std::string listen = "127.0.0.1:8080";
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::size_t max_records = 1000;
  std::uint64_t read_timeout_ms = 30000;
};

void add_run_options(CLI::App& cmd, RunCommandOptions& o);
void add_validate_options(CLI::App& cmd, RunCommandOptions& o);

// Exit codes: 0 every record written, filtered or not joined; 3 the run
// completed but some records were dead-lettered; 1 the run failed for a
// reason a retry may get past (the API or the store down, a timeout, a
// refused write; what was finished is committed, --resume carries on);
// 4 it failed for one a retry cannot (credentials refused, a bucket
// missing, the output holding another run, a changed input under
// --resume); 2 the pipeline file or the command line is wrong; 130 or 143
// stopped, or abandoned, by a signal.
int run_pipeline_command(const RunCommandOptions& o);
// sluice stream: JSON lines of records on standard input, a JSON line of
// each one's outcome on standard output, the summary on standard error;
// exit codes as run's.
void add_stream_options(CLI::App& cmd, RunCommandOptions& o);
int stream_command(const RunCommandOptions& o);
// sluice serve: POST /v1/features answered until SIGTERM or Ctrl-C, which
// drain (a second, or --grace passing, closes what is left); SIGHUP reads
// the datasets anew. Exit codes: 0
// drained; 1 it could not listen; 2 the pipeline file or a flag is wrong;
// 128 + the signal's number when closed before drained.
void add_serve_options(CLI::App& cmd, RunCommandOptions& o);
int serve_command(const RunCommandOptions& o);
int validate_command(const RunCommandOptions& o);

}  // namespace sluice::cli
