#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "log.h"
#include "sluice/job.h"
#include "summary.h"

namespace sluice::cli {

namespace {

// "12% of the input, ETA 1m05s" from the bytes read, or "" when the input's
// size is unknown.
std::string eta(const JobProgress& p) {
  if (p.input_bytes_total == 0 || p.input_bytes == 0 || p.read == 0 || p.done() == 0) return "";
  const double fraction = std::min(1.0, static_cast<double>(p.input_bytes) / static_cast<double>(p.input_bytes_total));
  const double total = static_cast<double>(p.read) / fraction;  // records, estimated
  const double rate = static_cast<double>(p.done()) / p.seconds;
  const auto left = static_cast<long long>(std::max(0.0, (total - static_cast<double>(p.done())) / rate));
  char buf[96];
  std::snprintf(buf, sizeof buf, " | %.0f%% of the input, ETA %lldm%02llds", 100 * fraction, left / 60, left % 60);
  return buf;
}

}  // namespace

std::string progress_line(const JobProgress& p) {
  char buf[256];
  double rate = p.seconds > 0 ? static_cast<double>(p.done()) / p.seconds : 0;
  std::snprintf(buf, sizeof buf,
                "%llu of %llu read done, %.0f records/s | records in flight %llu (%s) | requests in flight %llu "
                "(+%llu waiting), sent %llu, retries %llu, failed %llu",
                static_cast<unsigned long long>(p.done()), static_cast<unsigned long long>(p.read), rate,
                static_cast<unsigned long long>(p.records_in_flight),
                human_bytes(static_cast<double>(p.bytes_in_flight)).c_str(),
                static_cast<unsigned long long>(p.requests_in_flight),
                static_cast<unsigned long long>(p.requests_waiting), static_cast<unsigned long long>(p.requests),
                static_cast<unsigned long long>(p.retries), static_cast<unsigned long long>(p.failures));
  std::string line = buf;
  if (p.records_held > 0) line += " | " + std::to_string(p.records_held) + " records held by the byte bound";
  return line + eta(p);
}

namespace {

// Progress as a log line: the progress line as text; in JSON, its numbers
// as fields.
void log_progress(const JobProgress& p) {
  if (log_format() == LogFormat::kText) {
    log_info(progress_line(p));
    return;
  }
  log_info("progress", {{"read", p.read},
                        {"done", p.done()},
                        {"written", p.written},
                        {"filtered", p.filtered},
                        {"not_joined", p.not_joined},
                        {"dead_lettered", p.dead_lettered},
                        {"skipped", p.skipped},
                        {"records_per_second", p.seconds > 0 ? static_cast<double>(p.done()) / p.seconds : 0.0},
                        {"records_in_flight", p.records_in_flight},
                        {"bytes_in_flight", p.bytes_in_flight},
                        {"records_held", p.records_held},
                        {"requests_in_flight", p.requests_in_flight},
                        {"requests_waiting", p.requests_waiting},
                        {"requests", p.requests},
                        {"retries", p.retries},
                        {"failures", p.failures},
                        {"seconds", p.seconds}});
}

// The progress line as wide as the terminal is now (so it follows resizes):
// a line that wraps leaves rows that \r and \033[K cannot clear. Parts go
// from the end, then the line is cut; the last column stays free.
std::string fit_to_terminal(std::string line) {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) != 0 || w.ws_col == 0) return line;
  const std::size_t room = w.ws_col - 1u;
  while (line.size() > room) {
    const auto part = line.rfind(" | ");
    if (part == std::string::npos) {
      line.resize(room);
      break;
    }
    line.resize(part);
  }
  return line;
}

}  // namespace

ProgressReporter::ProgressReporter(const Job& job, bool quiet, std::function<void()> exports, double interval_seconds)
    : job_(job), quiet_(quiet), exports_(std::move(exports)), interval_seconds_(interval_seconds), thread_([this] {
        report();
      }) {}

void ProgressReporter::stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProgressReporter::report() {
  if (quiet_ && !exports_) return;
  const bool live = ::isatty(STDERR_FILENO) && log_format() == LogFormat::kText && log_enabled(LogLevel::kInfo);
  const auto started = std::chrono::steady_clock::now();
  auto last_log = started;
  auto last_export = started;
  const auto export_every = std::chrono::duration<double>(interval_seconds_);
  // A look a second, or each export's interval when shorter.
  const auto look_every =
      std::chrono::milliseconds(exports_ ? std::min<long>(1000, static_cast<long>(interval_seconds_ * 1000)) : 1000);
  MutexLock lock(mu_);
  while (!stopped_) {
    const auto tick = std::chrono::steady_clock::now() + look_every;
    while (!stopped_ && cv_.wait_until(lock, tick)) {
    }
    if (stopped_) break;
    const auto now = std::chrono::steady_clock::now();
    if (exports_ && now - last_export >= export_every) {
      last_export = now;
      exports_();
    }
    if (quiet_) continue;
    if (live) {
      std::fprintf(stderr, "\r\033[K%s", fit_to_terminal(progress_line(job_.progress())).c_str());
      set_progress_shown(true);
    } else if (now - last_log >= std::chrono::seconds(10)) {
      last_log = now;
      log_progress(job_.progress());
    }
  }
  if (live && !quiet_) {
    std::fprintf(stderr, "\r\033[K");
    set_progress_shown(false);
  }
}

}  // namespace sluice::cli
