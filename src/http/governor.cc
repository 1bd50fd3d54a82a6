#include "governor.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sluice::http {

namespace {

std::size_t first_limit(const ClientOptions& o) {
  if (!o.adaptive.enabled) return o.max_in_flight;
  return std::clamp(o.adaptive.initial, o.adaptive.min, std::min(o.adaptive.max, o.max_in_flight));
}

}  // namespace

OriginGovernor::OriginGovernor(const ClientOptions& o, Time now)
    : options_(o),
      threshold_(
          std::max(1, std::min(o.outage.failures, static_cast<int>(std::min<std::size_t>(o.max_in_flight, 1 << 20))))),
      slots_(first_limit(o)),
      limit_(static_cast<double>(first_limit(o))),
      granted_(first_limit(o)),
      tokens_(static_cast<double>(std::max<std::size_t>(1, o.max_in_flight))),
      token_cap_(tokens_),
      refilled_(now) {}

boost::asio::awaitable<bool> OriginGovernor::enter() {
  if (!co_await slots_.acquire()) co_return false;
  active_.fetch_add(1, std::memory_order_relaxed);
  co_return true;
}

bool OriginGovernor::try_enter() {
  if (!slots_.try_acquire()) return false;
  active_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void OriginGovernor::leave() {
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (debt_.load(std::memory_order_acquire) > 0) {
    MutexLock lock(mu_);
    if (debt_ > 0) {  // the limit came down: this unit retires
      debt_.fetch_sub(1, std::memory_order_relaxed);
      --granted_;
      return;
    }
  }
  slots_.release();
}

// ---- the in-flight limit -------------------------------------------------------

// Under mu_. Moves the limit toward `want`, by whole units.
void OriginGovernor::set_limit_locked(double want) {
  const auto& a = options_.adaptive;
  const double hi = static_cast<double>(a.enabled ? std::min(a.max, options_.max_in_flight) : options_.max_in_flight);
  const double lo = std::min(static_cast<double>(a.min), hi);
  limit_ = std::clamp(want, lo, hi);
  at_max_.store(limit_ >= hi, std::memory_order_relaxed);
  const auto target = static_cast<std::size_t>(limit_);
  const std::size_t effective = granted_ - debt_.load();
  if (target > effective) {
    std::size_t add = target - effective;
    std::size_t forgiven = std::min(add, debt_.load());
    debt_.fetch_sub(forgiven);
    for (std::size_t i = forgiven; i < add; ++i) {
      ++granted_;
      slots_.release();
    }
  } else if (target < effective) {
    std::size_t cut = effective - target;
    // Units free now retire at once; the rest as they come back.
    while (cut > 0 && slots_.try_acquire()) --granted_, --cut;
    debt_.fetch_add(cut, std::memory_order_release);
  }
}

// Under mu_. One multiplicative cut per decrease_interval (a burst of
// overload signals is one signal).
void OriginGovernor::cut_limit_locked(Time now) {
  if (now - last_decrease_ < options_.adaptive.decrease_interval) return;
  last_decrease_ = now;
  set_limit_locked(limit_ * options_.adaptive.backoff);
}

// Under mu_. A 429. Adaptive: a cut (one per decrease_interval). Static:
// a 429 with Retry-After is waited out by its own request, as the API asks
// (cutting the limit too would slow every request on top of that, to a
// crawl when 429s are frequent); without one, a cut when 429s are more than
// kTooManyShare of the answers since the last look (at least kTooManyWindow
// of them): an API's rate limit answers most requests 429 until fewer are
// sent, while a few scattered 429s are better waited out by their own
// requests than paid for by all of them.
void OriginGovernor::too_many_locked(Time now, bool retry_after) {
  if (options_.adaptive.enabled) {
    cut_limit_locked(now);
    return;
  }
  if (retry_after) return;
  ++window_too_many_;
  const std::uint64_t answers = window_answers_.load(std::memory_order_relaxed);
  if (answers < kTooManyWindow) return;
  if (static_cast<double>(window_too_many_) > kTooManyShare * static_cast<double>(answers)) cut_limit_locked(now);
  window_too_many_ = 0;
  window_answers_.store(0, std::memory_order_relaxed);
}

// Under mu_. Adaptive: +1/limit for an answer near the lowest latency seen.
// Static: +1/limit for any answer, back up to max_in_flight.
void OriginGovernor::grow_limit_locked(Clock::duration latency) {
  if (options_.adaptive.enabled) {
    floor_ = std::min(floor_, latency);
    const double near = static_cast<double>(floor_.count()) * (1.0 + options_.adaptive.latency_tolerance);
    if (static_cast<double>(latency.count()) > near) return;
  }
  set_limit_locked(limit_ + 1.0 / limit_);
}

std::size_t OriginGovernor::limit() const {
  MutexLock lock(mu_);
  return granted_ - debt_.load();
}

// ---- the outage gate -------------------------------------------------------------

OriginGovernor::Turn OriginGovernor::before_attempt(Time now) {
  if (!options_.outage.enabled || state_.load(std::memory_order_acquire) == State::kUp) return {};
  MutexLock lock(mu_);
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kUp:
      return {};
    case State::kGone:
      return {.kind = Turn::Kind::kGone};
    case State::kDown:
      break;
  }
  // An origin that has never answered (a wrong base_url, a service not
  // started) is given up on sooner: there is nothing to wait for yet.
  const auto give_up = answered_.load(std::memory_order_relaxed)
                           ? options_.outage.give_up_after
                           : std::min<Clock::duration>(options_.outage.give_up_after, kNeverAnsweredGiveUp);
  if (now - down_since_ >= give_up) {
    state_.store(State::kGone, std::memory_order_release);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - down_since_).count();
    gone_ = Status::Unavailable(
        std::string(answered_.load() ? "the API has been down for " : "the API has not answered once in ") +
        std::to_string(seconds) +
        " s (outage.give_up_after): every attempt and probe failed; the last: " + last_failure_);
    return {.kind = Turn::Kind::kGone};
  }
  if (!probing_ && now >= next_probe_) {
    probing_ = true;
    probes_.fetch_add(1, std::memory_order_relaxed);
    return {.kind = Turn::Kind::kProbe};
  }
  const Time poll = now + kOutagePoll;
  return {.kind = Turn::Kind::kWait, .until = probing_ ? poll : std::min(next_probe_, poll)};
}

