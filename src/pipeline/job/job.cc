#include "sluice/job.h"

#include <cstdio>

#include "pipeline/job/engine.h"
#include "pipeline/job/preflight.h"

namespace sluice {

namespace {

// The file read with its settings replaced, checked before anything runs
// (what the run would find wrong as it starts, see preflight), and planned,
// with the datasets read when `datasets` says kLoad. Without `output`, the
// output's settings are not looked at (nothing will be written there).
Result<std::unique_ptr<pipeline::Plan>> plan_for(const std::string& file, const JobOptions& o,
                                                 pipeline::Datasets datasets, pipeline::FileChecks files,
                                                 bool output = true) {
  SLUICE_ASSIGN_OR_RETURN(pipeline::PipelineConfig config, pipeline::load_config(file, o.sets));
  if (!o.output.empty()) config.output.path = o.output;
  if (!output) config.output.path.clear();
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Plan> plan,
                          pipeline::make_plan(std::move(config), pipeline::Datasets::kCheckOnly));
  SLUICE_RETURN_IF_ERROR(pipeline::preflight(plan->config, files));
  if (datasets == pipeline::Datasets::kCheckOnly) return plan;
  return pipeline::make_plan(std::move(plan->config), pipeline::Datasets::kLoad);
}

}  // namespace

Job::Job(std::unique_ptr<pipeline::Engine> engine) : engine_(std::move(engine)) {}
Job::~Job() = default;

Result<std::unique_ptr<Job>> Job::open(const std::string& file, JobOptions options) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Plan> plan,
                          plan_for(file, options, pipeline::Datasets::kLoad, pipeline::FileChecks::kCheck));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Engine> engine,
                          pipeline::Engine::create(std::move(plan), std::move(options)));
  return std::unique_ptr<Job>(new Job(std::move(engine)));
}

Result<std::unique_ptr<Job>> Job::open_stream(const std::string& file, JobOptions options) {
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<pipeline::Plan> plan,
      plan_for(file, options, pipeline::Datasets::kLoad, pipeline::FileChecks::kCheck, /*output=*/false));
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<pipeline::Engine> engine,
      pipeline::Engine::create(std::move(plan), std::move(options), pipeline::Engine::Output::kLines));
  return std::unique_ptr<Job>(new Job(std::move(engine)));
}

Result<std::unique_ptr<Job>> Job::open_serve(const std::string& file, JobOptions options) {
  // Records come in requests, as JSON: the input's files are not looked at.
  options.sets.insert(options.sets.begin(), {"input.path=-", "input.format=jsonl"});
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<pipeline::Plan> plan,
      plan_for(file, options, pipeline::Datasets::kLoad, pipeline::FileChecks::kCheck, /*output=*/false));
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<pipeline::Engine> engine,
      pipeline::Engine::create(std::move(plan), std::move(options), pipeline::Engine::Output::kServed));
  return std::unique_ptr<Job>(new Job(std::move(engine)));
}

Result<JobShape> Job::check(const std::string& file, const JobOptions& options, bool look_at_files) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Plan> plan,
                          plan_for(file, options, pipeline::Datasets::kCheckOnly,
                                   look_at_files ? pipeline::FileChecks::kCheck : pipeline::FileChecks::kSkip));
  return JobShape{.steps = plan->steps.size(), .joins = plan->joins.size(), .output_columns = plan->output.size()};
}

JobSummary Job::run() { return engine_->run(); }
JobSummary Job::stream(const std::function<void(std::string_view line)>& emit, bool ordered) {
  return engine_->stream(emit, ordered);
}
JobSummary Job::serve(const ServeOptions& options) { return engine_->serve(options); }
Status Job::reload_datasets() { return engine_->reload_datasets(); }
JobProgress Job::progress() const { return engine_->progress(); }
std::vector<std::pair<std::string, LatencyCounts>> Job::step_latencies() const { return engine_->step_latencies(); }
std::vector<StepAnswers> Job::step_answers() const { return engine_->step_answers(); }
http::ClientStats Job::http_stats() const { return engine_->http_stats(); }
void Job::stop() { engine_->stop(); }
void Job::abort() { engine_->abort(); }

using pipeline::json_quote;

namespace {

std::string serve_json(const ServeStats& s) {
  auto ms = [](const LatencyCounts& c, double q) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", static_cast<double>(c.quantile(q).count()) / 1000);
    return std::string(b);
  };
  auto percentiles = [&](const LatencyCounts& c) {
    return "{\"n\":" + std::to_string(c.count()) + ",\"p50_ms\":" + ms(c, 0.5) + ",\"p99_ms\":" + ms(c, 0.99) +
           ",\"p999_ms\":" + ms(c, 0.999) + "}";
  };
  return "{\"requests\":" + std::to_string(s.requests) + ",\"bad_requests\":" + std::to_string(s.bad_requests) +
         ",\"shed\":" + std::to_string(s.shed) + ",\"deadline_exceeded\":" + std::to_string(s.deadline_exceeded) +
         ",\"answered\":" + percentiles(s.latency) + ",\"shed_answered\":" + percentiles(s.shed_latency) + "}";
}

}  // namespace

