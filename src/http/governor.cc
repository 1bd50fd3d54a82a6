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
  std::lock_guard lock(mu_);
  ++active_;
  co_return true;
}

void OriginGovernor::leave() {
  bool give_back = true;
  {
    std::lock_guard lock(mu_);
    --active_;
    if (debt_ > 0) {  // the limit came down: this unit retires
      --debt_;
      --granted_;
      give_back = false;
    }
  }
  if (give_back) slots_.release();
}

// Under mu_. Moves the limit toward `want`, by whole units.
void OriginGovernor::set_limit_locked(double want) {
  const auto& a = options_.adaptive;
  const double hi = static_cast<double>(std::min(a.max, options_.max_in_flight));
  limit_ = std::clamp(want, static_cast<double>(a.min), hi);
  const auto target = static_cast<std::size_t>(limit_);
  const std::size_t effective = granted_ - debt_;
  if (target > effective) {
    std::size_t add = target - effective;
    std::size_t forgiven = std::min(add, debt_);
    debt_ -= forgiven;
    for (std::size_t i = forgiven; i < add; ++i) {
      ++granted_;
      slots_.release();
    }
  } else if (target < effective) {
    std::size_t cut = effective - target;
    // Units free now retire at once; the rest as they come back.
    while (cut > 0 && slots_.try_acquire()) --granted_, --cut;
    debt_ += cut;
  }
}

void OriginGovernor::on_answer(Clock::duration latency) {
  std::lock_guard lock(mu_);
  consecutive_failures_ = 0;
  probing_ = false;
  if (!options_.adaptive.enabled) return;
  floor_ = std::min(floor_, latency);
  const double near = static_cast<double>(floor_.count()) * (1.0 + options_.adaptive.latency_tolerance);
  if (static_cast<double>(latency.count()) <= near) set_limit_locked(limit_ + 1.0 / limit_);
}

void OriginGovernor::on_overload(std::optional<Clock::duration> retry_after, bool server_error) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (retry_after) paused_until_ = std::max(paused_until_, now + *retry_after);
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
  if (++consecutive_failures_ >= options_.breaker.failures) open_until_ = now + options_.breaker.open_for;
}

bool OriginGovernor::breaker_allows() {
  std::lock_guard lock(mu_);
  if (!options_.breaker.enabled || consecutive_failures_ < options_.breaker.failures) return true;
  if (Clock::now() < open_until_ || probing_) {
    breaker_rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  probing_ = true;  // half-open: this attempt is the probe
  return true;
}

OriginGovernor::Clock::duration OriginGovernor::pause_left() const {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  return paused_until_ > now ? paused_until_ - now : Clock::duration::zero();
}

bool OriginGovernor::start_retry() {
  std::lock_guard lock(mu_);
  const double allowed = std::max(static_cast<double>(options_.min_retries),
                                  options_.retry_budget * static_cast<double>(active_));
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
  return granted_ - debt_;
}

}  // namespace sluice::http
