#include "run.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include "job_cli.h"
#include "metrics.h"
#include "sluice/detail/mutex.h"
#include "sluice/detail/random_id.h"
#include "sluice/job.h"
#include "sluice/shards.h"

namespace sluice::cli {

// The threads of a job, and how long a signal gives the records in flight.
void add_threads(CLI::App& cmd, RunCommandOptions& o) {
  cmd.add_option("--io-threads", o.io_threads, "event-loop threads")->check(CLI::Range(1, 64));
  cmd.add_option("--cpu-threads", o.cpu_threads, "CPU pool threads (0: cores minus I/O threads)")
      ->check(CLI::Range(0, 1024));
  cmd.add_option("--grace", o.grace_seconds,
                 "after Ctrl-C or SIGTERM, seconds to finish records in flight before abandoning them")
      ->check(CLI::Range(0.0, 86400.0));
}

void add_common(CLI::App& cmd, RunCommandOptions& o) {
  cmd.add_option("file", o.file, "the pipeline file (YAML)")->required();
  cmd.add_option("--set", o.sets, "override a setting of the file: --set http.max_in_flight=512 (repeatable)");
}

namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

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

// The run's metrics in Prometheus's text format.
std::string metrics_page(const Job& e) {
  const JobProgress p = e.progress();
  const http::ClientStats h = e.http_stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto line = [&](const std::string& name, std::uint64_t v) { out += name + " " + std::to_string(v) + "\n"; };
  metric("sluice_records_read_total", "counter", "Input records read (an earlier run's, skipped, are not).");
  line("sluice_records_read_total", p.read);
  metric("sluice_records_skipped_total", "counter", "Input records an earlier run finished, skipped (--resume).");
  line("sluice_records_skipped_total", p.skipped);
  // The outcomes only: their sum and the records in flight make the records read.
  metric("sluice_records_total", "counter", "Records read, by how they ended.");
  line("sluice_records_total{outcome=\"written\"}", p.written);
  line("sluice_records_total{outcome=\"filtered\"}", p.filtered);
  line("sluice_records_total{outcome=\"not_joined\"}", p.not_joined);
  line("sluice_records_total{outcome=\"dead_lettered\"}", p.dead_lettered);
  line("sluice_records_total{outcome=\"unfinished\"}", p.unfinished);
  metric("sluice_records_in_flight", "gauge", "Records read and not yet done.");
  line("sluice_records_in_flight", p.read - std::min(p.read, p.done()));
  metric("sluice_record_bytes_in_flight", "gauge",
         "Bytes of answers held by records whose requests are still going on.");
  line("sluice_record_bytes_in_flight", p.bytes_in_flight);
  metric("sluice_records_held", "gauge", "Records waiting to start because the answers held pass max_bytes_in_flight.");
  line("sluice_records_held", p.records_held);
  metric("sluice_http_requests_total", "counter", "HTTP requests started.");
  line("sluice_http_requests_total", h.requests);
  metric("sluice_http_attempts_total", "counter", "HTTP attempts, retries included.");
  line("sluice_http_attempts_total", h.attempts);
  metric("sluice_http_retries_total", "counter", "HTTP retries.");
  line("sluice_http_retries_total", h.retries);
  metric("sluice_http_failures_total", "counter", "HTTP requests that failed after their retries.");
  line("sluice_http_failures_total", h.failed);
  metric("sluice_http_requests_in_flight", "gauge", "HTTP requests in flight.");
  line("sluice_http_requests_in_flight", h.in_flight);
  metric("sluice_http_in_flight_limit", "gauge", "The in-flight limit now (adaptive or static).");
  line("sluice_http_in_flight_limit", h.limit);
  metric("sluice_http_request_duration_seconds", "histogram", "Latency of HTTP requests that got an answer.");
  append_prometheus_seconds(out, "sluice_http_request_duration_seconds", "", h.latency);
  metric("sluice_step_request_duration_seconds", "histogram",
         "Latency of each step's requests that got an answer, from their in-flight slot (retries included).");
  for (const auto& [step, counts] : e.step_latencies()) {
    append_prometheus_seconds(out, "sluice_step_request_duration_seconds", "step=\"" + step + "\",", counts);
  }
  metric("sluice_step_requests_total", "counter",
         "Each step's requests by how they ended, after their retries: the class of the last answer's status "
         "(a request that failed on 503 after its retries is 5xx), or none (no answer: timeouts, connections "
         "that failed, the run stopping).");
  for (const StepAnswers& a : e.step_answers()) {
    static constexpr const char* kClass[] = {"2xx", "3xx", "4xx", "5xx"};
    for (std::size_t c = 0; c < 4; ++c) {
      line("sluice_step_requests_total{step=\"" + a.step + "\",class=\"" + kClass[c] + "\"}", a.answered[c]);
    }
    line("sluice_step_requests_total{step=\"" + a.step + "\",class=\"none\"}", a.no_answer);
  }
  metric("sluice_cpu_batches_total", "counter", "Batches of records evaluated on the CPU pool.");
  line("sluice_cpu_batches_total", p.cpu_batches);
  metric("sluice_cpu_batch_records_total", "counter", "Records in those batches (over the batches: their mean size).");
  line("sluice_cpu_batch_records_total", p.cpu_batch_records);
  metric("sluice_http_requests_waiting", "gauge", "Requests waiting for an in-flight slot.");
  line("sluice_http_requests_waiting", p.requests_waiting);
  return out + process_metrics();
}

namespace {

// "I/N" with 0 <= I < N.
Result<std::pair<std::uint32_t, std::uint32_t>> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::uint32_t i = 0, n = 0;
  const char* end = text.data() + text.size();
  auto bad = [&] {
    return Status::InvalidArgument("--shard '" + text + "': expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4");
  };
  if (slash == std::string::npos) return bad();
  auto a = std::from_chars(text.data(), text.data() + slash, i);
  auto b = std::from_chars(text.data() + slash + 1, end, n);
  if (a.ec != std::errc() || a.ptr != text.data() + slash || b.ec != std::errc() || b.ptr != end || n == 0 || i >= n ||
      n > 1000000) {
    return bad();
  }
  return std::pair{i, n};
}

}  // namespace

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

