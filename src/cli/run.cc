#include "run.h"

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <utility>

#include "job_metrics.h"
#include "log.h"
#include "progress.h"
#include "signals.h"
#include "sluice/job.h"
#include "sluice/shards.h"
#include "summary.h"

namespace sluice::cli {

void add_run_options(CLI::App& cmd, RunOptions& o) {
  add_pipeline_file(cmd, o.job.file);
  cmd.add_option("--limit", o.limit, "read at most N input records");
  cmd.add_option("--output", o.output, "write here instead of output.path: a directory or s3://bucket/prefix/");
  cmd.add_option("--shard", o.shard,
                 "I/N: run shard I (from 0) of N, the input records at positions I, I+N, I+2N, ...; N shards "
                 "writing to one output hold together what one run would. auto: I and N from the scheduler "
                 "(Kubernetes Indexed Job with SLUICE_SHARD_COUNT, AWS Batch array, Slurm array)");
  cmd.add_flag("--resume", o.resume,
               "carry on from where an interrupted run into the same output stopped (its manifest): records it "
               "finished are skipped, no record is written twice");
  cmd.add_flag("--quiet,-q", o.job.quiet, "no progress, only errors and the summary");
  cmd.add_option("--summary-json", o.job.summary_json, "also write the summary as JSON to this file");
  cmd.add_option("--metrics-file", o.metrics_file,
                 "write the metrics to this file for node_exporter's textfile collector (atomically, every "
                 "--metrics-interval seconds and at the end), for batch jobs whose endpoint goes with them");
  cmd.add_option(
      "--metrics-push", o.metrics_push,
      "PUT the metrics to this Prometheus Pushgateway (http://HOST:PORT or https://, grouped by job sluice, this "
      "host and the shard; or a URL with its own /metrics/job/... group) every --metrics-interval "
      "seconds and at the end");
  cmd.add_option("--metrics-interval", o.metrics_interval,
                 "seconds between writes of --metrics-file and pushes to --metrics-push")
      ->check(CLI::Range(0.1, 3600.0));
  cmd.add_option("--metrics-addr", o.metrics_addr,
                 "serve Prometheus metrics at HOST:PORT/metrics while the run goes on (HOST: a name, an IPv4 address, "
                 "[an IPv6 one], or empty for all; PORT 0: any)");
  add_threads(cmd, o.job);
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

// The shard this run is (--shard): I/N as given, from the scheduler's
// environment (auto), or the whole input (none); the log names it.
Result<ShardOfJob> choose_shard(const std::string& flag, const std::string& run_id) {
  if (flag.empty()) return ShardOfJob{};
  if (flag == "auto") {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread exists yet
    auto s = shard_from_environment([](const char* name) { return std::getenv(name); });
    if (!s.ok()) return s.status();
    set_log_run(run_id, std::to_string(s->index) + "/" + std::to_string(s->count));
    log_info("shard " + std::to_string(s->index) + " of " + std::to_string(s->count) + ", from " + s->scheduler +
                 (s->attempt.empty() ? "" : ", attempt " + s->attempt),
             {{"scheduler", s->scheduler}, {"scheduler_attempt", s->attempt}});
    return s;
  }
  SLUICE_ASSIGN_OR_RETURN(const auto given, parse_shard(flag));
  if (given.second > 1) set_log_run(run_id, std::to_string(given.first) + "/" + std::to_string(given.second));
  return ShardOfJob{.index = given.first, .count = given.second};
}

// --metrics-addr: the endpoint, its URL logged.
Result<std::unique_ptr<MetricsServer>> start_endpoint(const std::string& addr, const Job& job) {
  SLUICE_ASSIGN_OR_RETURN(auto server, MetricsServer::start(addr, [&job] { return metrics_page(job); }));
  const std::string url =
      "http://" + addr.substr(0, addr.rfind(':')) + ":" + std::to_string(server->port()) + "/metrics";
  log_info("metrics on " + url, {{"url", url}});
  return server;
}

}  // namespace

int run_pipeline_command(const RunOptions& o) {
  Signals::block();
  const std::string run_id = start_run_log();
  if (o.job.quiet) raise_log_level(LogLevel::kWarn);
  auto shard = choose_shard(o.shard, run_id);
  if (!shard.ok()) {
    log_error(shard.status().message());
    return 2;
  }
  std::unique_ptr<MetricsPusher> push;
  if (!o.metrics_push.empty()) {
    auto p = MetricsPusher::create(o.metrics_push, shard->count > 1 ? static_cast<int>(shard->index) : -1);
    if (!p.ok()) {
      log_error(p.status().message());
      return 2;
    }
    push = std::move(*p);
  }
  auto job = Job::open(o.job.file.path, {.sets = o.job.file.sets,
                                         .output = o.output,
                                         .limit = o.limit,
                                         .shard_index = shard->index,
                                         .shard_count = shard->count,
                                         .scheduler_attempt = shard->attempt,
                                         .run_id = run_id,
                                         .resume = o.resume,
                                         .store = {.on_notice = [](const std::string& n) { log_info(n); }},
                                         .io_threads = o.job.io_threads,
                                         .cpu_threads = o.job.cpu_threads});
  if (!job.ok()) return open_failed(job.status());
  Job& e = **job;
  log_debug("opened " + o.job.file.path, {{"file", o.job.file.path},
                                          {"output", o.output},
                                          {"io_threads", std::uint64_t(o.job.io_threads)},
                                          {"cpu_threads", std::uint64_t(o.job.cpu_threads)},
                                          {"resume", std::string(o.resume ? "true" : "false")}});
  std::unique_ptr<MetricsServer> endpoint;
  if (!o.metrics_addr.empty()) {
    auto m = start_endpoint(o.metrics_addr, e);
    if (!m.ok()) {
      log_error(m.status().message());
      return 2;
    }
    endpoint = std::move(*m);
  }

  Signals signals(e, o.job.grace_seconds);
  MetricsExports exports(e, o.metrics_file, std::move(push));
  ProgressReporter progress(e, o.job.quiet, exports.any() ? [&exports] { exports.write(); } : std::function<void()>{},
                            o.metrics_interval);
  JobSummary s = e.run();
  progress.stop();
  signals.finish();
  exports.write();  // the run's last word

  print_summary(s, stdout);
  return ended(s, o.job, signals, "run");
}

}  // namespace sluice::cli
