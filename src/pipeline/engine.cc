#include "engine.h"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "admission.h"
#include "columns.h"
#include "commit.h"
#include "evaluate.h"
#include "key_set.h"
#include "manifest.h"
#include "preflight.h"
#include "record.h"
#include "sluice/detail/mutex.h"
#include "sluice/pipeline.h"
#include "sluice/semaphore.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
// A record's follow-up requests go before new records' first ones.
constexpr auto kUrgent = AsyncSemaphore::Priority::kUrgent;
constexpr auto kNormal = AsyncSemaphore::Priority::kNormal;

namespace {

// Counts itself in `n` while it lives (`enter` false: the caller counted it).
struct Counted {
  explicit Counted(std::atomic<std::uint64_t>& counter, bool enter = true) : n(counter) {
    if (enter) n.fetch_add(1, std::memory_order_relaxed);
  }
  ~Counted() { n.fetch_sub(1, std::memory_order_release); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  std::atomic<std::uint64_t>& n;
};

double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

struct Engine::State {
  std::unique_ptr<Plan> plan;
  RunOptions options;
  Runtime rt;
  std::optional<http::Client> client;
  AsyncSemaphore gate;
  static constexpr std::int64_t kMaxFanOut = 10000;  // requests of one step for one record
  std::unique_ptr<Commit> commit;                    // the output: files, dead letters, the manifest
  std::atomic<std::uint64_t> skipped{0};
  KeySet seen_keys;                          // the input's keys so far (the source's thread only)
  std::atomic<std::uint64_t> duplicates{0};  // records dead-lettered as duplicates
  std::vector<std::string> inputs;           // files, after the glob
  // Each input file and its size (0 for standard input or when unknown): the
  // total makes the ETA, the list identifies the input in the manifest.
  std::vector<std::pair<std::string, std::uint64_t>> input_sizes;

  std::atomic<bool> stopping{false};
  Mutex fatal_mu;
  Status fatal SLUICE_GUARDED_BY(fatal_mu);  // why the run ended early on its own (see fail_run)
  Mutex run_mu;
  RunHandle* handle SLUICE_GUARDED_BY(run_mu) = nullptr;
  Clock::time_point started;

  std::atomic<std::uint64_t> read{0}, written{0}, filtered{0}, not_joined{0}, dead{0}, unfinished{0};
  std::atomic<std::uint64_t> in_flight{0}, requests_waiting{0};
  // max_bytes_in_flight: which records may start, which requests may.
  Admission admission;
  std::atomic<std::uint64_t> answer_retries{0};  // answers asked for again because they could not be read
  // Fan-out requests run as coroutines of their own; a cancelled run can end
  // before them, and the engine must not go away under them.
  std::atomic<std::uint64_t> children{0};
  std::atomic<bool> read_all{false};
  std::atomic<std::uint64_t> input_bytes{0};
  std::uint64_t input_bytes_total = 0;

  State(std::unique_ptr<Plan> p, RunOptions o)
      : plan(std::move(p)),
        options(std::move(o)),
        rt(RuntimeOptions{.io_threads = options.io_threads, .cpu_threads = options.cpu_threads}),
        gate(plan->config.http.client.max_in_flight),
        admission(plan->config.max_bytes_in_flight, plan->config.records_in_flight) {}

  // ---- the source -----------------------------------------------------------

