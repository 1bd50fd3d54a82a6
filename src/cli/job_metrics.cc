#include "job_metrics.h"

#include <algorithm>
#include <utility>

#include "log.h"
#include "sluice/job.h"
#include "sluice/prometheus.h"

namespace sluice::cli {

std::string metrics_page(const Job& job) {
  const JobProgress p = job.progress();
  const http::ClientStats h = job.http_stats();
  PrometheusText page;
  auto one = [&page](const char* name, const char* type, const char* help, std::uint64_t value) {
    page.family(name, type, help);
    page.sample(name, {}, value);
  };
  one("sluice_records_read_total", "counter", "Input records read (an earlier run's, skipped, are not).", p.read);
  one("sluice_records_skipped_total", "counter", "Input records an earlier run finished, skipped (--resume).",
      p.skipped);
  // The outcomes only: their sum and the records in flight make the records read.
  page.family("sluice_records_total", "counter", "Records read, by how they ended.");
  page.sample("sluice_records_total", {{"outcome", "written"}}, p.written);
  page.sample("sluice_records_total", {{"outcome", "filtered"}}, p.filtered);
  page.sample("sluice_records_total", {{"outcome", "not_joined"}}, p.not_joined);
  page.sample("sluice_records_total", {{"outcome", "dead_lettered"}}, p.dead_lettered);
  page.sample("sluice_records_total", {{"outcome", "unfinished"}}, p.unfinished);
  one("sluice_records_in_flight", "gauge", "Records read and not yet done.", p.read - std::min(p.read, p.done()));
  one("sluice_record_bytes_in_flight", "gauge", "Bytes of answers held by records whose requests are still going on.",
      p.bytes_in_flight);
  one("sluice_records_held", "gauge", "Records waiting to start because the answers held pass max_bytes_in_flight.",
      p.records_held);
  one("sluice_http_requests_total", "counter", "HTTP requests started.", h.requests);
  one("sluice_http_attempts_total", "counter", "HTTP attempts, retries included.", h.attempts);
  one("sluice_http_retries_total", "counter", "HTTP retries.", h.retries);
  one("sluice_http_failures_total", "counter", "HTTP requests that failed after their retries.", h.failed);
  one("sluice_http_requests_in_flight", "gauge", "HTTP requests in flight.", h.in_flight);
  one("sluice_http_in_flight_limit", "gauge", "The in-flight limit now (adaptive or static).", h.limit);
  page.family("sluice_http_request_duration_seconds", "histogram", "Latency of HTTP requests that got an answer.");
  page.seconds("sluice_http_request_duration_seconds", {}, h.latency);
  page.family("sluice_step_request_duration_seconds", "histogram",
              "Latency of each step's requests that got an answer, from their in-flight slot (retries included).");
  for (const auto& [step, counts] : job.step_latencies()) {
    page.seconds("sluice_step_request_duration_seconds", {{"step", step}}, counts);
  }
  page.family("sluice_step_requests_total", "counter",
              "Each step's requests by how they ended, after their retries: the class of the last answer's status "
              "(a request that failed on 503 after its retries is 5xx), or none (no answer: timeouts, connections "
              "that failed, the run stopping).");
  for (const StepAnswers& a : job.step_answers()) {
    static constexpr const char* kClass[] = {"2xx", "3xx", "4xx", "5xx"};
    for (std::size_t c = 0; c < 4; ++c) {
      page.sample("sluice_step_requests_total", {{"step", a.step}, {"class", kClass[c]}}, a.answered[c]);
    }
    page.sample("sluice_step_requests_total", {{"step", a.step}, {"class", "none"}}, a.no_answer);
  }
  one("sluice_cpu_batches_total", "counter", "Batches of records evaluated on the CPU pool.", p.cpu_batches);
  one("sluice_cpu_batch_records_total", "counter", "Records in those batches (over the batches: their mean size).",
      p.cpu_batch_records);
  one("sluice_http_requests_waiting", "gauge", "Requests waiting for an in-flight slot.", p.requests_waiting);
  page.append(process_metrics());
  return std::move(page).text();
}

void MetricsExports::write() {
  if (!any()) return;
  const std::string page = metrics_page(job_);
  if (!file_.empty()) {
    const Status w = write_metrics_file(file_, page);
    if (!w.ok() && !std::exchange(file_failed_, true)) log_warn(w.message());
    if (w.ok()) log_debug("metrics written to " + file_, {{"bytes", std::uint64_t{page.size()}}});
  }
  if (push_) {
    const Status w = push_->push(page);
    if (!w.ok() && !std::exchange(push_failed_, true)) log_warn(w.message());
    if (w.ok()) log_debug("metrics pushed", {{"bytes", std::uint64_t{page.size()}}});
  }
}

}  // namespace sluice::cli
