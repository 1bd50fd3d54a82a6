#include "sluice/http/client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/url/parse.hpp>

#include "exchange.h"
#include "governor.h"
#include "origin.h"
#include "pool.h"
#include "retry.h"
#include "sluice/semaphore.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace urls = boost::urls;
using detail::Clock;
using detail::Outcome;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::deferred);

// Idempotent methods may be sent again after a kept-alive connection turned
// out closed; POST may not.
bool idempotent(Method m) { return m != Method::kPost; }

}  // namespace

std::string_view to_string(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
  }
  return "?";
}

std::string_view to_string(FailureKind k) {
  switch (k) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kClosed:
      return "closed";
    case FailureKind::kProtocol:
      return "protocol";
    case FailureKind::kTooLarge:
      return "too_large";
    case FailureKind::kStatus:
      return "status";
    case FailureKind::kCount:
      break;
  }
  return "?";
}

std::string_view Response::header(std::string_view name) const {
  std::string_view rest = header_block;
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    if (line.size() > name.size() + 1 && line.starts_with(name) && line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
  }
  return {};
}

// A client's shared state: its requests hold it, so it outlives the Client
// objects that made them.
struct Client::State {
  State(Runtime& r, ClientOptions o, detail::Origin org)
      : rt(r),
        options(std::move(o)),
        origin(std::move(org)),
        pool(r, options, origin),
        governor(options, Clock::now()),
        slots(options.max_connections) {}

  Runtime& rt;
  const ClientOptions options;
  detail::Origin origin;
  detail::ConnectionPool pool;
  OriginGovernor governor;  // in-flight limit, retry budget, outage gate
  AsyncSemaphore slots;     // one per connection in use
  std::atomic<bool> closed{false};

