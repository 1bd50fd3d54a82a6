#include "pipeline/run/fetch.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "pipeline/run/evaluate.h"
#include "pipeline/run/request.h"
#include "sluice/channel.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
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

}  // namespace

Fetch::Fetch(const Plan& plan, Runtime& rt, http::Client* client, Admission& admission,
             std::function<void(const Status&)> fail_run)
    : plan_(plan),
      client_(client),
      admission_(admission),
      fail_run_(std::move(fail_run)),
      gate_(plan.config.http.client.max_in_flight),
      evaluations_(plan, rt) {
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    step_latency_.push_back(std::make_unique<LatencyHistogram>());
    step_answers_.push_back(std::make_unique<std::array<std::atomic<std::uint64_t>, 5>>());
  }
}

// One request through the pipeline's gate_: a 2xx answer's body, or why
// not. (Callers name the URL only when it failed: see url_of.)
asio::awaitable<Result<Fetch::Body>> Fetch::call(http::Request req, int step, AsyncSemaphore::Priority priority,
                                                 std::shared_ptr<const std::atomic<bool>> given_up) {
  auto abandoned = [&] { return given_up && given_up->load(std::memory_order_relaxed); };
  if (abandoned()) co_return Status::DeadlineExceeded("its deadline passed");
  requests_waiting_.fetch_add(1, std::memory_order_relaxed);
  // Over max_bytes_in_flight, no request starts but those of the oldest
  // record under way: the answers already coming finish (one at a time
  // past the bound, the oldest record's first), records end and give
  // their bytes back. The oldest record never waits, so it always ends.
  // The bound is checked again once a slot is had: a request that waited
  // for one while the bound was crossed gives it back and waits under it
  // (else every request queued at the gate_ would start past the bound).
  for (;;) {
    if (!admission_.may_send(req.priority)) {
      if (!co_await admission_.wait_under()) {
        requests_waiting_.fetch_sub(1, std::memory_order_relaxed);
        co_return Status::Cancelled("the run is stopping");
      }
    }
    if (!co_await gate_.acquire(priority)) {
      requests_waiting_.fetch_sub(1, std::memory_order_relaxed);
      co_return Status::Cancelled("the run is stopping");
    }
    if (abandoned()) {  // while it waited for the slot
      gate_.release();
      requests_waiting_.fetch_sub(1, std::memory_order_relaxed);
      co_return Status::DeadlineExceeded("its deadline passed");
    }
    if (admission_.may_send(req.priority)) break;
    gate_.release();
  }
  requests_waiting_.fetch_sub(1, std::memory_order_relaxed);
  SemaphoreUnit unit(gate_);
  const http::Method method = req.method;
  const bool decoded = req.decode;
  const auto sent = std::chrono::steady_clock::now();
  int last_status = 0;  // of the last answer, if any: a request that failed may have been answered (a 503)
  Result<http::Response> resp = co_await client_->send(std::move(req), &last_status);
  auto& answers = *step_answers_[static_cast<std::size_t>(step)];
  answers[last_status == 0 ? kNoAnswer : static_cast<std::size_t>(std::clamp(last_status / 100, 2, 5) - 2)].fetch_add(
      1, std::memory_order_relaxed);
  if (!resp.ok()) co_return resp.status();
  step_latency_[static_cast<std::size_t>(step)]->record(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - sent));
  std::string encoding = decoded ? std::string() : std::string(resp->header("content-encoding"));
  if (resp->status < 200 || resp->status > 299) {
    std::string text;  // an error's body, compressed or not, as text for the message
    if (!http::decode_body(resp->body, encoding, 1 << 20, text).ok()) text = "(a malformed compressed body)";
    // An API may echo the request: what it sent of credentials goes before
    // the text is cut (a cut secret would no longer be found).
    text = plan_.config.http.secrets.redact(std::move(text));
    co_return Status::Unavailable(std::string(http::to_string(method)) + ": HTTP " + std::to_string(resp->status) +
                                  (text.empty() ? "" : ": " + text.substr(0, 200)));
  }
  co_return Body{std::move(resp->body), std::move(encoding)};
}

// The URL of a step's request for `r`, as messages show it (secrets redacted).
std::string Fetch::url_of(const StepPlan& s, const Record& r, std::int64_t loop) const {
  return client_->display_url(request_for(s, r, loop));
}

