#include "pipeline/job/engine.h"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "pipeline/run/admission.h"
#include "pipeline/run/columns.h"
#include "pipeline/run/commit.h"
#include "pipeline/run/fetch.h"
#include "pipeline/run/input.h"
#include "pipeline/run/lines.h"
#include "pipeline/serve/server.h"
#include "sluice/detail/mutex.h"
#include "sluice/detail/random_id.h"
#include "sluice/pipeline.h"

namespace sluice::pipeline {

using Clock = std::chrono::steady_clock;

namespace {

double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Records in the input's order, at most `width` ahead of the first whose line
// is not out yet: enter(p) waits until p < first + width. The first always
// may enter, so the window always moves. REQUIRES: one event-loop thread
// (a waiter registers and starts waiting with no other handler between).
class OrderWindow {
 public:
  explicit OrderWindow(std::uint64_t width) : width_(width) {}

  boost::asio::awaitable<bool> enter(std::uint64_t position) {
    auto ex = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer wake(ex, boost::asio::steady_timer::time_point::max());
    {
      MutexLock lock(mu_);
      if (closed_) co_return false;
      if (position < first_ + width_) co_return true;
      waiters_.emplace(position, &wake);
    }
    co_await wake.async_wait(boost::asio::as_tuple(boost::asio::deferred));  // cancelled to wake
    MutexLock lock(mu_);
    return_if_waiting(position, &wake);
    co_return !closed_;
  }

  // Lines before `first` are out.
  void advance(std::uint64_t first) {
    MutexLock lock(mu_);
    first_ = first;
    for (auto it = waiters_.begin(); it != waiters_.end() && it->first < first_ + width_; it = waiters_.erase(it)) {
      it->second->cancel();
    }
  }

  void close() {
    MutexLock lock(mu_);
    closed_ = true;
    for (auto& [p, t] : waiters_) t->cancel();
    waiters_.clear();
  }

 private:
  void return_if_waiting(std::uint64_t position, boost::asio::steady_timer* t) SLUICE_REQUIRES(mu_) {
    for (auto [it, end] = waiters_.equal_range(position); it != end; ++it) {
      if (it->second == t) {
        waiters_.erase(it);
        return;
      }
    }
  }

  const std::uint64_t width_;
  Mutex mu_;
  std::uint64_t first_ SLUICE_GUARDED_BY(mu_) = 0;
  bool closed_ SLUICE_GUARDED_BY(mu_) = false;
  std::multimap<std::uint64_t, boost::asio::steady_timer*> waiters_ SLUICE_GUARDED_BY(mu_);
};

// Stream: the line of each record read that is not out yet: "unfinished"
// from when it is read, its outcome once it ends. Lines wait here, not on
// their way, so that every record read has its line (its outcome if it
// ended) whatever stops the stream. Thread-safe (added on the reading
// thread, the rest on the event loop).
class Unended {
 public:
  void add(const Plan& plan, const Record& r) {
    Record shown;  // what an unfinished line says: where it was, and its key
    shown.line = r.line;
    shown.slots = r.slots;
    shown.outcome = Record::Outcome::kUnfinished;
    std::string line = outcome_json(plan, shown);
    MutexLock lock(mu_);
    lines_.emplace(r.position, std::move(line));
  }
  // The record at `position` ended: this is its line now.
  void ended(std::uint64_t position, std::string line) {
    MutexLock lock(mu_);
    lines_[position] = std::move(line);
  }
  // The line of the record at `position`, for the caller to write.
  std::string take(std::uint64_t position) {
    MutexLock lock(mu_);
    auto node = lines_.extract(position);
    return node ? std::move(node.mapped()) : std::string();
  }
  // Every line left, in the input's order.
  std::map<std::uint64_t, std::string> take_all() {
    MutexLock lock(mu_);
    return std::exchange(lines_, {});
  }

