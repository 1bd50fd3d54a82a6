// The `sluice` command.
#include <malloc.h>

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <cstdio>

#include "commit.h"
#include "demo.h"
#include "inspect.h"
#include "log.h"
#include "mock_api.h"
#include "run.h"

namespace {

int run_main(int argc, char** argv) {
  // glibc's defaults let a long run's memory creep: many arenas, and a
  // large-allocation threshold that rises after each big free so that later
  // big blocks fragment the heap. Fixed values keep the peak flat however
  // long the input. Eight arenas are enough for each of the run's threads
  // (event loop, CPU pool, reader, writer) to have its own: with two, they
  // shared one by chance of start order, and runs that drew the event loop
  // and the CPU pool together took ~1.7x the context switches and ~15 % more
  // CPU per record (reference workload, 20,000 records, 256 in flight).
  // NOLINTBEGIN(concurrency-mt-unsafe): no other thread exists yet
  mallopt(M_ARENA_MAX, 8);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  // NOLINTEND(concurrency-mt-unsafe)
  CLI::App app{"sluice: data pipelines heavy on both I/O and CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice " SLUICE_VERSION);
  // Options of every command, before or after its name.
  app.fallthrough();
  std::string log_format = "text", log_level = "info";
  // The parsers say what is wrong with a value; parsed again below, once valid.
  auto valid = [](auto parse) {
    return [parse](const std::string& s) {
      auto r = parse(s);
      return r.ok() ? std::string() : r.status().message();
    };
  };
  app.add_option("--log-format", log_format,
                 "text: lines for people; json: one JSON object a line (time, level, run, shard, command, msg, and "
                 "the event's fields) for a log pipeline")
      ->envname("SLUICE_LOG_FORMAT")
      ->check(valid(sluice::cli::parse_log_format));
  app.add_option("--log-level", log_level, "debug, info, warn or error: the least level logged")
      ->envname("SLUICE_LOG_LEVEL")
      ->check(valid(sluice::cli::parse_log_level));

  sluice::cli::DemoOptions demo;
  std::uint64_t latency_us = static_cast<std::uint64_t>(demo.latency.count());
  auto* demo_cmd = app.add_subcommand("demo", "run a small example pipeline of the reference workload's shape");
  demo_cmd->add_option("--records", demo.records, "records to process")->check(CLI::Range(1, 100'000'000));
  demo_cmd->add_option("--latency-us", latency_us, "simulated latency of each API call")
      ->check(CLI::Range(0, 10'000'000));
  demo_cmd->add_option("--in-flight", demo.in_flight, "calls in flight at once")->check(CLI::Range(1, 100'000));
  demo_cmd->add_option("--cpu-threads", demo.cpu_threads, "CPU pool threads (0: automatic)")
      ->check(CLI::Range(0, 1024));

  std::string inspect_path;
  std::size_t inspect_rows = 5;
  auto* inspect_cmd =
      app.add_subcommand("inspect", "print a Parquet file's schema, row groups, statistics and first rows");
  inspect_cmd->add_option("file", inspect_path, "the Parquet file")->required();
  inspect_cmd->add_option("--rows", inspect_rows, "first rows to print")->check(CLI::Range(0, 1'000'000));

  sluice::cli::MockApiOptions mock;
  auto* mock_cmd = app.add_subcommand("mock-api", "serve the reference workload's API, or write its data files");
  sluice::cli::add_mock_api_options(*mock_cmd, mock);

  sluice::cli::RunCommandOptions run;
  auto* run_cmd = app.add_subcommand("run", "run a pipeline file");
  sluice::cli::add_run_options(*run_cmd, run);
  sluice::cli::RunCommandOptions stream;
  auto* stream_cmd = app.add_subcommand(
      "stream", "records as JSON lines on standard input, each one's features as a JSON line on standard output");
  sluice::cli::add_stream_options(*stream_cmd, stream);
  sluice::cli::RunCommandOptions serve;
  auto* serve_cmd = app.add_subcommand(
      "serve", "serve the pipeline over HTTP: POST records to /v1/features, each answered with its features");
  sluice::cli::add_serve_options(*serve_cmd, serve);
  sluice::cli::RunCommandOptions validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a pipeline file without running it");
  sluice::cli::add_validate_options(*validate_cmd, validate);

  sluice::cli::JobCommandOptions commit;
  auto* commit_cmd = app.add_subcommand(
      "commit", "make the committed shards of a job one dataset: check them, merge their manifests, write _SUCCESS");
  sluice::cli::add_job_options(*commit_cmd, commit);
  sluice::cli::JobCommandOptions status;
  auto* status_cmd =
      app.add_subcommand("status", "where each shard of a job is: committed, or its attempts and their progress");
  sluice::cli::add_job_options(*status_cmd, status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the message (or the help); a usage error exits 2, as is usual.
    return app.exit(e) == 0 ? 0 : 2;
  }

  sluice::cli::configure_log(*sluice::cli::parse_log_format(log_format), *sluice::cli::parse_log_level(log_level),
                             app.get_subcommands().front()->get_name());

  if (demo_cmd->parsed()) {
    demo.latency = std::chrono::microseconds(latency_us);
    return sluice::cli::run_demo(demo);
  }
  if (inspect_cmd->parsed()) return sluice::cli::run_inspect(inspect_path, inspect_rows, stdout);
  if (mock_cmd->parsed()) return sluice::cli::run_mock_api(mock);
  if (run_cmd->parsed()) return sluice::cli::run_pipeline_command(run);
  if (validate_cmd->parsed()) return sluice::cli::validate_command(validate);
  if (stream_cmd->parsed()) return sluice::cli::stream_command(stream);
  if (serve_cmd->parsed()) return sluice::cli::serve_command(serve);
  if (commit_cmd->parsed()) return sluice::cli::commit_command(commit);
  if (status_cmd->parsed()) return sluice::cli::status_command(status);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Errors are Status values; an exception reaching here is a bug: say so
  // and exit 70 (EX_SOFTWARE) rather than abort.
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    sluice::cli::log_error(std::string("internal error: ") + e.what());
  } catch (...) {
    sluice::cli::log_error("internal error: an unknown exception");
  }
  return 70;
}