// A record whose step failed: dead-lettered, unless the failure is the
// run's and not the record's (the run is being abandoned, or the API was
// given up on): then it is left unfinished, for a resume to do again.
void Fetch::kill(Record& r, const std::string& step, std::string url, const Status& s) {
  if (s.code() == StatusCode::kCancelled || (client_ && !client_->origin_status().ok())) {
    if (client_ && !client_->origin_status().ok()) fail_run_(client_->origin_status());
    r.outcome = Record::Outcome::kUnfinished;
    return;
  }
  const Secrets& secrets = plan_.config.http.secrets;
  r.outcome = Record::Outcome::kDead;
  r.dead_step = step;
  r.dead_url = secrets.redact(std::move(url));
  r.dead_error = secrets.redact(s.message());
}

int Fetch::attempts() const { return std::max(1, plan_.config.http.client.retry.max_attempts); }

namespace {

// The answers of one request that could not be read, each with why: what
// its dead letter says if it comes to that.
class Unreadable {
 public:
  int count() const { return count_; }
  void add(const Status& why) {
    ++count_;
    history_ += (count_ == 1 ? "" : "; ") + ("answer " + std::to_string(count_) + ": " + why.message());
  }
  // Why the request failed: every answer that could not be read, then the
  // last failure (a request that failed after them), if any.
  Status failed(const Status& last = Status()) const {
    if (count_ == 0) return last;
    const std::string read = "cannot read the answer (" + history_ + ")";
    if (last.ok()) return Status::DataLoss(read);
    return Status(last.code(), read + "; then " + last.message());
  }

 private:
  int count_ = 0;
  std::string history_;
};

// A well-formed answer that lacks a field the step reads, or holds it as
// another type: it is not asked for again (the API would answer the same),
// and the dead letter says so.
Status not_as_the_step_says(const Status& why) {
  return Status::FailedPrecondition("the answer is not as the step says, so it was not asked for again: " +
                                    why.message());
}

}  // namespace

// A step without for_each: one answer, its fields read at once (they are
// small, and later steps need them). An answer that is not what the step
// expects is asked for again, up to the retry policy's attempts.
asio::awaitable<bool> Fetch::single(const StepPlan& s, int si, Record& r) {
  Unreadable unreadable;
  while (unreadable.count() < attempts()) {
    if (unreadable.count() > 0) answer_retries_.fetch_add(1, std::memory_order_relaxed);
    Result<Body> body = co_await call(request_for(s, r, 0), si, si > 0 ? kUrgent : kNormal, r.given_up);
    if (!body.ok()) {
      kill(r, s.name, url_of(s, r, 0), unreadable.failed(body.status()));
      co_return false;
    }
    if (!s.fields->fields().empty()) {  // a step with arrays only is parsed once, on the CPU pool
      std::vector<Value> values;
      std::vector<std::vector<Value>> lists;
      if (Status read = s.fields->extract(body->bytes, values, &lists); !read.ok()) {
        if (read.code() == StatusCode::kFailedPrecondition) {
          kill(r, s.name, url_of(s, r, 0), unreadable.failed(not_as_the_step_says(read)));
          co_return false;
        }
        unreadable.add(read);
        continue;
      }
      for (std::size_t i = 0; i < values.size(); ++i)
        r.slots[static_cast<std::size_t>(s.first_slot) + i] = std::move(values[i]);
      if (!lists.empty()) {
        r.lists.resize(plan_.list_names.size());
        for (std::size_t j = 0; j < lists.size(); ++j)
          r.lists[static_cast<std::size_t>(s.first_list) + j] = std::move(lists[j]);
      }
    }
    if (!s.arrays.empty()) keep(r, si, 0, std::move(*body));
    co_return true;
  }
  kill(r, s.name, url_of(s, r, 0), unreadable.failed());
  co_return false;
}