std::string JobSummary::to_json() const {
  std::string files_json = "[";
  for (std::size_t i = 0; i < files.size(); ++i) {
    files_json += (i ? "," : "") + std::string("{\"name\":") + json_quote(files[i].name) +
                  ",\"rows\":" + std::to_string(files[i].rows) + ",\"bytes\":" + std::to_string(files[i].bytes) + "}";
  }
  files_json += "]";
  auto q = [&](double p) { return std::to_string(http.latency_quantile(p).count()); };
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f", seconds > 0 ? static_cast<double>(counts.read) / seconds : 0.0);
  char secs[64];
  std::snprintf(secs, sizeof secs, "%.3f", seconds);
  char cpu[64];
  std::snprintf(cpu, sizeof cpu, "%.3f", cpu_seconds);
  return std::string("{") + "\"ok\":" + (status.ok() ? "true" : "false") + ",\"run\":" + json_quote(run_id) +
         (status.ok() ? "" : ",\"error\":" + json_quote(status.to_string())) +
         ",\"records\":{\"input\":" + std::to_string(counts.read) + ",\"written\":" + std::to_string(counts.written) +
         ",\"filtered\":" + std::to_string(counts.filtered) + ",\"not_joined\":" + std::to_string(counts.not_joined) +
         ",\"dead_lettered\":" + std::to_string(counts.dead_lettered) +
         ",\"unfinished\":" + std::to_string(counts.unfinished) + ",\"accounted\":" + (accounted ? "true" : "false") +
         ",\"skipped_done_earlier\":" + std::to_string(counts.skipped) +
         "},\"stopped_early\":" + (stopped_early ? "true" : "false") +
         ",\"requests\":{\"sent\":" + std::to_string(http.requests) + ",\"attempts\":" + std::to_string(http.attempts) +
         ",\"retries\":" + std::to_string(http.retries) +
         ",\"unreadable_answers_retried\":" + std::to_string(counts.answer_retries) +
         ",\"failed\":" + std::to_string(http.failed) +
         ",\"resent_on_new_connection\":" + std::to_string(http.stale_resends) +
         ",\"idle_connections_found_closed\":" + std::to_string(http.stale_discarded) +
         ",\"budget_waits\":" + std::to_string(http.budget_waits) +
         ",\"retry_after_wait_ms\":" + std::to_string(http.retry_after_ms) +
         ",\"outages\":" + std::to_string(http.outages) + ",\"outage_ms\":" + std::to_string(http.outage_ms) +
         ",\"outage_wait_ms\":" + std::to_string(http.outage_wait_ms) + ",\"latency_us\":{\"p50\":" + q(0.5) +
         ",\"p90\":" + q(0.9) + ",\"p99\":" + q(0.99) + "}}" + ",\"files\":" + files_json +
         ",\"bytes_written\":" + std::to_string(bytes_written) +
         (dead_letter.empty() ? "" : ",\"dead_letter\":" + json_quote(dead_letter)) +
         ",\"manifest\":" + json_quote(manifest) + ",\"abandoned_files_removed\":" + std::to_string(abandoned_removed) +
         ",\"overwritten_files_removed\":" + std::to_string(overwritten) + ",\"seconds\":" + secs +
         ",\"cpu_seconds\":" + cpu + ",\"peak_rss_bytes\":" + std::to_string(peak_rss_bytes) +
         ",\"dataset_bytes\":" + std::to_string(dataset_bytes) +
         ",\"key_index_bytes\":" + std::to_string(key_index_bytes) +
         ",\"duplicate_keys\":" + std::to_string(duplicates) +
         ",\"peak_answer_bytes_in_flight\":" + std::to_string(counts.peak_bytes_in_flight) +
         ",\"records_held_by_byte_bound\":" + std::to_string(counts.records_held_total) +
         (shard_count > 1
              ? ",\"shard\":{\"index\":" + std::to_string(shard_index) + ",\"count\":" + std::to_string(shard_count) +
                    ",\"attempt\":" + json_quote(attempt) + ",\"commit\":" + json_quote(shard_commit) + "}"
              : std::string()) +
         (serve.requests > 0 ? ",\"serve\":" + serve_json(serve) : std::string()) + ",\"records_per_second\":" + rate +
         "}";
}

}  // namespace sluice
