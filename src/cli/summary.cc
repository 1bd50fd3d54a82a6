#include "summary.h"

#include <cstdint>

namespace sluice::cli {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// `files`: a run's (rows written to files, dead letters, resumes), else a
// stream's (lines).
void print_summary(const JobSummary& s, std::FILE* out, bool files) {
  const auto& c = s.counts;
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(out,
               files ? "\nrecords   %llu read = %llu written + %llu filtered + %llu not joined + %llu dead-lettered"
                     : "\nrecords   %llu read = %llu ok + %llu filtered + %llu not joined + %llu errors",
               u(c.read), u(c.written), u(c.filtered), u(c.not_joined), u(c.dead_lettered));
  if (c.unfinished > 0)
    std::fprintf(out, " + %llu unfinished%s", u(c.unfinished), files ? " (--resume does them)" : "");
  std::fprintf(out, "  %s\n", s.accounted ? "(accounted)" : "(NOT ACCOUNTED: a bug; please report it)");
  if (s.overwritten > 0)
    std::fprintf(out, "replaced  %zu file(s) of the earlier run removed (output.mode: overwrite)\n", s.overwritten);
  if (c.skipped > 0 || s.abandoned_removed > 0) {
    std::fprintf(out,
                 "resumed   %llu records skipped: an earlier run finished them (see %s); %zu unfinished file(s) it "
                 "left removed\n",
                 u(c.skipped), s.manifest.c_str(), s.abandoned_removed);
  }
  if (s.shard_count > 1) {
    std::fprintf(out, "shard     %u of %u (input records at positions %u, %u, %u, ...)%s%s: %s\n", s.shard_index,
                 s.shard_count, s.shard_index, s.shard_index + s.shard_count, s.shard_index + 2 * s.shard_count,
                 s.attempt.empty() ? "" : ", attempt ", s.attempt.c_str(), s.shard_commit.c_str());
  }
  std::fprintf(out,
               "requests  %llu sent, %llu attempts, %llu retries (+%llu for unreadable answers), %llu failed; "
               "latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
               u(s.http.requests), u(s.http.attempts), u(s.http.retries), u(c.answer_retries), u(s.http.failed),
               static_cast<double>(s.http.latency_quantile(0.5).count()) / 1000,
               static_cast<double>(s.http.latency_quantile(0.9).count()) / 1000,
               static_cast<double>(s.http.latency_quantile(0.99).count()) / 1000);
  if (s.http.stale_resends || s.http.stale_discarded || s.http.budget_waits || s.http.retry_after_ms ||
      s.http.outages || s.http.outage_ms) {
    std::fprintf(out,
                 "          %llu idle connections found closed by the server, %llu requests resent on a new one; %llu "
                 "retries waited for the retry budget; Retry-After waits %.1f s in all; %llu outage(s) of the API, "
                 "down %.1f s\n",
                 u(s.http.stale_discarded), u(s.http.stale_resends), u(s.http.budget_waits),
                 static_cast<double>(s.http.retry_after_ms) / 1000, u(s.http.outages),
                 static_cast<double>(s.http.outage_ms) / 1000);
  }
  // A few files one per line; more in one line (the manifest names each).
  constexpr std::size_t kFilesListed = 4;
  if (s.files.size() <= kFilesListed) {
    for (const auto& f : s.files) {
      std::fprintf(out, "output    %s (%llu rows, %s)\n", f.name.c_str(), u(f.rows),
                   human_bytes(static_cast<double>(f.bytes)).c_str());
    }
  } else {
    std::uint64_t rows = 0, bytes = 0;
    std::string under = s.files.front().name;
    for (const auto& f : s.files) {
      rows += f.rows;
      bytes += f.bytes;
      std::size_t same = 0;
      while (same < under.size() && same < f.name.size() && under[same] == f.name[same]) ++same;
      under.resize(same);
    }
    under.resize(under.rfind('/') + 1);  // a directory, not part of a name
    std::fprintf(out, "output    %zu files, %llu rows, %s, under %s (%s names them)\n", s.files.size(), u(rows),
                 human_bytes(static_cast<double>(bytes)).c_str(), under.c_str(), s.manifest.c_str());
  }
  if (files && s.files.empty()) std::fprintf(out, "output    no file (no record was written)\n");
  if (!s.dead_letter.empty()) {
    std::fprintf(out, "dead      %s (%llu records", s.dead_letter.c_str(), u(c.dead_lettered));
    if (s.duplicates) std::fprintf(out, ", %llu of them duplicate keys", u(s.duplicates));
    std::fprintf(out, ")\n");
  }
  std::fprintf(out, "time      %.2f s, %.0f records/s, CPU %.2f s (%.1f us per record)%s\n", s.seconds,
               s.seconds > 0 ? static_cast<double>(c.read) / s.seconds : 0.0, s.cpu_seconds,
               c.read ? s.cpu_seconds * 1e6 / static_cast<double>(c.read) : 0.0,
               s.stopped_early ? "; stopped early by a signal" : "");
  std::fprintf(out, "memory    peak RSS %s", human_bytes(static_cast<double>(s.peak_rss_bytes)).c_str());
  if (s.dataset_bytes)
    std::fprintf(out, ", datasets %s of it", human_bytes(static_cast<double>(s.dataset_bytes)).c_str());
  if (s.key_index_bytes)
    std::fprintf(out, ", input keys %s", human_bytes(static_cast<double>(s.key_index_bytes)).c_str());
  std::fprintf(out, "; answers held at most %s", human_bytes(static_cast<double>(c.peak_bytes_in_flight)).c_str());
  if (c.records_held_total) std::fprintf(out, " (%llu records waited for the byte bound)", u(c.records_held_total));
  std::fprintf(out, "\n");
}

void print_served(const ServeStats& s, std::FILE* out) {
  std::fprintf(out,
               "served    %llu requests: %llu bad (4xx), %llu shed (503); %llu records past their deadline; "
               "answered in p50 %.2f ms, p99 %.2f ms; shed in p99 %.2f ms\n",
               static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.bad_requests),
               static_cast<unsigned long long>(s.shed), static_cast<unsigned long long>(s.deadline_exceeded),
               static_cast<double>(s.latency.quantile(0.5).count()) / 1000,
               static_cast<double>(s.latency.quantile(0.99).count()) / 1000,
               static_cast<double>(s.shed_latency.quantile(0.99).count()) / 1000);
  if (s.accept_pauses > 0) {
    std::fprintf(out, "          accepting paused %llu times at the open-file limit; %llu idle connections closed\n",
                 static_cast<unsigned long long>(s.accept_pauses), static_cast<unsigned long long>(s.idle_closed));
  }
}

}  // namespace sluice::cli