 private:
  Mutex mu_;
  std::map<std::uint64_t, std::string> lines_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace

struct Engine::State {
  const Engine::Output output;  // what it was made for: run(), stream() or serve()
  std::unique_ptr<Plan> plan;
  JobOptions options;
  Runtime rt;
  std::optional<http::Client> client;
  std::unique_ptr<Commit> commit;  // the output: files, dead letters, the manifest
  std::unique_ptr<Fetch> fetch;    // a record's requests and evaluation
  std::unique_ptr<Input> input;    // the records read

  std::atomic<bool> stopping{false};
  Mutex fatal_mu;
  Status fatal SLUICE_GUARDED_BY(fatal_mu);  // why the run ended early on its own (see fail_run)
  Mutex run_mu;
  RunHandle* handle SLUICE_GUARDED_BY(run_mu) = nullptr;
  Clock::time_point started;
  double cpu0 = 0;  // the process's CPU seconds at the start

  EndCounts ended;
  Unended unended;  // stream: records read whose line is not out yet
  // Serving: the server while it runs, its counts once it has ended, and
  // what wakes serve() (stop, abort, drained).
  mutable Mutex serve_mu;
  Server* server SLUICE_GUARDED_BY(serve_mu) = nullptr;
  JobProgress served SLUICE_GUARDED_BY(serve_mu);
  CondVar wake;
  bool aborting SLUICE_GUARDED_BY(serve_mu) = false;
  bool drained SLUICE_GUARDED_BY(serve_mu) = false;
  // max_bytes_in_flight: which records may start, which requests may.
  Admission admission;

  State(std::unique_ptr<Plan> p, JobOptions o, Engine::Output out)
      : output(out),
        plan(std::move(p)),
        options(std::move(o)),
        rt(RuntimeOptions{.io_threads = options.io_threads, .cpu_threads = options.cpu_threads}),
        admission(plan->config.max_bytes_in_flight, plan->config.records_in_flight) {}

  // Ends the run early for a reason of its own (not a record's): no more
  // input is read, records under way end, complete files are committed, and
  // the run's status is this one. The first reason given wins.
  void fail_run(const Status& why) {
    {
      MutexLock lock(fatal_mu);
      if (!fatal.ok()) return;
      fatal = why;
    }
    stopping = true;
  }

  // ---- a run's flow ---------------------------------------------------------