std::string start_run_log() {
  std::string id = detail::random_hex(8);
  set_log_run(id, "");
  return id;
}

void report_summary(const JobSummary& s, const RunCommandOptions& o) {
  if (!o.summary_json.empty()) std::ofstream(o.summary_json) << s.to_json() << "\n";
  if (log_format() == LogFormat::kJson && !o.quiet) log_info("summary", {{"summary", JsonText{s.to_json()}}});
}

// The exit code of a job that ran, after its summary: see run.h.
int ended(const JobSummary& s, const RunCommandOptions& o, const Signals& signals, const char* command) {
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

void add_run_options(CLI::App& cmd, RunCommandOptions& o) {
  add_common(cmd, o);
  cmd.add_option("--limit", o.limit, "read at most N input records");
  cmd.add_option("--output", o.output, "write here instead of output.path: a directory or s3://bucket/prefix/");
  cmd.add_option("--shard", o.shard,
                 "I/N: run shard I (from 0) of N, the input records at positions I, I+N, I+2N, ...; N shards "
                 "writing to one output hold together what one run would. auto: I and N from the scheduler "
                 "(Kubernetes Indexed Job with SLUICE_SHARD_COUNT, AWS Batch array, Slurm array)");
  cmd.add_flag("--resume", o.resume,
               "carry on from where an interrupted run into the same output stopped (its manifest): records it "
               "finished are skipped, no record is written twice");
  cmd.add_flag("--quiet,-q", o.quiet, "no progress, only errors and the summary");
  cmd.add_option("--summary-json", o.summary_json, "also write the summary as JSON to this file");
  cmd.add_option("--metrics-file", o.metrics_file,
                 "write the metrics to this file for node_exporter's textfile collector (atomically, every "
                 "--metrics-interval seconds and at the end), for batch jobs whose endpoint goes with them");
  cmd.add_option("--metrics-push", o.metrics_push,
                 "PUT the metrics to this Prometheus Pushgateway (http://HOST:PORT, grouped by job sluice, this "
                 "host and the shard; or a URL with its own /metrics/job/... group) every --metrics-interval "
                 "seconds and at the end");
  cmd.add_option("--metrics-interval", o.metrics_interval,
                 "seconds between writes of --metrics-file and pushes to --metrics-push")
      ->check(CLI::Range(0.1, 3600.0));
  cmd.add_option("--metrics-addr", o.metrics_addr,
                 "serve Prometheus metrics at HOST:PORT/metrics while the run goes on (HOST: a name, an IPv4 address, "
                 "[an IPv6 one], or empty for all; PORT 0: any)");
  add_threads(cmd, o);
}

void add_validate_options(CLI::App& cmd, RunCommandOptions& o) {
  add_common(cmd, o);
  cmd.add_flag("--offline", o.offline,
               "do not look at the input's and datasets' files or the cloud credentials (they are elsewhere, or made "
               "later); check the rest");
}

int validate_command(const RunCommandOptions& o) {
  auto shape = Job::check(o.file, {.sets = o.sets}, /*look_at_files=*/!o.offline);
  if (!shape.ok()) {
    std::fprintf(stderr, "%s\n", shape.status().message().c_str());
    return 2;
  }
  std::printf("%s: OK: %zu step(s), %zu join(s), %zu output column(s)\n", o.file.c_str(), shape->steps, shape->joins,
              shape->output_columns);
  return 0;
}

int run_pipeline_command(const RunCommandOptions& o) {
  Signals::block();
  const std::string run_id = start_run_log();
  if (o.quiet) raise_log_level(LogLevel::kWarn);

  std::pair<std::uint32_t, std::uint32_t> shard{0, 1};
  std::string scheduler_attempt;
  if (o.shard == "auto") {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread exists yet
    auto s = shard_from_environment([](const char* name) { return std::getenv(name); });
    if (!s.ok()) {
      log_error(s.status().message());
      return 2;
    }
    shard = {s->index, s->count};
    scheduler_attempt = s->attempt;
    set_log_run(run_id, std::to_string(shard.first) + "/" + std::to_string(shard.second));
    log_info("shard " + std::to_string(s->index) + " of " + std::to_string(s->count) + ", from " + s->scheduler +
                 (s->attempt.empty() ? "" : ", attempt " + s->attempt),
             {{"scheduler", s->scheduler}, {"scheduler_attempt", s->attempt}});
  } else if (!o.shard.empty()) {
    auto s = parse_shard(o.shard);
    if (!s.ok()) {
      log_error(s.status().message());
      return 2;
    }
    shard = *s;
    if (shard.second > 1) set_log_run(run_id, std::to_string(shard.first) + "/" + std::to_string(shard.second));
  }
  std::optional<PushTarget> push;
  if (!o.metrics_push.empty()) {
    auto t = push_target(o.metrics_push, shard.second > 1 ? static_cast<int>(shard.first) : -1);
    if (!t.ok()) {
      log_error(t.status().message());
      return 2;
    }
    push = std::move(*t);
  }
  auto job = Job::open(o.file, {.sets = o.sets,
                                .output = o.output,
                                .limit = o.limit,
                                .shard_index = shard.first,
                                .shard_count = shard.second,
                                .scheduler_attempt = scheduler_attempt,
                                .run_id = run_id,
                                .resume = o.resume,
                                .store = {.on_notice = [](const std::string& n) { log_info(n); }},
                                .io_threads = o.io_threads,
                                .cpu_threads = o.cpu_threads});
  if (!job.ok()) return open_failed(job.status());
  Job& e = **job;
  log_debug("opened " + o.file, {{"file", o.file},
                                 {"output", o.output},
                                 {"io_threads", std::uint64_t(o.io_threads)},
                                 {"cpu_threads", std::uint64_t(o.cpu_threads)},
                                 {"resume", std::string(o.resume ? "true" : "false")}});
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics_addr.empty()) {
    auto m = MetricsServer::start(o.metrics_addr, [&e] { return metrics_page(e); });
    if (!m.ok()) {
      log_error(m.status().message());
      return 2;
    }
    metrics = std::move(*m);
    const std::string url = "http://" + o.metrics_addr.substr(0, o.metrics_addr.rfind(':')) + ":" +
                            std::to_string(metrics->port()) + "/metrics";
    log_info("metrics on " + url, {{"url", url}});
  }

  Signals signals(e, o.grace_seconds);
  std::atomic<bool> finished{false};
  // On a terminal with text logs, a progress line redrawn in place; else a
  // log line every 10 s.
  const bool live = ::isatty(STDERR_FILENO) && log_format() == LogFormat::kText && log_enabled(LogLevel::kInfo);
  Mutex mu;
  CondVar cv;
  // --metrics-file and --metrics-push: a write or push that fails is said
  // once; the run goes on.
  bool file_failed = false, push_failed = false;
  const bool exporting = !o.metrics_file.empty() || push.has_value();
  auto write_metrics = [&] {
    if (!exporting) return;
    const std::string page = metrics_page(e);
    if (!o.metrics_file.empty()) {
      Status w = write_metrics_file(o.metrics_file, page);
      if (!w.ok() && !std::exchange(file_failed, true)) log_warn(w.message());
      if (w.ok()) log_debug("metrics written to " + o.metrics_file, {{"bytes", std::uint64_t{page.size()}}});
    }
    if (push) {
      Status w = push_metrics(*push, page);
      if (!w.ok() && !std::exchange(push_failed, true)) log_warn(w.message());
      if (w.ok()) log_debug("metrics pushed", {{"bytes", std::uint64_t{page.size()}}});
    }
  };
  std::thread progress_thread([&] {
    if (o.quiet && !exporting) return;
    const auto started = std::chrono::steady_clock::now();
    auto last_log = started;
    auto last_metrics = started;
    const auto metrics_every = std::chrono::duration<double>(o.metrics_interval);
    MutexLock lock(mu);
    while (!finished.load()) {
      const auto tick = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(
                            exporting ? std::min<long>(1000, static_cast<long>(o.metrics_interval * 1000)) : 1000);
      while (!finished.load() && cv.wait_until(lock, tick)) {
      }
      if (finished.load()) break;
      if (std::chrono::steady_clock::now() - last_metrics >= metrics_every) {
        last_metrics = std::chrono::steady_clock::now();
        write_metrics();
      }
      if (o.quiet) continue;
      if (live) {
        std::fprintf(stderr, "\r\033[K%s", fit_to_terminal(progress_line(e.progress())).c_str());
        set_progress_shown(true);
      } else if (std::chrono::steady_clock::now() - last_log >= std::chrono::seconds(10)) {
        last_log = std::chrono::steady_clock::now();
        log_progress(e.progress());
      }
    }
    if (live && !o.quiet) {
      std::fprintf(stderr, "\r\033[K");
      set_progress_shown(false);
    }
  });

  JobSummary s = e.run();
  {
    MutexLock lock(mu);
    finished = true;
  }
  cv.notify_all();
  progress_thread.join();
  signals.finish();
  write_metrics();  // the run's last word

  print_summary(s, stdout);
  return ended(s, o, signals, "run");
}

