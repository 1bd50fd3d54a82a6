#include "log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "sluice/detail/json.h"
#include "sluice/detail/mutex.h"

namespace sluice::cli {

namespace {

struct LogState {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
  std::string command;
  Mutex mu;
  std::string run_id SLUICE_GUARDED_BY(mu);
  std::string shard SLUICE_GUARDED_BY(mu);
  std::atomic<bool> progress_shown{false};
};

LogState& state() {
  static LogState s;
  return s;
}

std::string_view level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return Status::InvalidArgument("log level '" + std::string(s) + "': expected debug, info, warn or error");
}

Result<LogFormat> parse_log_format(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return Status::InvalidArgument("log format '" + std::string(s) + "': expected text or json");
}

void configure_log(LogFormat format, LogLevel level, std::string command) {
  LogState& s = state();
  s.format = format;
  s.level = level;
  s.command = std::move(command);
}

void set_log_run(std::string run_id, std::string shard) {
  LogState& s = state();
  MutexLock lock(s.mu);
  s.run_id = std::move(run_id);
  s.shard = std::move(shard);
}

void raise_log_level(LogLevel at_least) { state().level = std::max(state().level, at_least); }
LogFormat log_format() { return state().format; }
bool log_enabled(LogLevel level) { return level >= state().level; }
void set_progress_shown(bool shown) { state().progress_shown = shown; }

void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  LogState& s = state();
  if (level < s.level) return;
  std::string line;
  line.reserve(128 + message.size());
  MutexLock lock(s.mu);
  if (s.format == LogFormat::kJson) {
    line += "{\"time\":\"" + now_utc() + "\",\"level\":\"" + std::string(level_name(level)) + "\"";
    if (!s.run_id.empty()) line += ",\"run\":" + detail::json_quote(s.run_id);
    if (!s.shard.empty()) line += ",\"shard\":" + detail::json_quote(s.shard);
    if (!s.command.empty()) line += ",\"command\":" + detail::json_quote(s.command);
    line += ",\"msg\":" + detail::json_quote(message);
    for (const LogField& f : fields) {
      line += "," + detail::json_quote(f.key) + ":";
      if (const auto* text = std::get_if<std::string>(&f.value)) {
        line += detail::json_quote(*text);
      } else if (const auto* count = std::get_if<std::uint64_t>(&f.value)) {
        line += std::to_string(*count);
      } else if (const auto* number = std::get_if<double>(&f.value)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", *number);
        line += buf;
      } else {
        line += std::get<JsonText>(f.value).json;
      }
    }
    line += "}\n";
  } else {
    if (s.progress_shown.exchange(false)) line += "\r\033[K";
    line += now_utc() + " " + std::string(level_name(level));
    line.append(6 - level_name(level).size(), ' ');
    if (!s.run_id.empty()) {
      line += "[run " + s.run_id + (s.shard.empty() ? "" : " shard " + s.shard) + "] ";
    }
    line += message;
    line += '\n';
  }
  // One write: lines from threads do not interleave, and nothing is
  // buffered to be lost if the process is killed.
  for (std::size_t at = 0; at < line.size();) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + at, line.size() - at);
    if (n <= 0) break;
    at += static_cast<std::size_t>(n);
  }
}

}  // namespace sluice::cli