  // Runs the flow to its end, where abort() can reach it meanwhile.
  Status run_flow(Pipeline pipeline) {
    RunHandle handle = rt.start(std::move(pipeline));
    {
      MutexLock lock(run_mu);
      this->handle = &handle;
    }
    Status status = handle.wait();
    {
      MutexLock lock(run_mu);
      this->handle = nullptr;
    }
    // Only after an abort can fan-out requests outlive the run: those waiting
    // for a slot fail at once (the gate is closed), those sent end by their
    // deadline at the latest.
    while (fetch->children() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return status;
  }

  // The summary of a call that this engine was not made for.
  JobSummary made_for_another(const char* call) const {
    JobSummary s;
    s.status = Status::FailedPrecondition(std::string("Job::") + call +
                                          ": this job was opened for another use (open, open_stream, open_serve)");
    return s;
  }

  // What every summary starts with, and ends with.
  JobSummary begin() {
    JobSummary s;
    started = Clock::now();
    cpu0 = cpu_now();
    const auto datasets = plan->datasets.now();  // held: a reload may replace the set meanwhile
    for (const auto& d : *datasets) s.dataset_bytes += d ? d->memory_bytes() : 0;
    s.run_id = options.run_id;
    s.shard_index = options.shard_index;
    s.shard_count = options.shard_count;
    return s;
  }
  // What the flow's end leaves to count (`now`: the engine's progress).
  void collect(JobSummary& s, const JobProgress& now) {
    if (input) {
      s.duplicates = input->duplicates();
      s.key_index_bytes = input->key_index_bytes();
    }
    if (client) {
      s.http = client->stats();
      client->close();
    }
    s.counts = now;
    s.stopped_early = input && stopping.load() && !input->read_all();
  }
  void end(JobSummary& s, Status status) {
    // The run's own reason to stop early (the API given up on, too many dead
    // letters) is its status once what was finished is committed.
    if (status.ok()) {
      MutexLock lock(fatal_mu);
      status = fatal;
    }
    s.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    s.cpu_seconds = cpu_now() - cpu0;
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    s.peak_rss_bytes = static_cast<std::uint64_t>(u.ru_maxrss) * 1024;
    // It is logged and kept: no credential in it, whatever an answer said.
    const Secrets& secrets = plan->config.http.secrets;
    s.status = status.ok() || secrets.empty() ? status : Status(status.code(), secrets.redact(status.message()));
  }

  // ---- stream: a line a record --------------------------------------------

  // A record through its steps; its line waits in `unended`. Its position
  // comes back (for the order of the input). With a `window`, the record
  // first waits until it is within it (one that cannot, as the stream
  // closes, keeps its unfinished line).
  boost::asio::awaitable<std::uint64_t> line_of(Record r, OrderWindow* window) {
    const std::uint64_t position = r.position;
    if (window != nullptr && !co_await window->enter(position)) {
      ended.unfinished.fetch_add(1, std::memory_order_relaxed);
      co_return position;
    }
    Record done = co_await fetch->record(std::move(r));
    ended.add(done.outcome);
    if (done.outcome == Record::Outcome::kDead) check_dead_letters();
    unended.ended(position, outcome_json(*plan, done));
    co_return position;
  }

  // ---- the writer stage (one batch at a time) ---------------------------------

  Status write(const Chunk& chunk) {
    SLUICE_RETURN_IF_ERROR(commit->write(chunk));
    ended.written.fetch_add(chunk.rows, std::memory_order_relaxed);
    ended.filtered.fetch_add(chunk.filtered, std::memory_order_relaxed);
    ended.not_joined.fetch_add(chunk.not_joined, std::memory_order_relaxed);
    ended.dead.fetch_add(chunk.dead_count, std::memory_order_relaxed);
    ended.unfinished.fetch_add(chunk.unfinished, std::memory_order_relaxed);
    check_dead_letters();
    return Status();
  }

  // max_dead_letters: a run whose records keep failing stops
  // early instead of dead-lettering the rest of its input.
  void check_dead_letters() {
    const DeadLetterLimit& limit = plan->config.max_dead_letters;
    if (!limit.set()) return;
    const std::uint64_t d = ended.dead.load(std::memory_order_relaxed);
    const std::uint64_t done = ended.written.load(std::memory_order_relaxed) +
                               ended.filtered.load(std::memory_order_relaxed) +
                               ended.not_joined.load(std::memory_order_relaxed) + d;
    if (!limit.exceeded(d, done)) return;
    char share[32];
    std::snprintf(share, sizeof share, "%.1f%%",
                  done ? 100.0 * static_cast<double>(d) / static_cast<double>(done) : 0.0);
    fail_run(Status::Unavailable(std::to_string(d) + " of the " + std::to_string(done) +
                                 " records done so far were dead-lettered (" + share +
                                 "), more than max_dead_letters (" + limit.text +
                                 "): stopped; see the dead letters for why, and --resume carries on"));
  }
};

Engine::Engine(std::unique_ptr<State> s) : state_(std::move(s)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<Plan> plan, JobOptions options, Output output) {
  // The threads settings (and SLUICE_CPU_THREADS) are checked before the
  // runtime starts, so a bad one is an error, not an exception.
  Result<RuntimeOptions> threads =
      Runtime::resolve({.io_threads = options.io_threads, .cpu_threads = options.cpu_threads});
  if (!threads.ok()) return threads.status();
  options.cpu_threads = threads->cpu_threads;
  if (options.run_id.empty()) options.run_id = detail::random_hex(8);
  auto st = std::make_unique<State>(std::move(plan), std::move(options), output);
  const PipelineConfig& c = st->plan->config;

  if (output != Output::kServed) {
    Input::Options in{
        .limit = st->options.limit, .shard_index = st->options.shard_index, .shard_count = st->options.shard_count};
    if (output == Output::kLines) {
      State* self = st.get();
      in.on_read = [self](const Record& r) { self->unended.add(*self->plan, r); };
    }
    SLUICE_ASSIGN_OR_RETURN(st->input, Input::open(*st->plan, std::move(in)));
  }

  if (!c.steps.empty()) {
    http::ClientOptions h = client_options(c.http);
    h.receive_budget = st->admission.budget();
    // A server answers each record by its deadline: an API that is down
    // fails records, it does not hold them (nor, given up on, stop serving).
    if (output == Output::kServed) h.outage.enabled = false;
    SLUICE_ASSIGN_OR_RETURN(st->client, http::Client::create(st->rt, std::move(h)), c.http.where.str() + ": http");
  }
  State* self = st.get();
  const bool served = output == Output::kServed;
  st->fetch = std::make_unique<Fetch>(*st->plan, st->rt, st->client ? &*st->client : nullptr, st->admission,
                                      [self, served](const Status& why) {
                                        if (!served) self->fail_run(why);
                                      });
  if (output != Output::kFiles) return std::unique_ptr<Engine>(new Engine(std::move(st)));

  const std::string out = st->options.output.empty() ? c.output.path : st->options.output;
  StoreOptions so = st->options.store;
  if (so.runtime == nullptr) so.runtime = &st->rt;
  std::unique_ptr<ObjectStore> store;
  SLUICE_ASSIGN_OR_RETURN(store, open_store(out, so), "output '" + out + "'");
  if (st->options.shard_count == 0 || st->options.shard_index >= st->options.shard_count) {
    return Status::InvalidArgument("shard " + std::to_string(st->options.shard_index) + " of " +
                                   std::to_string(st->options.shard_count) + ": the index must be below the count");
  }
  Commit::Options co{.file_name = c.output.name, .resume = st->options.resume, .inputs = st->input->files()};
  if (st->options.shard_count > 1) {
    co.shard = ShardAttempt{.index = st->options.shard_index,
                            .count = st->options.shard_count,
                            .attempt = st->options.run_id,
                            .scheduler_attempt = st->options.scheduler_attempt};
  }
  SLUICE_ASSIGN_OR_RETURN(st->commit, Commit::open(std::move(store), *st->plan, std::move(co)));
  return std::unique_ptr<Engine>(new Engine(std::move(st)));
}

JobSummary Engine::run() {
  State& st = *state_;
  if (st.output != Output::kFiles) return st.made_for_another("run");
  const PipelineConfig& c = st.plan->config;
  JobSummary summary = st.begin();
  if (!st.commit->committed_by().empty()) {  // an attempt at a shard that is done
    summary.shard_commit = "already committed by attempt " + st.commit->committed_by();
    summary.accounted = true;
    st.end(summary, Status());
    return summary;
  }

  State* self = &st;
  auto pipeline =
      st.input->source(st.commit->done_before(), st.stopping, [self](const Status& why) { self->fail_run(why); }) |
      map_unordered([self](Record r) { return self->fetch->record(std::move(r)); },
                    {.name = "requests", .concurrency = c.records_in_flight, .capacity = c.queue_capacity}) |
      batch({.name = "batch", .size = c.batch_size, .timeout = c.batch_timeout, .capacity = 2}) |
      cpu([self](std::vector<Record> b) { return to_columns(*self->plan, self->input->names(), std::move(b)); },
          {.name = "columns"}) |
      cpu(
          [self](const Chunk& ch) -> Result<int> {
            SLUICE_RETURN_IF_ERROR(self->write(ch));
            return 0;
          },
          {.name = "write", .concurrency = 1}) |
      sink([](int) {}, {.name = "end"});
  Status status = st.run_flow(std::move(pipeline));

  bool whole_input = st.input->read_all();
  {
    MutexLock lock(st.fatal_mu);
    whole_input = whole_input && st.fatal.ok();
  }
  const Commit::Finished finished = st.commit->finish(
      status,
      {.whole_input = whole_input, .input_records = st.input->positions(), .dead_lettered = progress().dead_lettered},
      summary);
  status = finished.status;
  const bool all_committed = finished.all_committed;
  const std::uint64_t committed_rows = finished.rows;
  st.collect(summary, progress());
  JobProgress& n = summary.counts;
  if (all_committed) {
    // Every record read reached one outcome, counted where it was decided.
    summary.accounted = n.read == n.done() + n.unfinished;
  } else {
    // Abandoned, or a stage failed: only committed rows are written; the
    // rest of what was read (in flight, or in a file not committed) is
    // unfinished, and a resume does it again.
    n.written = committed_rows;
    n.unfinished = n.read - std::min(n.read, n.done());
    summary.accounted = true;
  }
  st.end(summary, status);
  return summary;
}

JobSummary Engine::stream(const std::function<void(std::string_view line)>& emit, bool ordered) {
  State& st = *state_;
  if (st.output != Output::kLines) return st.made_for_another("stream");
  const PipelineConfig& c = st.plan->config;
  JobSummary summary = st.begin();
  if (ordered && st.rt.io_threads() != 1) {
    summary.status = Status::InvalidArgument("stream: lines in the input's order need one event-loop thread");
    return summary;
  }
  State* self = &st;
  const PositionSet none;  // nothing was done before: a stream has no manifest
  // In the input's order: lines that end before the ones ahead of them wait
  // here, and a record starts only within records_in_flight of the first
  // line not yet out, which bounds those under way and waiting together.
  OrderWindow window(c.records_in_flight);
  std::set<std::uint64_t> waiting;  // ordered: records that ended after one before them that has not
  std::uint64_t next = 0;
  auto out = [&](std::uint64_t position) {
    if (!ordered) {
      if (const std::string line = st.unended.take(position); !line.empty()) emit(line);
      return;
    }
    waiting.insert(position);
    for (auto it = waiting.begin(); it != waiting.end() && *it == next; it = waiting.erase(it), ++next) {
      if (const std::string line = st.unended.take(next); !line.empty()) emit(line);
    }
    window.advance(next);
  };
  OrderWindow* w = ordered ? &window : nullptr;
  auto pipeline =
      st.input->source(none, st.stopping, [self](const Status& why) { self->fail_run(why); }) |
      map_unordered([self, w](Record r) { return self->line_of(std::move(r), w); },
                    {.name = "requests", .concurrency = c.records_in_flight, .capacity = c.queue_capacity}) |
      sink(out, {.name = "out"});
  const Status status = st.run_flow(std::move(pipeline));
  window.close();
  // Every record read has its line: those the flow did not get out (it was
  // abandoned, or they wait for one before them), in the input's order.
  for (const auto& [position, line] : st.unended.take_all()) emit(line);
  st.collect(summary, progress());
  // Records under way when the flow was abandoned had no line of their
  // own: unfinished.
  JobProgress& n = summary.counts;
  n.unfinished = n.read - std::min(n.read, n.done());
  summary.accounted = true;
  st.end(summary, status);
  return summary;
}

JobSummary Engine::serve(const ServeOptions& options) {
  State& st = *state_;
  if (st.output != Output::kServed) return st.made_for_another("serve");
  JobSummary summary = st.begin();
  State* self = &st;
  Result<std::unique_ptr<Server>> server = Server::start(
      *st.plan, st.rt, [self](Record r) { return self->fetch->record(std::move(r)); }, options);
  if (!server.ok()) {
    st.end(summary, server.status());
    return summary;
  }
  {
    MutexLock lock(st.serve_mu);
    st.server = server->get();
    // Until stop() (drain, then return) or abort() (close every connection).
    while (!st.stopping.load() && !st.aborting) st.wake.wait(lock);
  }
  (*server)->drain([self] {
    MutexLock lock(self->serve_mu);
    self->drained = true;
    self->wake.notify_all();
  });
  {
    MutexLock lock(st.serve_mu);
    while (!st.drained && !st.aborting) st.wake.wait(lock);
  }
  (*server)->abort();  // after a drain, nothing is left to close
  summary.serve = (*server)->stats();
  {
    MutexLock lock(st.serve_mu);
    st.served = (*server)->counts();
    st.server = nullptr;
  }
  server->reset();  // waits for its coroutines
  st.collect(summary, progress());
  summary.accounted = summary.counts.read == summary.counts.done() + summary.counts.unfinished;
  st.end(summary, Status());
  return summary;
}

JobProgress Engine::progress() const {
  const State& st = *state_;
  JobProgress p;
  if (st.input) {
    p.read = st.input->read();
    p.written = st.ended.written.load();
    p.filtered = st.ended.filtered.load();
    p.not_joined = st.ended.not_joined.load();
    p.dead_lettered = st.ended.dead.load();
    p.unfinished = st.ended.unfinished.load();
    p.skipped = st.input->skipped();
    p.input_bytes = st.input->bytes_read();
    p.input_bytes_total = st.input->total_bytes();
    p.records_in_flight = st.fetch->records_in_flight();
  } else {
    MutexLock lock(st.serve_mu);
    p = st.server ? st.server->counts() : st.served;  // in flight: of requests being answered
  }
  p.bytes_in_flight = st.admission.budget()->used();
  p.peak_bytes_in_flight = st.admission.budget()->peak();
  p.records_held = st.admission.held_now();
  p.records_held_total = st.admission.held_total();
  if (st.client) {
    http::ClientStats h = st.client->stats();
    p.requests_in_flight = h.in_flight;
    p.requests = h.requests;
    p.retries = h.retries;
    p.failures = h.failed;
  }
  p.answer_retries = st.fetch->answer_retries();
  p.cpu_batches = st.fetch->cpu_batches();
  p.cpu_batch_records = st.fetch->cpu_batch_records();
  p.requests_waiting = st.fetch->requests_waiting();
  p.seconds = std::chrono::duration<double>(Clock::now() - st.started).count();
  return p;
}

std::vector<std::pair<std::string, LatencyCounts>> Engine::step_latencies() const {
  std::vector<std::pair<std::string, LatencyCounts>> out;
  const auto& steps = state_->plan->steps;
  for (std::size_t i = 0; i < steps.size(); ++i) out.emplace_back(steps[i].name, state_->fetch->step_latency(i));
  return out;
}

std::vector<StepAnswers> Engine::step_answers() const {
  std::vector<StepAnswers> out;
  const auto& steps = state_->plan->steps;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::array<std::uint64_t, 5> n = state_->fetch->step_answers(i);
    StepAnswers& a = out.emplace_back();
    a.step = steps[i].name;
    std::copy(n.begin(), n.begin() + 4, std::begin(a.answered));
    a.no_answer = n[Fetch::kNoAnswer];
  }
  return out;
}

Status Engine::reload_datasets() {
  Plan& plan = *state_->plan;
  SLUICE_ASSIGN_OR_RETURN(LoadedDatasets::Set set, load_datasets(plan.config));
  plan.datasets.replace(std::move(set));
  return Status();
}

http::ClientStats Engine::http_stats() const { return state_->client ? state_->client->stats() : http::ClientStats{}; }

void Engine::stop() {
  State& st = *state_;
  st.stopping = true;
  MutexLock lock(st.serve_mu);
  st.wake.notify_all();
}

void Engine::abort() {
  State& st = *state_;
  st.stopping = true;
  {
    MutexLock lock(st.serve_mu);
    st.aborting = true;
    st.wake.notify_all();
  }
  // Records waiting for a request slot, and requests waiting in the client,
  // give up at once instead of being sent one by one as slots free up.
  st.fetch->close();
  st.admission.close();
  if (st.client) st.client->close();
  MutexLock lock(st.run_mu);
  if (st.handle) st.handle->cancel();
}

}  // namespace sluice::pipeline