  std::atomic<std::uint64_t> requests{0}, succeeded{0}, failed{0}, attempts{0}, retries{0}, stale_resends{0},
      bytes_sent{0}, bytes_received{0}, active{0}, budget_waits{0}, retry_after_ms{0}, outage_wait_ms{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(FailureKind::kCount)> failures{};
  LatencyHistogram latency;

  void count_failure(FailureKind k) { failures[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed); }

  // One attempt: a connection slot, a connection, one exchange on it, and
  // the connection back to the pool if it may be reused.
  asio::awaitable<Outcome> attempt(const detail::Wire& wire, Method method, Clock::time_point deadline) {
    Outcome o;
    if (!co_await slots.acquire()) {
      o.failure = FailureKind::kConnect;
      o.what = "the client is closed";
      co_return o;
    }
    SemaphoreUnit slot(slots);
    for (detail::Reuse reuse = detail::Reuse::kIdleFirst;; reuse = detail::Reuse::kNewOnly) {
      attempts.fetch_add(1, std::memory_order_relaxed);  // one that cannot connect is an attempt too
      Result<std::unique_ptr<detail::Connection>> c = co_await pool.checkout(deadline, reuse);
      if (!c.ok()) {
        o.failure = c.status().code() == StatusCode::kDeadlineExceeded ? FailureKind::kTimeout : FailureKind::kConnect;
        o.what = c.status().message();
        co_return o;
      }
      const bool reused = (*c)->reused;
      o = co_await detail::exchange(**c, wire, method, deadline, options);
      bytes_sent.fetch_add(o.bytes_sent, std::memory_order_relaxed);
      bytes_received.fetch_add(o.bytes_received, std::memory_order_relaxed);
      if (o.failure == FailureKind::kNone) {
        if (o.keep_alive) pool.checkin(std::move(*c), o.keep_alive_timeout);
        co_return o;
      }
      // A kept-alive connection that the server closed as the request went
      // out (its idle timeout raced our reuse): not one byte of answer came,
      // so the request did nothing there. Sent once more on a new connection
      // (never another idle one, which may be just as stale) when that is
      // safe; the request's attempts are not spent by it.
      if (reused && reuse == detail::Reuse::kIdleFirst && o.before_response && idempotent(method) &&
          Clock::now() < deadline) {
        stale_resends.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      co_return o;
    }
  }

  void record_latency(Clock::duration d) { latency.record(std::chrono::duration_cast<std::chrono::microseconds>(d)); }
};

Status check_options(const ClientOptions& options) {
  auto parsed = urls::parse_uri(options.base_url);
  if (!parsed)
    return Status::InvalidArgument("base_url '" + options.base_url + "': not a URL (" + parsed.error().message() + ")");
  if (parsed->scheme() != "http" && parsed->scheme() != "https") {
    return Status::InvalidArgument("base_url '" + options.base_url + "': the scheme must be http or https");
  }
  if (parsed->host().empty()) return Status::InvalidArgument("base_url '" + options.base_url + "': no host");
  if (options.max_in_flight == 0) return Status::InvalidArgument("max_in_flight: must be at least 1");
  if (options.max_connections == 0) return Status::InvalidArgument("max_connections: must be at least 1");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("retry.max_attempts: must be at least 1");
  for (auto d : {options.connect_timeout, options.read_timeout, options.attempt_timeout, options.request_timeout}) {
    if (d.count() <= 0) return Status::InvalidArgument("timeouts must be positive");
  }
  if (!(options.retry.budget >= 0)) return Status::InvalidArgument("retry.budget: must be 0 or more");
  if (!(options.retry.min_per_second > 0)) {
    return Status::InvalidArgument("retry.min_per_second: must be more than 0 (or retries could wait forever)");
  }
  if (options.outage.enabled &&
      (options.outage.failures < 1 || options.outage.probe_after.count() <= 0 ||
       options.outage.max_probe_interval < options.outage.probe_after || options.outage.give_up_after.count() <= 0)) {
    return Status::InvalidArgument(
        "outage: failures and probe_after must be at least 1, max_probe_interval at least probe_after, give_up_after "
        "positive");
  }
  for (const auto& [k, v] : options.headers) {
    if (k.empty() || k.find_first_of(":\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument(
          "header '" + k + "': a name may not be empty or hold ':' or a line break, nor a value a line break");
    }
  }
  return Status();
}

Result<Client> Client::create(Runtime& rt, ClientOptions options) {
  SLUICE_RETURN_IF_ERROR(check_options(options));
  SLUICE_ASSIGN_OR_RETURN(detail::Origin origin, detail::Origin::create(options));
  return Client(std::make_shared<State>(rt, std::move(options), std::move(origin)));
}

std::string Client::display_url(const Request& request) const { return state_->origin.display_url(request); }

asio::awaitable<Result<Response>> Client::get(std::string path,
                                              std::vector<std::pair<std::string, std::string>> query) {
  return send(Request{.path = std::move(path), .query = std::move(query)});
}

// Not a coroutine itself: the state is copied now, so the Client object may
// be gone by the time the request runs.
asio::awaitable<Result<Response>> Client::send(Request request) { return run(state_, std::move(request), nullptr); }
asio::awaitable<Result<Response>> Client::send(Request request, int* last_status) {
  return run(state_, std::move(request), last_status);
}

namespace {

// How an attempt's outcome counts for the origin (see OriginGovernor).
OriginGovernor::Signal signal_of(const Outcome& o) {
  const int status = o.response ? o.response->status : 0;
  if (status == 429) return o.retry_after ? OriginGovernor::Signal::kRetryAfter : OriginGovernor::Signal::kTooMany;
  if (status >= 500) return OriginGovernor::Signal::kFailure;
  switch (o.failure) {
    case FailureKind::kNone:
    case FailureKind::kStatus:
    case FailureKind::kTooLarge:
      return OriginGovernor::Signal::kAnswer;  // the origin answered
    default:
      return OriginGovernor::Signal::kFailure;
  }
}

std::uint64_t millis(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

}  // namespace

// One request on its way through its attempts: the origin's gate (waiting
// while it is down, probing it), an attempt, and the wait before the next
// (a backoff or the server's Retry-After, then a token of the retry budget).
// Lives in Client::run's coroutine frame.
class Client::RequestRun {
 public:
  RequestRun(std::shared_ptr<State> s, Request request, int* last_status)
      : s_(std::move(s)), request_(std::move(request)), last_status_(last_status), probe_{s_->governor} {}

  asio::awaitable<Result<Response>> go();

 private:
  // A probe must be settled however the coroutine ends, or the origin
  // would wait for a probe that never comes back.
  struct Probe {
    OriginGovernor& g;
    bool open = false;
    ~Probe() {
      if (open) g.probe_abandoned(Clock::now());
    }
  };

  Result<Response> fail(StatusCode code, const std::string& what) {
    s_->failed.fetch_add(1, std::memory_order_relaxed);
    return Status(code, std::string(to_string(request_.method)) + " " + s_->origin.display_url(request_) + ": " +
                            history_ + (history_.empty() || what.empty() ? "" : "; ") + what);
  }
  asio::awaitable<void> sleep_until(Clock::time_point t) {
    asio::steady_timer timer(co_await asio::this_coro::executor, t);
    co_await timer.async_wait(use_tuple);
  }
  // The origin's gate before an attempt: go, or this request's attempt is
  // the probe, or (with `*ended` set) the request ends. Waiting for an
  // origin that is down moves the deadline; probing it with the last
  // request it answered makes `*probed` true (look at the gate again).
  asio::awaitable<void> through_gate(std::optional<Result<Response>>* ended, bool* probed);
  // One attempt of this request, classified.
  asio::awaitable<Outcome> attempt();
  // After a failed attempt that may be retried: the wait before the next.
  // Sets `*ended` if the request ends instead.
  asio::awaitable<void> before_retry(const Outcome& o, std::optional<Result<Response>>* ended);

  std::shared_ptr<State> s_;
  Request request_;
  int* last_status_;
  detail::Wire wire_;
  Clock::time_point started_{}, deadline_{};
  std::string history_;                   // each failed attempt, for the error
  std::vector<Clock::time_point> spent_;  // when each attempt that counts against max_attempts failed
  OriginGovernor::RequestMark mark_;      // its part in failures in a row (see OriginGovernor)
  int attempt_ = 1;
  bool retrying_ = false;  // the next attempt is a retry
  Probe probe_;
};

asio::awaitable<Result<Response>> Client::run(std::shared_ptr<State> s, Request request, int* last_status) {
  RequestRun run(std::move(s), std::move(request), last_status);
  co_return co_await run.go();
}

asio::awaitable<Result<Response>> Client::RequestRun::go() {
  State& s = *s_;
  s.requests.fetch_add(1, std::memory_order_relaxed);
  for (const auto& [k, v] : request_.headers) {
    if (k.empty() || k.find_first_of(":\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
      co_return fail(
          StatusCode::kInvalidArgument,
          "header '" + k + "': a name may not be empty or hold ':' or a line break, nor a value a line break");
    }
  }
  if (s.closed.load() || !co_await s.governor.enter()) co_return fail(StatusCode::kCancelled, "the client is closed");
  struct Turn {
    State& s;
    ~Turn() {
      s.governor.leave();
      s.active.fetch_sub(1, std::memory_order_relaxed);
    }
  } turn{s};  // held through retries and their waits
  s.active.fetch_add(1, std::memory_order_relaxed);
  // The deadline runs from here: waiting for a turn is not the request's
  // fault, nor is waiting for an origin that is down (it moves the deadline).
  started_ = Clock::now();
  deadline_ = started_ + s.options.request_timeout;
  s.governor.on_request(started_);
  wire_ = s.origin.serialize(request_);
  for (;;) {
    std::optional<Result<Response>> ended;
    bool probed = false;
    co_await through_gate(&ended, &probed);
    if (ended) co_return std::move(*ended);
    if (probed) continue;
    Outcome o = co_await attempt();
    if (o.failure == FailureKind::kNone) {
      o.response->attempts = attempt_;
      s.succeeded.fetch_add(1, std::memory_order_relaxed);
      const auto now = Clock::now();
      s.record_latency(now - started_);
      const bool replayable = request_.method == Method::kGet || request_.method == Method::kHead;
      if (replayable && o.response->status < 300 && s.governor.wants_known_good(now)) {
        s.governor.remember_known_good(std::move(wire_.head), now);
      }
      co_return std::move(*o.response);
    }
    s.count_failure(o.failure);
    history_ += (history_.empty() ? "" : "; ") + ("attempt " + std::to_string(attempt_) + ": " + o.what);
    ++attempt_;
    if (!detail::retryable(s.options.retry, o)) co_return fail(detail::final_code(o), "");
    spent_.push_back(Clock::now());
    if (static_cast<int>(spent_.size()) >= s.options.retry.max_attempts) {
      // Out of attempts. But if the origin went down meanwhile, they went to
      // the outage: wait for it like every other request, and take them back
      // if it comes back.
      if (!s.governor.down()) co_return fail(detail::final_code(o), "");
      continue;
    }
    co_await before_retry(o, &ended);
    if (ended) co_return std::move(*ended);
  }
}

asio::awaitable<void> Client::RequestRun::through_gate(std::optional<Result<Response>>* ended, bool* probed) {
  State& s = *s_;
  using Kind = OriginGovernor::Turn::Kind;
  OriginGovernor::Turn t = s.governor.before_attempt(Clock::now());
  if (t.kind == Kind::kWait) {
    const auto waiting_since = Clock::now();
    while (t.kind == Kind::kWait) {
      if (s.closed.load()) {
        *ended = fail(StatusCode::kCancelled, "the client is closed");
        co_return;
      }
      co_await sleep_until(t.until);
      t = s.governor.before_attempt(Clock::now());
    }
    const auto waited = Clock::now() - waiting_since;
    deadline_ += waited;
    s.outage_wait_ms.fetch_add(millis(waited), std::memory_order_relaxed);
    if (t.kind == Kind::kGo) {
      // The origin is back: what failed while it was down is not held
      // against this request.
      const OriginGovernor::Span outage = s.governor.last_outage();
      std::erase_if(spent_, [&](Clock::time_point f) { return outage.contains(f); });
    }
  }
  if (t.kind == Kind::kGone) {
    *ended = fail(StatusCode::kUnavailable, s.governor.gone().message());
    co_return;
  }
  probe_.open = t.kind == Kind::kProbe;
  if (!probe_.open) co_return;
  // Probe with the last request the origin answered, when there is one:
  // its answer says whether the origin is up, not whether this request
  // can be served. (Else this request's own attempt is the probe.)
  std::optional<std::string> known = s.governor.known_good();
  if (!known) co_return;
  const auto sent = Clock::now();
  Outcome p = co_await s.attempt({.head = std::move(*known)}, Method::kGet,
                                 std::min(deadline_, sent + s.options.attempt_timeout));
  probe_.open = false;
  const auto now = Clock::now();
  s.governor.after_attempt(signal_of(p), now - sent, /*probe=*/true, now, p.what);
  *probed = true;
}

asio::awaitable<Outcome> Client::RequestRun::attempt() {
  State& s = *s_;
  if (std::exchange(retrying_, false)) s.retries.fetch_add(1, std::memory_order_relaxed);
  const auto attempt_start = Clock::now();
  const auto attempt_deadline = std::min(deadline_, attempt_start + s.options.attempt_timeout);
  Outcome o = co_await s.attempt(wire_, request_.method, attempt_deadline);
  deadline_ += o.memory_wait;
  if (last_status_ != nullptr && o.response) *last_status_ = o.response->status;
  if (o.failure == FailureKind::kNone && detail::retryable_status(s.options.retry, o.response->status)) {
    o.failure = FailureKind::kStatus;
    o.what = "status " + std::to_string(o.response->status);
  }
  if (o.deadline_passed) {
    o.what = attempt_deadline < deadline_
                 ? "no answer within attempt_timeout (" + std::to_string(s.options.attempt_timeout.count()) + " ms)"
                 : "the request's deadline passed (request_timeout)";
  }
  const auto ended = Clock::now();
  const bool was_probe = std::exchange(probe_.open, false);
  s.governor.after_attempt(signal_of(o), ended - attempt_start, was_probe, ended, o.what, &mark_);
  co_return o;
}

asio::awaitable<void> Client::RequestRun::before_retry(const Outcome& o, std::optional<Result<Response>>* ended) {
  State& s = *s_;
  // The wait before the next attempt: the server's Retry-After, else a
  // backoff. Only the backoff is the request's own time: waiting as the
  // API asks, or for a token of the retry budget, moves its deadline (as
  // waiting for an origin that is down does), so that neither ever turns
  // a request the API would answer into a failure.
  const auto wait = detail::backoff(s.options.retry, static_cast<int>(spent_.size()) - 1, o);
  if (o.retry_after) {
    s.retry_after_ms.fetch_add(static_cast<std::uint64_t>(wait.count()), std::memory_order_relaxed);
    deadline_ += wait;
  } else if (Clock::now() + wait >= deadline_) {
    *ended = fail(StatusCode::kDeadlineExceeded, "no time left for another attempt (request_timeout)");
    co_return;
  }
  co_await sleep_until(Clock::now() + wait);
  // The retry budget: a retry with no token waits for one.
  const auto budget_from = Clock::now();
  bool waited_for_budget = false;
  while (auto when = s.governor.take_retry(Clock::now())) {
    if (s.closed.load()) {
      *ended = fail(StatusCode::kCancelled, "the client is closed");
      co_return;
    }
    waited_for_budget = true;
    co_await sleep_until(*when);
  }
  if (waited_for_budget) {
    s.budget_waits.fetch_add(1, std::memory_order_relaxed);
    deadline_ += Clock::now() - budget_from;
  }
  retrying_ = true;  // counted once made: an origin given up on meanwhile makes none
}

ClientStats Client::stats() const {
  const State& s = *state_;
  ClientStats st;
  st.requests = s.requests.load();
  st.succeeded = s.succeeded.load();
  st.failed = s.failed.load();
  st.attempts = s.attempts.load();
  st.retries = s.retries.load();
  st.stale_resends = s.stale_resends.load();
  st.connections_opened = s.pool.opened();
  st.stale_discarded = s.pool.stale();
  st.bytes_sent = s.bytes_sent.load();
  st.bytes_received = s.bytes_received.load();
  st.in_flight = s.active.load();
  st.limit = s.governor.limit();
  st.budget_waits = s.budget_waits.load();
  st.retry_after_ms = s.retry_after_ms.load();
  st.outages = s.governor.outages();
  st.outage_probes = s.governor.probes();
  st.outage_wait_ms = s.outage_wait_ms.load();
  st.outage_ms = millis(s.governor.down_time(Clock::now()));
  for (std::size_t i = 0; i < st.failures.size(); ++i) st.failures[i] = s.failures[i].load();
  st.latency = s.latency.snapshot();
  return st;
}

Status Client::origin_status() const { return state_->governor.gone(); }

void Client::close() {
  state_->closed.store(true);
  state_->governor.close();
  state_->pool.close();
}

}  // namespace sluice::http