  Source<Record, detail::UniqueFunction<Stream<Record>(detail::FlowState&)>> source() {
    return Source<Record, detail::UniqueFunction<Stream<Record>(detail::FlowState&)>>(
        [this](detail::FlowState& flow) -> Stream<Record> {
          auto& c = flow.add_stage("input", "source");
          auto out = detail::make_output<Record>(flow, c, plan->config.queue_capacity, 1);
          flow.spawn_thread(c, [this, out, &c]() -> Status {
            detail::SenderGuard guard(*out);
            std::uint64_t before = 0;    // bytes of the files already read
            std::uint64_t position = 0;  // of the row in the whole input
            PositionCursor earlier(commit->done_before());
            for (std::uint32_t file_index = 0; file_index < inputs.size(); ++file_index) {
              const std::string& file = inputs[file_index];
              TableConfig t = plan->config.input;
              t.path = file;
              auto reader = TableReader::open(t);
              if (!reader.ok()) return reader.status();
              std::vector<Value> row;
              std::uint64_t line = 0;
              Status row_error;
              for (;;) {
                if (stopping.load(std::memory_order_relaxed)) return Status();
                if (options.limit && read.load(std::memory_order_relaxed) >= options.limit) return Status();
                Result<bool> more = (*reader)->next(row, line, row_error);
                if (!more.ok()) return more.status();
                if (!*more) break;
                const std::uint64_t at = position++;
                if (options.shard_count > 1 && at % options.shard_count != options.shard_index) continue;
                // A key read before (in this run or one it resumes) is a duplicate.
                const bool seen_before = row_error.ok() && !keys_are_new(row, t.path, line, row_error);
                if (earlier.contains(at)) {
                  skipped.fetch_add(1, std::memory_order_relaxed);
                  continue;
                }
                Record r;
                r.position = at;
                r.line = line;
                r.input = file_index;
                r.slots.resize(plan->slot_names.size());
                std::move(row.begin(), row.end(), r.slots.begin());
                if (!row_error.ok()) {
                  r.outcome = Record::Outcome::kDead;
                  r.dead_step = "input";
                  r.dead_error = row_error.message();
                  if (seen_before) duplicates.fetch_add(1, std::memory_order_relaxed);
                }
                read.fetch_add(1, std::memory_order_relaxed);
                if ((line & 63) == 0) input_bytes.store(before + (*reader)->position(), std::memory_order_relaxed);
                c.count_in();
                if (!out->send_blocking(std::move(r))) return Status();
                c.count_out();
              }
              before += (*reader)->position();
              input_bytes.store(before, std::memory_order_relaxed);
            }
            read_all = true;
            return Status();
          });
          return out;
        });
  }

  // Checks the key of an input row: not null, and (unless duplicates are
  // kept) not one read before. False with `error` set if it is neither.
  bool keys_are_new(const std::vector<Value>& row, const std::string& file, std::uint64_t line, Status& error) {
    std::vector<const Value*> key;
    for (int k : plan->key_slots) {
      const Value& v = row[static_cast<std::size_t>(k)];
      if (v.is_null()) {
        error = Status::InvalidArgument(file + ":" + std::to_string(line) + ": the key column '" +
                                        plan->slot_names[static_cast<std::size_t>(k)] +
                                        "' is empty: the record cannot be named");
        return true;
      }
      key.push_back(&v);
    }
    if (plan->config.input.duplicates == Duplicates::kKeep || seen_keys.insert(KeySet::fingerprint(key))) return true;
    std::string shown;
    for (std::size_t i = 0; i < key.size(); ++i) {
      shown +=
          (i ? ", " : "") + plan->slot_names[static_cast<std::size_t>(plan->key_slots[i])] + "=" + key[i]->to_json();
    }
    error = Status::InvalidArgument(file + ":" + std::to_string(line) + ": duplicate key " + shown +
                                    ": an earlier record of the input has it (input.duplicates: keep to process both)");
    return false;
  }

  // ---- requests ---------------------------------------------------------------

  // `loop` is the for_each value, or with `list`, the index of the value in it.
  static std::string render(const std::vector<Template::Piece>& pieces, const Record& r, std::int64_t loop,
                            const std::vector<Value>* list) {
    std::string out;
    for (const auto& p : pieces) {
      if (p.hole == Template::kLoopVar)
        out += list ? value_text((*list)[static_cast<std::size_t>(loop)]) : std::to_string(loop);
      else if (p.hole >= 0)
        out += value_text(r.slots[static_cast<std::size_t>(p.hole)]);
      else
        out += p.text;
    }
    return out;
  }

  http::Request request_for(const StepPlan& s, const Record& r, std::int64_t loop) const {
    const std::vector<Value>* list =
        s.for_each_list >= 0 ? &r.lists[static_cast<std::size_t>(s.for_each_list)] : nullptr;
    // The oldest records' answers read on first when answers wait for memory.
    http::Request req{.method = s.method, .path = render(s.request.path, r, loop, list), .priority = r.position};
    for (const auto& [k, v] : s.request.query) req.query.emplace_back(k, render(v, r, loop, list));
    if (!s.request.body.empty()) {
      req.body = render(s.request.body, r, loop, list);
      req.headers.emplace_back("Content-Type", "application/json");
    }
    return req;
  }