void OriginGovernor::probe_abandoned(Time now) {
  MutexLock lock(mu_);
  if (!probing_) return;
  probing_ = false;
  next_probe_ = now;  // another waiting request probes in its place
}

// Under mu_.
void OriginGovernor::end_outage_locked(Time now) {
  failing_.clear();
  failing_count_.store(0, std::memory_order_relaxed);
  if (state_.load(std::memory_order_relaxed) != State::kDown) return;
  state_.store(State::kUp, std::memory_order_release);
  down_total_ += now - down_since_;
  probing_ = false;
  // A false alarm (the first probe was answered) gives no attempt back:
  // else requests that keep failing on their own, alone at the end of a
  // run, would raise alarm after alarm and never run out of attempts.
  if (confirmed_) {
    last_outage_ = {.begin = began_, .end = now};
  } else {
    false_alarms_.push_back(generation_);
  }
}

OriginGovernor::Clock::duration OriginGovernor::down_time(Time now) const {
  MutexLock lock(mu_);
  return down_total_ + (state_.load(std::memory_order_relaxed) == State::kUp ? Clock::duration{} : now - down_since_);
}

OriginGovernor::Span OriginGovernor::last_outage() const {
  MutexLock lock(mu_);
  return last_outage_;
}

// Under mu_. An answer at `now` to an attempt sent at `sent`
// (answered_sent_ is already past it): failures sent before it no longer
// count, and an outage that began before it was sent is over.
void OriginGovernor::answered_locked(Time sent, Time now) {
  if (state_.load(std::memory_order_relaxed) == State::kDown) {
    if (sent >= began_) end_outage_locked(now);
    return;
  }
  std::erase_if(failing_, [&](Time f) { return f <= sent; });
  failing_count_.store(failing_.size(), std::memory_order_relaxed);
}

