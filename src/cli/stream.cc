#include "stream.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>

#include "log.h"
#include "signals.h"
#include "sluice/job.h"
#include "summary.h"

namespace sluice::cli {

void add_stream_options(CLI::App& cmd, StreamOptions& o) {
  add_pipeline_file(cmd, o.job.file);
  cmd.add_flag("--quiet,-q", o.job.quiet, "no summary at the end");
  cmd.add_flag("--ordered", o.ordered,
               "lines in the input's order (a record that ends early waits for those before it), not as records end");
  cmd.add_option("--summary-json", o.job.summary_json, "also write the summary as JSON to this file");
  add_threads(cmd, o.job);
}

namespace {

// Lines to standard output for `sluice stream`, each whole: while the
// reader of the output keeps up, as they come; while it does not, the
// stream waits for it (its records are held back), but never past an
// abandon (a second signal, or the grace period): a write that cannot go
// on then is given up, and every later line with it, so that the signal
// ends the process even when nobody reads what it writes.
class StdoutLines {
 public:
  explicit StdoutLines(const Signals& signals) : signals_(signals) {}

  void write(std::string_view line) {
    if (gave_up_) {
      ++dropped_;
      return;
    }
    std::string bytes(line);
    bytes += '\n';
    std::string_view rest = bytes;
    while (!rest.empty()) {
      pollfd p{.fd = STDOUT_FILENO, .events = POLLOUT, .revents = 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        if (signals_.aborted()) break;
        continue;
      }
      // After POLLOUT a pipe takes a page without blocking.
      const ssize_t n = ::write(STDOUT_FILENO, rest.data(), std::min<std::size_t>(rest.size(), 4096));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;  // the reader is gone (EPIPE)
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (rest.empty()) return;
    gave_up_ = true;
    ++dropped_;
  }
  // Lines that could not be written (standard output not read, or closed).
  std::uint64_t dropped() const { return dropped_; }

 private:
  const Signals& signals_;
  bool gave_up_ = false;
  std::uint64_t dropped_ = 0;
};

}  // namespace

int stream_command(const StreamOptions& o) {
  Signals::block();
  const std::string run_id = start_run_log();
  // Records come as JSON lines on standard input; one asked for again is
  // answered again (the file's own --set may say otherwise).
  JobOptions options{.sets = {"input.path=-", "input.format=jsonl", "input.duplicates=keep"},
                     .run_id = run_id,
                     .io_threads = o.job.io_threads,
                     .cpu_threads = o.job.cpu_threads};
  options.sets.insert(options.sets.end(), o.job.file.sets.begin(), o.job.file.sets.end());
  auto job = Job::open_stream(o.job.file.path, std::move(options));
  if (!job.ok()) return open_failed(job.status());
  Job& e = **job;
  Signals signals(e, o.job.grace_seconds);
  StdoutLines out(signals);
  // Each record's line as soon as it is known.
  JobSummary s = e.stream([&out](std::string_view line) { out.write(line); }, o.ordered);
  signals.finish();
  if (out.dropped() > 0) {
    log_error(std::to_string(out.dropped()) + " lines could not be written: standard output was not read, or closed",
              {{"lines_dropped", out.dropped()}});
  }
  if (!o.job.quiet && log_format() == LogFormat::kText) print_summary(s, stderr, /*files=*/false);
  return ended(s, o.job, signals, "stream");
}

}  // namespace sluice::cli
