// The command's log on standard error: one line per event, each with its
// time (UTC, milliseconds), level, the run's id and shard when there is a
// run, and the message; as text for people or as JSON for a log pipeline
// (Loki, CloudWatch, Elasticsearch):
//
//   2026-11-30T14:20:01.123Z info  [run 5f3a9c1e shard 1/4] 1200 of 1500 read done, ...
//   {"time":"2026-11-30T14:20:01.123Z","level":"info","run":"5f3a9c1e","shard":"1/4",
//    "command":"run","msg":"progress","read":1500,"done":1200,...}
//
// Lines are written whole (one write each) from any thread. The summary of
// a run goes to standard output as before; this is everything else.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "sluice/status.h"

namespace sluice::cli {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
enum class LogFormat : std::uint8_t { kText, kJson };

// "debug", "info", "warn" (or "warning"), "error"; "text", "json".
Result<LogLevel> parse_log_level(std::string_view s);
Result<LogFormat> parse_log_format(std::string_view s);

// A field of a JSON line (text lines carry the message only): a string, a
// count, a number, or JSON written as it is (JsonText).
struct JsonText {
  std::string json;
};
struct LogField {
  std::string_view key;
  std::variant<std::string, std::uint64_t, double, JsonText> value;
};

// Set once, before any thread logs.
void configure_log(LogFormat format, LogLevel level, std::string command);
// The run's id and shard ("1/4"; empty: not sharded), once known.
void set_log_run(std::string run_id, std::string shard);
// -q: nothing below `at_least` (the configured level if higher).
void raise_log_level(LogLevel at_least);
LogFormat log_format();
bool log_enabled(LogLevel level);

void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
inline void log_debug(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kDebug, m, f); }
inline void log_info(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kInfo, m, f); }
inline void log_warn(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kWarn, m, f); }
inline void log_error(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kError, m, f); }

// Text logs on a terminal share it with the progress line: a log line
// clears it first (it is drawn again at its next tick).
void set_progress_shown(bool shown);

}  // namespace sluice::cli