// Under mu_. A failure of a request's attempt sent at `sent`, while the
// origin is up: one more toward an outage if it is evidence of one.
void OriginGovernor::failed_locked(Time sent, Time now, RequestMark* request) {
  if (sent.time_since_epoch().count() <= answered_sent_.load(std::memory_order_relaxed)) return;
  if (request != nullptr) {
    if (std::binary_search(false_alarms_.begin(), false_alarms_.end(), request->generation)) return;
    if (request->generation == generation_ + 1 &&
        request->counted.time_since_epoch().count() > answered_sent_.load(std::memory_order_relaxed)) {
      return;  // counted already, and that failure still stands
    }
    request->counted = sent;
    request->generation = generation_ + 1;
  }
  failing_.push_back(sent);
  failing_count_.store(failing_.size(), std::memory_order_relaxed);
  // Fewer requests under way than the threshold could never fail that many
  // times: then all of them suffice, but never a lone request (one request
  // failing says nothing of the origin).
  const auto active = static_cast<int>(std::min<std::size_t>(active_.load(std::memory_order_relaxed), 1 << 20));
  if (static_cast<int>(failing_.size()) < std::min(threshold_, std::max(2, active))) return;
  state_.store(State::kDown, std::memory_order_release);
  ++generation_;
  began_ = *std::min_element(failing_.begin(), failing_.end());
  failing_.clear();
  failing_count_.store(0, std::memory_order_relaxed);
  confirmed_ = false;
  down_since_ = now;
  probe_interval_ = options_.outage.probe_after;
  next_probe_ = now + probe_interval_;
  probing_ = false;
}

void OriginGovernor::after_attempt(Signal s, Clock::duration latency, bool probe, Time now, std::string_view what,
                                   RequestMark* request) {
  const Time sent = now - latency;
  if (s != Signal::kFailure) {
    if (!answered_.load(std::memory_order_relaxed)) answered_.store(true, std::memory_order_relaxed);
    Clock::rep seen = answered_sent_.load(std::memory_order_relaxed);
    const Clock::rep at = sent.time_since_epoch().count();
    while (seen < at && !answered_sent_.compare_exchange_weak(seen, at, std::memory_order_relaxed)) {
    }
    window_answers_.fetch_add(1, std::memory_order_relaxed);
    const bool fast = failing_count_.load(std::memory_order_relaxed) == 0 && !probe && !options_.adaptive.enabled &&
                      s == Signal::kAnswer && state_.load(std::memory_order_acquire) == State::kUp &&
                      at_max_.load(std::memory_order_relaxed);
    if (fast) return;
    MutexLock lock(mu_);
    answered_locked(probe ? now : sent, now);  // a probe was sent while the origin was down
    if (s == Signal::kTooMany || s == Signal::kRetryAfter) {
      too_many_locked(now, s == Signal::kRetryAfter);
    } else {
      grow_limit_locked(latency);
    }
    return;
  }
  MutexLock lock(mu_);
  last_failure_.assign(what.substr(0, 300));
  if (options_.adaptive.enabled) cut_limit_locked(now);
  if (!options_.outage.enabled) return;
  if (probe) {
    probing_ = false;
    if (state_.load(std::memory_order_relaxed) == State::kDown && !std::exchange(confirmed_, true)) {
      outages_.fetch_add(1, std::memory_order_relaxed);
    }
    probe_interval_ = std::min<Clock::duration>(2 * probe_interval_, options_.outage.max_probe_interval);
    next_probe_ = now + probe_interval_;
    return;
  }
  if (state_.load(std::memory_order_relaxed) != State::kUp) return;  // an attempt made before the outage began
  failed_locked(sent, now, request);
}

bool OriginGovernor::wants_known_good(Time now) const {
  return now.time_since_epoch().count() - known_good_at_.load(std::memory_order_relaxed) >=
         std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)).count();
}

void OriginGovernor::remember_known_good(std::string request_head, Time now) {
  MutexLock lock(mu_);
  known_good_ = std::move(request_head);
  known_good_at_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

std::optional<std::string> OriginGovernor::known_good() const {
  MutexLock lock(mu_);
  if (known_good_.empty()) return std::nullopt;
  return known_good_;
}

Status OriginGovernor::gone() const {
  if (state_.load(std::memory_order_acquire) != State::kGone) return Status();
  MutexLock lock(mu_);
  return gone_;
}

// ---- the retry budget --------------------------------------------------------------

// Under mu_.
void OriginGovernor::refill_locked(Time now) {
  if (now <= refilled_) return;
  const double seconds = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(token_cap_, tokens_ + seconds * options_.retry.min_per_second);
  refilled_ = now;
}

void OriginGovernor::on_request(Time now) {
  MutexLock lock(mu_);
  refill_locked(now);
  tokens_ = std::min(token_cap_, tokens_ + options_.retry.budget);
}

std::optional<OriginGovernor::Time> OriginGovernor::take_retry(Time now) {
  MutexLock lock(mu_);
  refill_locked(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return std::nullopt;
  }
  const double seconds = (1.0 - tokens_) / options_.retry.min_per_second;
  return now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void OriginGovernor::close() { slots_.close(); }

}  // namespace sluice::http