  // One request through the pipeline's gate: a 2xx answer's body, or why
  // not. (Callers name the URL only when it failed: see url_of.)
  asio::awaitable<Result<std::string>> call(http::Request req, AsyncSemaphore::Priority priority) {
    requests_waiting.fetch_add(1, std::memory_order_relaxed);
    // Over max_bytes_in_flight, no request starts but those of the oldest
    // record under way: the answers already coming finish (one at a time
    // past the bound, the oldest record's first), records end and give
    // their bytes back. The oldest record never waits, so it always ends.
    // The bound is checked again once a slot is had: a request that waited
    // for one while the bound was crossed gives it back and waits under it
    // (else every request queued at the gate would start past the bound).
    for (;;) {
      if (!admission.may_send(req.priority)) {
        if (!co_await admission.wait_under()) {
          requests_waiting.fetch_sub(1, std::memory_order_relaxed);
          co_return Status::Cancelled("the run is stopping");
        }
      }
      if (!co_await gate.acquire(priority)) {
        requests_waiting.fetch_sub(1, std::memory_order_relaxed);
        co_return Status::Cancelled("the run is stopping");
      }
      if (admission.may_send(req.priority)) break;
      gate.release();
    }
    requests_waiting.fetch_sub(1, std::memory_order_relaxed);
    SemaphoreUnit unit(gate);
    const http::Method method = req.method;
    Result<http::Response> resp = co_await client->send(std::move(req));
    if (!resp.ok()) co_return resp.status();
    if (resp->status < 200 || resp->status > 299) {
      co_return Status::Unavailable(std::string(http::to_string(method)) + ": HTTP " + std::to_string(resp->status) +
                                    (resp->body.empty() ? "" : ": " + resp->body.substr(0, 200)));
    }
    co_return std::move(resp->body);
  }

  // The URL of a step's request for `r`, as messages show it (secrets redacted).
  std::string url_of(const StepPlan& s, const Record& r, std::int64_t loop) const {
    return client->display_url(request_for(s, r, loop));
  }

  // A record whose step failed: dead-lettered, unless the failure is the
  // run's and not the record's (the run is being abandoned, or the API was
  // given up on): then it is left unfinished, for a resume to do again.
  void kill(Record& r, const std::string& step, std::string url, const Status& s) {
    if (s.code() == StatusCode::kCancelled || (client && !client->origin_status().ok())) {
      if (client && !client->origin_status().ok()) fail_run(client->origin_status());
      r.outcome = Record::Outcome::kUnfinished;
      return;
    }
    r.outcome = Record::Outcome::kDead;
    r.dead_step = step;
    r.dead_url = std::move(url);
    r.dead_error = s.message();
  }

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

  int attempts() const { return std::max(1, plan->config.http.client.retry.max_attempts); }

  // A step without for_each: one answer, its fields read at once (they are
  // small, and later steps need them). An answer that is not what the step
  // expects is asked for again, up to the retry policy's attempts.
  asio::awaitable<bool> single(const StepPlan& s, int si, Record& r) {
    Status last;
    for (int attempt = 1; attempt <= attempts(); ++attempt) {
      if (attempt > 1) answer_retries.fetch_add(1, std::memory_order_relaxed);
      Result<std::string> body = co_await call(request_for(s, r, 0), si > 0 ? kUrgent : kNormal);
      if (!body.ok()) {
        kill(r, s.name, url_of(s, r, 0), body.status());
        co_return false;
      }
      if (!s.fields->fields().empty()) {  // a step with arrays only is parsed once, on the CPU pool
        std::vector<Value> values;
        std::vector<std::vector<Value>> lists;
        last = s.fields->extract(*body, values, &lists);
        if (!last.ok()) continue;
        for (std::size_t i = 0; i < values.size(); ++i)
          r.slots[static_cast<std::size_t>(s.first_slot) + i] = std::move(values[i]);
        if (!lists.empty()) {
          r.lists.resize(plan->list_names.size());
          for (std::size_t j = 0; j < lists.size(); ++j)
            r.lists[static_cast<std::size_t>(s.first_list) + j] = std::move(lists[j]);
        }
      }
      if (!s.arrays.empty()) keep(r, si, 0, std::move(*body));
      co_return true;
    }
    kill(r, s.name, url_of(s, r, 0), last.with_context("cannot read the answer"));
    co_return false;
  }

