#include "job_command.h"

#include <fstream>
#include <string_view>

#include "log.h"
#include "signals.h"
#include "sluice/detail/random_id.h"

namespace sluice::cli {

void add_pipeline_file(CLI::App& cmd, PipelineFile& f) {
  cmd.add_option("file", f.path, "the pipeline file (YAML)")->required();
  cmd.add_option("--set", f.sets, "override a setting of the file: --set http.max_in_flight=512 (repeatable)");
}

void add_threads(CLI::App& cmd, JobCommandOptions& o) {
  cmd.add_option("--io-threads", o.io_threads, "event-loop threads")->check(CLI::Range(1, 64));
  cmd.add_option("--cpu-threads", o.cpu_threads, "CPU pool threads (0: cores minus I/O threads)")
      ->check(CLI::Range(0, 1024));
  cmd.add_option("--grace", o.grace_seconds,
                 "after Ctrl-C or SIGTERM, seconds to finish records in flight before abandoning them")
      ->check(CLI::Range(0.0, 86400.0));
}

std::string start_run_log() {
  std::string id = detail::random_hex(8);
  set_log_run(id, "");
  return id;
}

int exit_code_of(const Status& why) {
  switch (why.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnimplemented:
      return 4;  // credentials refused, a bucket or file missing, the output holding another run,
                 // a store without the atomic create a shard's commit needs
    default:
      return 1;  // the API or the store down, a timeout, a write the system refused
  }
}

int open_failed(const Status& why) {
  const bool in_the_file = why.code() == StatusCode::kInvalidArgument || why.code() == StatusCode::kNotFound;
  log_error(why.message());
  return in_the_file ? 2 : exit_code_of(why);
}

void report_summary(const JobSummary& s, const JobCommandOptions& o) {
  if (!o.summary_json.empty()) std::ofstream(o.summary_json) << s.to_json() << "\n";
  if (log_format() == LogFormat::kJson && !o.quiet) log_info("summary", {{"summary", JsonText{s.to_json()}}});
}

int ended(const JobSummary& s, const JobCommandOptions& o, const Signals& signals, const char* command) {
  report_summary(s, o);
  // A run a signal stopped exits as the shell reports a process the signal
  // ended (128 + its number), after committing: a scheduler that retries
  // failed tasks (a Kubernetes Job, cron with a check) must not take it for
  // a complete run.
  const int by_signal = signals.exit_code();
  const bool files = std::string_view(command) == "run";
  if (signals.aborted()) {
    log_error("abandoned; " + std::to_string(s.counts.unfinished) + " records were not finished" +
                  (files ? " (--resume does them)" : ""),
              {{"unfinished", s.counts.unfinished}});
    return by_signal;
  }
  if (!s.status.ok()) {
    log_error(s.status.to_string(), {{"code", std::string(to_string(s.status.code()))}});
    return exit_code_of(s.status);
  }
  if (by_signal != 0 && s.stopped_early) {
    log_warn(std::string("stopped by a signal before the end of the input") + (files ? "; --resume carries on" : ""));
    return by_signal;
  }
  return s.counts.dead_lettered > 0 ? 3 : 0;
}

}  // namespace sluice::cli
