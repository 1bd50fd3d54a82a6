#include "governor.h"

#include <algorithm>
#include <cmath>

namespace sluice::http {

OriginGovernor::OriginGovernor(const ClientOptions& o)
    : options_(o),
      slots_(o.adaptive.enabled ? std::clamp(o.adaptive.initial, o.adaptive.min, std::min(o.adaptive.max, o.max_in_flight))
                                : o.max_in_flight),
      limit_(static_cast<double>(slots_.available())),
      granted_(slots_.available()) {}

boost::asio::awaitable<bool> OriginGovernor::enter() {
  if (!co_await slots_.acquire()) co_return false;
  active_.fetch_add(1, std::memory_order_relaxed);
  co_return true;
}

void OriginGovernor::leave() {
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (debt_.load(std::memory_order_acquire) > 0) {
    std::lock_guard lock(mu_);
    if (debt_ > 0) {  // the limit came down: this unit retires
      debt_.fetch_sub(1, std::memory_order_relaxed);
      --granted_;
      return;
    }
  }
  slots_.release();
}

// Under mu_. Moves the limit toward `want`, by whole units.
void OriginGovernor::set_limit_locked(double want) {
  const auto& a = options_.adaptive;
  const double hi = static_cast<double>(std::min(a.max, options_.max_in_flight));
  limit_ = std::clamp(want, static_cast<double>(a.min), hi);
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

void OriginGovernor::on_answer(Clock::duration latency) {
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0) {
    std::lock_guard lock(mu_);
    consecutive_failures_.store(0, std::memory_order_relaxed);
    probing_ = false;
  }
  if (!options_.adaptive.enabled) return;
  std::lock_guard lock(mu_);
  floor_ = std::min(floor_, latency);
  const double near = static_cast<double>(floor_.count()) * (1.0 + options_.adaptive.latency_tolerance);
  if (static_cast<double>(latency.count()) <= near) set_limit_locked(limit_ + 1.0 / limit_);
}

void OriginGovernor::on_overload(std::optional<Clock::duration> retry_after, bool server_error) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (retry_after) {
    Clock::rep until = (now + *retry_after).time_since_epoch().count();
    if (until > paused_until_.load()) paused_until_.store(until);
  }
  if (server_error) breaker_failure_locked(now);
  if (!options_.adaptive.enabled) return;
  if (now - last_decrease_ < options_.adaptive.decrease_interval) return;  // one cut per burst
  last_decrease_ = now;
  set_limit_locked(limit_ * options_.adaptive.backoff);
}

void OriginGovernor::on_transport_failure() {
  std::lock_guard lock(mu_);
  breaker_failure_locked(Clock::now());
}

void OriginGovernor::breaker_failure_locked(Clock::time_point now) {
  probing_ = false;
  if (!options_.breaker.enabled) return;
  if (consecutive_failures_.fetch_add(1) + 1 >= options_.breaker.failures) open_until_ = now + options_.breaker.open_for;
}

bool OriginGovernor::breaker_allows() {
  if (!options_.breaker.enabled || consecutive_failures_.load(std::memory_order_relaxed) < options_.breaker.failures) {
    return true;
  }
  std::lock_guard lock(mu_);
  if (consecutive_failures_ < options_.breaker.failures) return true;
  if (Clock::now() < open_until_ || probing_) {
    breaker_rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  probing_ = true;  // half-open: this attempt is the probe
  return true;
}

OriginGovernor::Clock::duration OriginGovernor::pause_left() const {
  const Clock::rep until = paused_until_.load(std::memory_order_relaxed);
  if (until == 0) return Clock::duration::zero();
  const Clock::duration left = Clock::duration(until) - Clock::now().time_since_epoch();
  return left > Clock::duration::zero() ? left : Clock::duration::zero();
}

bool OriginGovernor::start_retry() {
  std::lock_guard lock(mu_);
  const double allowed = std::max(static_cast<double>(options_.min_retries),
                                  options_.retry_budget * static_cast<double>(active_.load()));
  if (static_cast<double>(retrying_ + 1) > allowed) {
    budget_denied_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ++retrying_;
  return true;
}

void OriginGovernor::finish_retry() {
  std::lock_guard lock(mu_);
  --retrying_;
}

void OriginGovernor::close() { slots_.close(); }

std::size_t OriginGovernor::limit() const {
  std::lock_guard lock(mu_);
  return granted_ - debt_.load();
}

}  // namespace sluice::http