  // Every answer of a fan-out, concurrently; they come back in any order
  // and are kept in the order of the loop variable.
  asio::awaitable<bool> fan_out(const StepPlan& s, int si, Record& r, std::int64_t first, std::int64_t end) {
    struct Shared {
      std::vector<Result<std::string>> answers;
      Channel<int> done;
      explicit Shared(std::size_t n) : answers(n, Status::Cancelled("not sent")), done(n) {}
    };
    const auto n = static_cast<std::size_t>(end - first);
    auto shared = std::make_shared<Shared>(n);
    auto ex = co_await asio::this_coro::executor;
    for (std::size_t i = 0; i < n; ++i) {
      children.fetch_add(1, std::memory_order_relaxed);  // before it starts: run() waits for zero
      asio::co_spawn(
          ex,
          [](State* st, std::shared_ptr<Shared> sh, std::size_t i, http::Request req) -> asio::awaitable<void> {
            Counted counted(st->children, false);
            sh->answers[i] = co_await st->call(std::move(req), kUrgent);
            int index = static_cast<int>(i);
            (void)sh->done.try_send(index);
          }(this, shared, i, request_for(s, r, first + static_cast<std::int64_t>(i))),
          asio::detached);
    }
    for (std::size_t got = 0; got < n; ++got) {
      if (!co_await shared->done.receive()) {
        r.outcome = Record::Outcome::kUnfinished;  // the run is being abandoned
        co_return false;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!shared->answers[i].ok()) {
        kill(r, s.name, url_of(s, r, first + static_cast<std::int64_t>(i)), shared->answers[i].status());
        co_return false;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      keep(r, si, first + static_cast<std::int64_t>(i), std::move(*shared->answers[i]));
    }
    co_return true;
  }

  void keep(Record& r, int step, std::int64_t loop, std::string body) {
    r.body_bytes += body.size();
    r.peak_bytes = std::max(r.peak_bytes, r.body_bytes);
    admission.hold(body.size());
    r.answers.push_back({step, loop, std::move(body)});
  }

  // The record's last answer is in: on the CPU pool, parse the arrays out
  // of its answers (in order), join, and compute its output row; the
  // answers are then dropped, so a record waiting for the writer holds
  // only its row. An answer that cannot be read is asked for again (up to
  // the retry policy's attempts) and everything is parsed anew.
  asio::awaitable<void> finish(Record& r) {
    for (int attempt = 1;; ++attempt) {
      auto [error, bad] =
          co_await rt.run_on_cpu([this, &r] { return evaluate(*plan, r); }, asio::as_tuple(asio::deferred));
      if (error) std::rethrow_exception(error);
      auto [index, why] = *bad;
      if (index == r.answers.size()) break;
      const Answer& a = r.answers[index];
      const StepPlan& s = plan->steps[static_cast<std::size_t>(a.step)];
      if (attempt >= attempts()) {
        kill(r, s.name, url_of(s, r, a.loop), why.with_context("cannot read the answer"));
        break;
      }
      answer_retries.fetch_add(1, std::memory_order_relaxed);
      Result<std::string> again = co_await call(request_for(s, r, a.loop), kUrgent);
      if (!again.ok()) {
        kill(r, s.name, url_of(s, r, a.loop), again.status());
        break;
      }
      admission.release(r.answers[index].body.size());
      r.body_bytes -= r.answers[index].body.size();
      r.answers[index].body = std::move(*again);
      r.body_bytes += r.answers[index].body.size();
      r.peak_bytes = std::max(r.peak_bytes, r.body_bytes);
      admission.hold(r.answers[index].body.size());
    }
    drop_answers(r);
  }

  // The answers a record holds, and the gauge of their bytes, let go.
  void drop_answers(Record& r) {
    admission.release(r.body_bytes);
    r.body_bytes = 0;
    r.answers.clear();
    r.answers.shrink_to_fit();
    r.lists.clear();
    r.lists.shrink_to_fit();
  }

  asio::awaitable<Record> fetch(Record r) {
    if (r.outcome == Record::Outcome::kDead) co_return r;
    if (!co_await admission.admit()) {
      kill(r, plan->steps.empty() ? "input" : plan->steps.front().name, "", Status::Cancelled("the run is stopping"));
      co_return r;
    }
    {
      Counted counted(in_flight);
      Admission::UnderWay under_way(admission, r.position);
      co_await run_steps(r);
      if (r.outcome == Record::Outcome::kPending) {
        co_await finish(r);
      } else {
        drop_answers(r);  // filtered, or dead: only the row or the error goes on
      }
    }
    admission.ended(r.peak_bytes);
    co_return r;
  }

  // The record's steps in order, until one filters it out or fails.
  asio::awaitable<void> run_steps(Record& r) {
    const auto& steps = plan->steps;
    for (std::size_t si = 0; si < steps.size(); ++si) {
      const StepPlan& s = steps[si];
      Env env{&r.slots, nullptr};
      // A null in the URL or body would be sent as "null": no request can be made.
      for (int slot : s.request.slots) {
        if (r.slots[static_cast<std::size_t>(slot)].is_null()) {
          kill(r, s.name, "",
               Status::InvalidArgument("{" + plan->slot_names[static_cast<std::size_t>(slot)] +
                                       "} is null: its request cannot be made"));
          co_return;
        }
      }
      if (s.for_each || s.for_each_list >= 0) {
        std::int64_t first = 0, end = 0;
        if (s.for_each) {
          auto range = s.for_each->eval_range(env);
          if (!range.ok()) {
            kill(r, s.name, "", range.status());
            co_return;
          }
          std::tie(first, end) = *range;
        } else {
          end = static_cast<std::int64_t>(r.lists[static_cast<std::size_t>(s.for_each_list)].size());
        }
        if (end - first > kMaxFanOut) {
          kill(r, s.name, "",
               Status::InvalidArgument("for_each: " + std::to_string(end - first) + " requests (more than " +
                                       std::to_string(kMaxFanOut) + ")"));
          co_return;
        }
        if (end > first && !co_await fan_out(s, static_cast<int>(si), r, first, end)) co_return;
      } else if (!co_await single(s, static_cast<int>(si), r)) {
        co_return;
      }
      if (s.keep_if && !s.keep_if->eval_condition(env)) {
        r.outcome = Record::Outcome::kFiltered;
        co_return;
      }
    }
  }

  // ---- the writer stage (one batch at a time) ---------------------------------

  Status write(const Chunk& chunk) {
    SLUICE_RETURN_IF_ERROR(commit->write(chunk));
    written.fetch_add(chunk.rows, std::memory_order_relaxed);
    filtered.fetch_add(chunk.filtered, std::memory_order_relaxed);
    not_joined.fetch_add(chunk.not_joined, std::memory_order_relaxed);
    dead.fetch_add(chunk.dead_count, std::memory_order_relaxed);
    unfinished.fetch_add(chunk.unfinished, std::memory_order_relaxed);
    check_dead_letters();
    return Status();
  }

  // max_dead_letters: a run whose records keep failing stops
  // early instead of dead-lettering the rest of its input.
  void check_dead_letters() {
    const DeadLetterLimit& limit = plan->config.max_dead_letters;
    if (!limit.set()) return;
    const std::uint64_t d = dead.load(std::memory_order_relaxed);
    const std::uint64_t done = written.load(std::memory_order_relaxed) + filtered.load(std::memory_order_relaxed) +
                               not_joined.load(std::memory_order_relaxed) + d;
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

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<Plan> plan, RunOptions options) {
  // The threads settings (and SLUICE_CPU_THREADS) are checked before the
  // runtime starts, so a bad one is an error, not an exception.
  Result<RuntimeOptions> threads =
      Runtime::resolve({.io_threads = options.io_threads, .cpu_threads = options.cpu_threads});
  if (!threads.ok()) return threads.status();
  options.cpu_threads = threads->cpu_threads;
  auto st = std::make_unique<State>(std::move(plan), std::move(options));
  const PipelineConfig& c = st->plan->config;

  // The input: a file, a glob, or standard input.
  Result<std::vector<std::string>> inputs = input_files(c.input);
  if (!inputs.ok()) return inputs.status();
  st->inputs = std::move(*inputs);
  bool sizes_known = true;
  for (const auto& f : st->inputs) {
    std::error_code ec;
    const std::uint64_t size = f == "-" ? 0 : std::filesystem::file_size(f, ec);
    sizes_known &= f != "-" && !ec;
    st->input_sizes.emplace_back(f, ec ? 0 : size);
    st->input_bytes_total += ec ? 0 : size;
  }
  if (!sizes_known) st->input_bytes_total = 0;  // no estimate of the total

  if (!c.steps.empty()) {
    http::ClientOptions h = client_options(c.http);
    h.receive_budget = st->admission.budget();
    SLUICE_ASSIGN_OR_RETURN(st->client, http::Client::create(st->rt, std::move(h)), c.http.where.str() + ": http");
  }

  const std::string out = st->options.output.empty() ? c.output.path : st->options.output;
  StoreOptions so = st->options.store;
  if (so.runtime == nullptr) so.runtime = &st->rt;
  std::unique_ptr<ObjectStore> store;
  SLUICE_ASSIGN_OR_RETURN(store, open_store(out, so), "output '" + out + "'");
  if (st->options.shard_count == 0 || st->options.shard_index >= st->options.shard_count) {
    return Status::InvalidArgument("shard " + std::to_string(st->options.shard_index) + " of " +
                                   std::to_string(st->options.shard_count) + ": the index must be below the count");
  }
  Commit::Options co{.file_name = c.output.name, .resume = st->options.resume, .inputs = st->input_sizes};
  if (st->options.shard_count > 1) {
    co.file_name +=
        "-shard-" + std::to_string(st->options.shard_index) + "-of-" + std::to_string(st->options.shard_count);
  }
  SLUICE_ASSIGN_OR_RETURN(st->commit, Commit::open(std::move(store), *st->plan, std::move(co)));
  return std::unique_ptr<Engine>(new Engine(std::move(st)));
}

RunSummary Engine::run() {
  State& st = *state_;
  const PipelineConfig& c = st.plan->config;
  RunSummary summary;
  st.started = Clock::now();
  const double cpu0 = cpu_now();
  for (const auto& d : st.plan->datasets) summary.dataset_bytes += d ? d->memory_bytes() : 0;
  summary.shard_index = st.options.shard_index;
  summary.shard_count = st.options.shard_count;

  State* self = &st;
  auto pipeline =
      st.source() |
      map_unordered([self](Record r) { return self->fetch(std::move(r)); },
                    {.name = "requests", .concurrency = c.records_in_flight, .capacity = c.queue_capacity}) |
      batch({.name = "batch", .size = c.batch_size, .timeout = c.batch_timeout, .capacity = 2}) |
      cpu([self](std::vector<Record> b) { return to_columns(*self->plan, self->inputs, std::move(b)); },
          {.name = "columns"}) |
      cpu(
          [self](const Chunk& ch) -> Result<int> {
            SLUICE_RETURN_IF_ERROR(self->write(ch));
            return 0;
          },
          {.name = "write", .concurrency = 1}) |
      sink([](int) {}, {.name = "end"});
  RunHandle handle = st.rt.start(std::move(pipeline));
  {
    MutexLock lock(st.run_mu);
    st.handle = &handle;
  }
  Status status = handle.wait();
  {
    MutexLock lock(st.run_mu);
    st.handle = nullptr;
  }
  // Only after an abort can fan-out requests outlive the run: those waiting
  // for a slot fail at once (the gate is closed), those sent end by their
  // deadline at the latest.
  while (st.children.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  bool whole_input = st.read_all.load();
  {
    MutexLock lock(st.fatal_mu);
    whole_input = whole_input && st.fatal.ok();
  }
  const Commit::Finished finished = st.commit->finish(status, whole_input, summary);
  status = finished.status;
  const bool all_committed = finished.all_committed;
  const std::uint64_t committed_rows = finished.rows;
  summary.duplicates = st.duplicates.load();
  summary.key_index_bytes = st.seen_keys.memory_bytes();
  if (st.client) {
    summary.http = st.client->stats();
    st.client->close();
  }
  summary.counts = progress();
  summary.stopped_early = st.stopping.load() && !st.read_all.load();
  Progress& n = summary.counts;
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
  // The run's own reason to stop early (the API given up on, too many dead
  // letters) is its status once what was finished is committed.
  if (status.ok()) {
    MutexLock lock(st.fatal_mu);
    status = st.fatal;
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - st.started).count();
  summary.cpu_seconds = cpu_now() - cpu0;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  summary.peak_rss_bytes = static_cast<std::uint64_t>(u.ru_maxrss) * 1024;
  summary.status = status;
  return summary;
}

Progress Engine::progress() const {
  const State& st = *state_;
  Progress p;
  p.read = st.read.load();
  p.written = st.written.load();
  p.filtered = st.filtered.load();
  p.not_joined = st.not_joined.load();
  p.dead_lettered = st.dead.load();
  p.unfinished = st.unfinished.load();
  p.skipped = st.skipped.load();
  p.records_in_flight = st.in_flight.load();
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
  p.answer_retries = st.answer_retries.load();
  p.requests_waiting = st.requests_waiting.load();
  p.input_bytes = st.input_bytes.load();
  p.input_bytes_total = st.input_bytes_total;
  p.seconds = std::chrono::duration<double>(Clock::now() - st.started).count();
  return p;
}

http::ClientStats Engine::http_stats() const { return state_->client ? state_->client->stats() : http::ClientStats{}; }

void Engine::stop() { state_->stopping = true; }

void Engine::abort() {
  State& st = *state_;
  st.stopping = true;
  // Records waiting for a request slot, and requests waiting in the client,
  // give up at once instead of being sent one by one as slots free up.
  st.gate.close();
  st.admission.close();
  if (st.client) st.client->close();
  MutexLock lock(st.run_mu);
  if (st.handle) st.handle->cancel();
}

std::string RunSummary::to_json() const {
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
  return std::string("{") + "\"ok\":" + (status.ok() ? "true" : "false") +
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
         ",\"budget_waits\":" + std::to_string(http.budget_waits) +
         ",\"retry_after_wait_ms\":" + std::to_string(http.retry_after_ms) +
         ",\"outages\":" + std::to_string(http.outages) + ",\"outage_wait_ms\":" + std::to_string(http.outage_wait_ms) +
         ",\"latency_us\":{\"p50\":" + q(0.5) + ",\"p90\":" + q(0.9) + ",\"p99\":" + q(0.99) + "}}" +
         ",\"files\":" + files_json + ",\"bytes_written\":" + std::to_string(bytes_written) +
         (dead_letter.empty() ? "" : ",\"dead_letter\":" + json_quote(dead_letter)) +
         ",\"manifest\":" + json_quote(manifest) + ",\"abandoned_files_removed\":" + std::to_string(abandoned_removed) +
         ",\"overwritten_files_removed\":" + std::to_string(overwritten) + ",\"seconds\":" + secs +
         ",\"cpu_seconds\":" + cpu + ",\"peak_rss_bytes\":" + std::to_string(peak_rss_bytes) +
         ",\"dataset_bytes\":" + std::to_string(dataset_bytes) +
         ",\"key_index_bytes\":" + std::to_string(key_index_bytes) +
         ",\"duplicate_keys\":" + std::to_string(duplicates) +
         ",\"peak_answer_bytes_in_flight\":" + std::to_string(counts.peak_bytes_in_flight) +
         ",\"records_held_by_byte_bound\":" + std::to_string(counts.records_held_total) +
         (shard_count > 1 ? ",\"shard\":{\"index\":" + std::to_string(shard_index) +
                                ",\"count\":" + std::to_string(shard_count) + "}"
                          : std::string()) +
         ",\"records_per_second\":" + rate + "}";
}

}  // namespace sluice::pipeline
