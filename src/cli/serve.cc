#include "serve.h"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "job_metrics.h"
#include "log.h"
#include "signals.h"
#include "sluice/job.h"
#include "summary.h"

namespace sluice::cli {

namespace {

// "HOST:PORT", "[IPv6]:PORT" or ":PORT" (every IPv4 address).
Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  auto bad = [&] {
    return Status::InvalidArgument("--listen '" + text + "': expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
  };
  if (colon == std::string::npos) return bad();
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  std::uint16_t port = 0;
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data() + colon + 1, end, port);
  if (r.ec != std::errc() || r.ptr != end || colon + 1 == text.size()) return bad();
  return std::pair{host, port};
}

}  // namespace

void add_serve_options(CLI::App& cmd, ServeCommandOptions& o) {
  add_pipeline_file(cmd, o.job.file);
  cmd.add_option("--listen", o.listen, "HOST:PORT to serve on (port 0: any free port, printed)")->capture_default_str();
  cmd.add_option("--max-body-bytes", o.max_body_bytes, "a request's largest body (larger: 413)")
      ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30))
      ->capture_default_str();
  cmd.add_option("--max-records", o.max_records, "the most records one request may hold (more: 400)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd.add_option("--read-timeout-ms", o.read_timeout_ms,
                 "a connection's next request must be read whole within this (slower: 408 and closed)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd.add_flag("--quiet,-q", o.job.quiet, "no summary at the end");
  cmd.add_option("--summary-json", o.job.summary_json, "also write the summary as JSON to this file at the end");
  add_threads(cmd, o.job);
}

int serve_command(const ServeCommandOptions& o) {
  Signals::block(/*serving=*/true);
  const std::string run_id = start_run_log();
  auto listen = parse_listen(o.listen);
  if (!listen.ok()) {
    log_error(listen.status().message());
    return 2;
  }
  auto job = Job::open_serve(
      o.job.file.path,
      {.sets = o.job.file.sets, .run_id = run_id, .io_threads = o.job.io_threads, .cpu_threads = o.job.cpu_threads});
  if (!job.ok()) return open_failed(job.status());
  Job& e = **job;
  ServeOptions options{.address = listen->first,
                       .port = listen->second,
                       .max_body_bytes = o.max_body_bytes,
                       .max_records = o.max_records,
                       .read_timeout = std::chrono::milliseconds(o.read_timeout_ms)};
  options.listening = [&](std::uint16_t port) {
    const bool v6 = listen->first.find(':') != std::string::npos;
    const std::string url = "http://" + (v6 ? "[" + listen->first + "]" : listen->first) + ":" + std::to_string(port);
    log_info("listening on " + url + " (POST /v1/features; GET /healthz, /readyz, /metrics)", {{"url", url}});
  };
  options.metrics = [&e] { return metrics_page(e); };
  options.on_warning = [](const std::string& what) { log_warn(what); };
  Signals signals(e, o.job.grace_seconds, /*serving=*/true);
  JobSummary s = e.serve(options);
  signals.finish();
  report_summary(s, o.job);
  if (!s.status.ok()) {
    log_error(s.status.message());
    return s.status.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (!o.job.quiet && log_format() == LogFormat::kText) {
    print_summary(s, stderr, /*files=*/false);
    print_served(s.serve, stderr);
  }
  return signals.aborted() ? signals.exit_code() : 0;
}

}  // namespace sluice::cli
