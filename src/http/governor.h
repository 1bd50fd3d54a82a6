// OriginGovernor: how hard a client may push one origin. It owns the
// in-flight limit (static or adaptive), the retry budget, the origin-wide
// pause that a 429/503 with Retry-After asks for, and the circuit breaker.
// Thread-safe; one per client.
#pragma once

#include "sluice/http/client.h"
#include "sluice/semaphore.h"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <mutex>

namespace sluice::http {

class OriginGovernor {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OriginGovernor(const ClientOptions& o);

  // A request's turn: waits for an in-flight slot. False once closed.
  boost::asio::awaitable<bool> enter();
  void leave();

  // Before each attempt: how long the origin asked everyone to wait (zero
  // if not), and whether the breaker lets the attempt through.
  Clock::duration pause_left() const;
  bool breaker_allows();

  // After each attempt.
  void on_answer(Clock::duration latency);             // an answer that is not an overload signal
  void on_overload(std::optional<Clock::duration> retry_after, bool server_error);  // 429, 503, 5xx, timeout
  void on_transport_failure();                          // refused, reset, closed

  // A retry may start if the budget allows; finish_retry when it has.
  bool start_retry();
  void finish_retry();

  void close();
  std::size_t limit() const;
  std::uint64_t budget_denied() const { return budget_denied_.load(); }
  std::uint64_t breaker_rejected() const { return breaker_rejected_.load(); }

 private:
  void set_limit_locked(double want);
  void breaker_failure_locked(Clock::time_point now);

  // The common case (no pause, breaker closed, static limit) takes no lock:
  // the fields read on every request are atomics; mu_ guards the rest.
  const ClientOptions& options_;
  AsyncSemaphore slots_;
  mutable std::mutex mu_;
  double limit_;                        // adaptive: fractional, grows by 1/limit per good answer
  std::size_t granted_;                 // units the semaphore holds or has handed out
  std::atomic<std::size_t> debt_{0};    // units to swallow as they come back (written under mu_)
  Clock::duration floor_ = Clock::duration::max();
  Clock::time_point last_decrease_{};
  std::atomic<Clock::rep> paused_until_{0};  // time_since_epoch of the end of the origin's pause
  // breaker
  std::atomic<int> consecutive_failures_{0};
  Clock::time_point open_until_{};
  bool probing_ = false;
  // retry budget
  std::atomic<std::size_t> active_{0};
  std::size_t retrying_ = 0;
  std::atomic<std::uint64_t> budget_denied_{0}, breaker_rejected_{0};
};

}  // namespace sluice::http