// Every answer of a fan-out, concurrently; they come back in any order
// and are kept in the order of the loop variable.
asio::awaitable<bool> Fetch::fan_out(const StepPlan& s, int si, Record& r, std::int64_t first, std::int64_t end) {
  struct Shared {
    std::vector<Result<Body>> answers;
    Channel<int> done;
    explicit Shared(std::size_t n) : answers(n, Status::Cancelled("not sent")), done(n) {}
  };
  const auto n = static_cast<std::size_t>(end - first);
  auto shared = std::make_shared<Shared>(n);
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < n; ++i) {
    children_.fetch_add(1, std::memory_order_relaxed);  // before it starts: run() waits for zero
    asio::co_spawn(
        ex,
        [](Fetch* st, std::shared_ptr<Shared> sh, std::size_t i, http::Request req, int step,
           std::shared_ptr<const std::atomic<bool>> given_up) -> asio::awaitable<void> {
          Counted counted(st->children_, false);
          sh->answers[i] = co_await st->call(std::move(req), step, kUrgent, std::move(given_up));
          int index = static_cast<int>(i);
          (void)sh->done.try_send(index);
        }(this, shared, i, request_for(s, r, first + static_cast<std::int64_t>(i)), si, r.given_up),
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

void Fetch::keep(Record& r, int step, std::int64_t loop, Body body) {
  const std::size_t n = body.bytes.size();
  r.body_bytes += n;
  r.peak_bytes = std::max(r.peak_bytes, r.body_bytes);
  admission_.hold(n);
  r.answers.push_back({step, loop, std::move(body.bytes), std::move(body.encoding)});
}

// The record's last answer is in: on the CPU pool, parse the arrays out
// of its answers (in order), join, and compute its output row; the
// answers are then dropped, so a record waiting for the writer holds
// only its row. An answer that cannot be read is asked for again (up to
// the retry policy's attempts for that request) and everything is parsed
// anew.
asio::awaitable<void> Fetch::finish(Record& r) {
  std::vector<Unreadable> unreadable;  // by answer, once one could not be read
  for (;;) {
    auto [index, why] = co_await evaluations_.evaluate(r);
    if (index == r.answers.size()) break;
    const Answer& a = r.answers[index];
    const StepPlan& s = plan_.steps[static_cast<std::size_t>(a.step)];
    unreadable.resize(r.answers.size());
    Unreadable& tries = unreadable[index];
    if (why.code() == StatusCode::kFailedPrecondition) {
      kill(r, s.name, url_of(s, r, a.loop), tries.failed(not_as_the_step_says(why)));
      break;
    }
    tries.add(why);
    if (tries.count() >= attempts()) {
      kill(r, s.name, url_of(s, r, a.loop), tries.failed());
      break;
    }
    answer_retries_.fetch_add(1, std::memory_order_relaxed);
    Result<Body> again = co_await call(request_for(s, r, a.loop), a.step, kUrgent, r.given_up);
    if (!again.ok()) {
      kill(r, s.name, url_of(s, r, a.loop), tries.failed(again.status()));
      break;
    }
    admission_.release(r.answers[index].body.size());
    r.body_bytes -= r.answers[index].body.size();
    r.answers[index].body = std::move(again->bytes);
    r.answers[index].encoding = std::move(again->encoding);
    r.body_bytes += r.answers[index].body.size();
    r.peak_bytes = std::max(r.peak_bytes, r.body_bytes);
    admission_.hold(r.answers[index].body.size());
  }
  drop_answers(r);
}

// The answers a record holds, and the gauge of their bytes, let go.
void Fetch::drop_answers(Record& r) {
  admission_.release(r.body_bytes);
  r.body_bytes = 0;
  r.answers.clear();
  r.answers.shrink_to_fit();
  r.lists.clear();
  r.lists.shrink_to_fit();
}

asio::awaitable<Record> Fetch::record(Record r) {
  if (r.outcome == Record::Outcome::kDead) co_return r;
  if (!co_await admission_.admit()) {
    kill(r, plan_.steps.empty() ? "input" : plan_.steps.front().name, "", Status::Cancelled("the run is stopping"));
    co_return r;
  }
  {
    Counted counted(in_flight_);
    Admission::UnderWay under_way(admission_, r.position);
    co_await run_steps(r);
    if (r.outcome == Record::Outcome::kPending) {
      co_await finish(r);
    } else {
      drop_answers(r);  // filtered, or dead: only the row or the error goes on
    }
  }
  admission_.ended(r.peak_bytes);
  co_return r;
}

// The record's steps in order, until one filters it out or fails.
asio::awaitable<void> Fetch::run_steps(Record& r) {
  const auto& steps = plan_.steps;
  for (std::size_t si = 0; si < steps.size(); ++si) {
    const StepPlan& s = steps[si];
    Env env{&r.slots, nullptr};
    // A null in the URL or body would be sent as "null": no request can be made.
    for (int slot : s.request.slots) {
      if (r.slots[static_cast<std::size_t>(slot)].is_null()) {
        kill(r, s.name, "",
             Status::InvalidArgument("{" + plan_.slot_names[static_cast<std::size_t>(slot)] +
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

}  // namespace sluice::pipeline
