// The `sluice` command.
#include <malloc.h>

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "commit.h"
#include "demo.h"
#include "inspect.h"
#include "log.h"
#include "mock_api.h"
#include "run.h"
#include "serve.h"
#include "stream.h"
#include "validate.h"

namespace {

using namespace sluice::cli;

// glibc's defaults let a long run's memory creep: many arenas, and a
// large-allocation threshold that rises after each big free so that later
// big blocks fragment the heap. Fixed values keep the peak flat however
// long the input. Eight arenas are enough for each of the run's threads
// (event loop, CPU pool, reader, writer) to have its own: with two, they
// shared one by chance of start order, and runs that drew the event loop
// and the CPU pool together took ~1.7x the context switches and ~15 % more
// CPU per record (reference workload, 20,000 records, 256 in flight).
void tune_malloc() {
  // NOLINTBEGIN(concurrency-mt-unsafe): no other thread exists yet
  mallopt(M_ARENA_MAX, 8);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  // NOLINTEND(concurrency-mt-unsafe)
}

// --log-format and --log-level, of every command.
struct LogOptions {
  std::string format = "text", level = "info";
};

void add_log_options(CLI::App& app, LogOptions& o) {
  // The parsers say what is wrong with a value; parsed again once valid.
  auto valid = [](auto parse) {
    return [parse](const std::string& s) {
      auto r = parse(s);
      return r.ok() ? std::string() : r.status().message();
    };
  };
  app.add_option("--log-format", o.format,
                 "text: lines for people; json: one JSON object a line (time, level, run, shard, command, msg, and "
                 "the event's fields) for a log pipeline")
      ->envname("SLUICE_LOG_FORMAT")
      ->check(valid(parse_log_format));
  app.add_option("--log-level", o.level, "debug, info, warn or error: the least level logged")
      ->envname("SLUICE_LOG_LEVEL")
      ->check(valid(parse_log_level));
}

// Each command: its options, filled by the parse, and what runs it.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

template <class Options, class Add, class Run>
Command command(CLI::App& app, const char* name, const char* what, Options& options, Add add, Run run) {
  CLI::App* cmd = app.add_subcommand(name, what);
  add(*cmd, options);
  return {cmd, [&options, run] { return run(options); }};
}

struct Commands {
  DemoOptions demo;
  InspectOptions inspect;
  MockApiOptions mock;
  RunOptions run;
  StreamOptions stream;
  ServeCommandOptions serve;
  ValidateOptions validate;
  ShardedJobOptions commit, status;

  std::vector<Command> add_to(CLI::App& app) {
    return {
        command(app, "demo", "run a small example pipeline of the reference workload's shape", demo, add_demo_options,
                run_demo),
        command(app, "inspect", "print a Parquet file's schema, row groups, statistics and first rows", inspect,
                add_inspect_options, [](const InspectOptions& o) { return run_inspect(o, stdout); }),
        command(app, "mock-api", "serve the reference workload's API, or write its data files", mock,
                add_mock_api_options, run_mock_api),
        command(app, "run", "run a pipeline file", run, add_run_options, run_pipeline_command),
        command(app, "stream",
                "records as JSON lines on standard input, each one's features as a JSON line on standard output",
                stream, add_stream_options, stream_command),
        command(app, "serve",
                "serve the pipeline over HTTP: POST records to /v1/features, each answered with its features", serve,
                add_serve_options, serve_command),
        command(app, "validate", "check a pipeline file without running it", validate, add_validate_options,
                validate_command),
        command(app, "commit",
                "make the committed shards of a job one dataset: check them, merge their manifests, write _SUCCESS",
                commit, add_sharded_job_options, commit_command),
        command(app, "status", "where each shard of a job is: committed, or its attempts and their progress", status,
                add_sharded_job_options, status_command),
    };
  }
};

int run_main(int argc, char** argv) {
  tune_malloc();
  CLI::App app{"sluice: data pipelines heavy on both I/O and CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice " SLUICE_VERSION);
  app.fallthrough();  // options of every command, before or after its name
  LogOptions log;
  add_log_options(app, log);
  Commands options;
  const std::vector<Command> commands = options.add_to(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the message (or the help); a usage error exits 2, as is usual.
    return app.exit(e) == 0 ? 0 : 2;
  }
  configure_log(*parse_log_format(log.format), *parse_log_level(log.level), app.get_subcommands().front()->get_name());
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
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