void add_stream_options(CLI::App& cmd, RunCommandOptions& o) {
  add_common(cmd, o);
  cmd.add_flag("--quiet,-q", o.quiet, "no summary at the end");
  cmd.add_flag("--ordered", o.ordered,
               "lines in the input's order (a record that ends early waits for those before it), not as records end");
  cmd.add_option("--summary-json", o.summary_json, "also write the summary as JSON to this file");
  add_threads(cmd, o);
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

int stream_command(const RunCommandOptions& o) {
  Signals::block();
  const std::string run_id = start_run_log();
  // Records come as JSON lines on standard input; one asked for again is
  // answered again (the file's own --set may say otherwise).
  JobOptions options{.sets = {"input.path=-", "input.format=jsonl", "input.duplicates=keep"},
                     .run_id = run_id,
                     .io_threads = o.io_threads,
                     .cpu_threads = o.cpu_threads};
  options.sets.insert(options.sets.end(), o.sets.begin(), o.sets.end());
  auto job = Job::open_stream(o.file, std::move(options));
  if (!job.ok()) return open_failed(job.status());
  Job& e = **job;
  Signals signals(e, o.grace_seconds);
  StdoutLines out(signals);
  // Each record's line as soon as it is known.
  JobSummary s = e.stream([&out](std::string_view line) { out.write(line); }, o.ordered);
  signals.finish();
  if (out.dropped() > 0) {
    log_error(std::to_string(out.dropped()) + " lines could not be written: standard output was not read, or closed",
              {{"lines_dropped", out.dropped()}});
  }
  if (!o.quiet && log_format() == LogFormat::kText) print_summary(s, stderr, /*files=*/false);
  return ended(s, o, signals, "stream");
}

}  // namespace sluice::cli
