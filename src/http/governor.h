// OriginGovernor: how hard a client may push one origin, and when it must
// wait for it. It owns
//   * the in-flight limit: static (lowered by 429s, grown back by answers)
//     or adaptive (AIMD, see AdaptiveLimit);
//   * the retry budget: a token bucket that makes retries wait, never fail;
//   * the outage gate: after enough failed attempts in a row the origin
//     counts as down, requests wait and one probe at a time goes through,
//     until an answer ends the outage or give_up_after passes (see Outage).
//
// Apart from the in-flight slots (an AsyncSemaphore), it is a state machine
// that the client drives and that never waits itself: every call takes the
// time from the caller and says what to do (go, probe, wait until when, give
// up), so tests can run it on a fake clock. Thread-safe; one per client.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/detail/mutex.h"
#include "sluice/http/options.h"
#include "sluice/semaphore.h"
#include "sluice/status.h"

namespace sluice::http {

class OriginGovernor {
 public:
  using Clock = std::chrono::steady_clock;
  using Time = Clock::time_point;

  // How often a request waiting for an origin that is down looks again.
  static constexpr std::chrono::milliseconds kOutagePoll{50};
  // An origin that has not answered once is given up on after this (or
  // give_up_after if shorter): a wrong address fails fast.
  static constexpr std::chrono::seconds kNeverAnsweredGiveUp{10};

  OriginGovernor(const ClientOptions& o, Time now);

  // A request's turn: waits for an in-flight slot. False once closed.
  boost::asio::awaitable<bool> enter();
  bool try_enter();  // a slot if one is free now
  void leave();

  // ---- the outage gate, before each attempt ----
  struct Turn {
    enum class Kind : std::uint8_t {
      kGo,     // the origin is up: attempt
      kProbe,  // the origin is down and this attempt is its probe: after_attempt(probe = true) must follow
      kWait,   // the origin is down: ask again at `until`
      kGone,   // the origin was down longer than give_up_after: fail (see gone())
    } kind = Kind::kGo;
    Time until{};
  };
  Turn before_attempt(Time now);
  // A probe that ended without an outcome (its request was cancelled).
  void probe_abandoned(Time now);

  // ---- after each attempt: what it says about the origin ----
  enum class Signal : std::uint8_t {
    kAnswer,      // an answer that is not a failure (2xx, 3xx, 4xx but 429)
    kTooMany,     // 429 without Retry-After: the origin is up but asks for less
    kRetryAfter,  // 429 with Retry-After: the origin is up and said when that request may come back
    kFailure,     // a transport error, a timeout, a 5xx
  };
  // `latency`: from the attempt's start to `now`, so that now - latency is
  // when it was sent. The origin counts as down when enough requests failed
  // on attempts sent after the last attempt it answered was sent: an answer
  // to an attempt sent at S says the origin was up at S, so failures of
  // attempts sent before S are no evidence against it. With many requests
  // in flight, this tells an origin that fails a share of what it is sent
  // (answers to later attempts keep coming) from one that went down (none
  // do), and answers still coming to attempts sent before it went down (a
  // server draining what it had) do not hide the outage.
  // `request`: the failing request's mark (one per request, from default),
  // so that each request counts once however often it fails: requests that
  // keep failing while others go through (a permanent fault on some
  // records, say at the end of a run) must not look like an origin that is
  // down. Nor does a request count again once it was part of a false alarm
  // (an outage that its first probe dispelled). Null: a request of its own.
  struct RequestMark {
    Time counted{};                // the send time of the failure it counts with, if it still stands
    std::uint64_t generation = 0;  // the outage it counted toward (see generation_), 0: none
  };
  void after_attempt(Signal s, Clock::duration latency, bool probe, Time now, std::string_view what = {},
                     RequestMark* request = nullptr);

  // The last request the origin answered (a GET or HEAD: safe to send
  // again), to probe it with while it is down: an answer to that tells that
  // the origin is up, whatever the requests that fail ask of it. Kept at
  // most once per second, so keeping it costs next to nothing.
  bool wants_known_good(Time now) const;
  void remember_known_good(std::string request_head, Time now);
  std::optional<std::string> known_good() const;

  // ---- the retry budget ----
  void on_request(Time now);  // a request started: it adds to the budget
  // A token for one retry: nullopt when taken, else when to ask again.
  std::optional<Time> take_retry(Time now);

  // OK, or why every request now fails: the origin was given up on.
  Status gone() const;

  // The last outage that ended: from the sending of the first failure that
  // counted toward it to the answer that ended it (none for a false alarm). A request that waited for
  // it takes back the attempts it failed within it: they were the origin's.
  struct Span {
    Time begin{}, end{};
    bool contains(Time t) const { return begin <= t && t <= end; }
  };
  Span last_outage() const;

  void close();
  std::size_t limit() const;
  // Outages the origin had: times it counted as down and its first probe
  // failed too (a false alarm that the first probe dispels is no outage).
  std::uint64_t outages() const { return outages_.load(std::memory_order_relaxed); }
  std::uint64_t probes() const { return probes_.load(std::memory_order_relaxed); }
  bool down() const { return state_.load(std::memory_order_relaxed) != State::kUp; }
  // Wall time the origin has counted as down, up to `now` (false alarms
  // included: requests waited for them too).
  Clock::duration down_time(Time now) const;

 private:
  enum class State : std::uint8_t { kUp, kDown, kGone };

  void set_limit_locked(double want) SLUICE_REQUIRES(mu_);
  void cut_limit_locked(Time now) SLUICE_REQUIRES(mu_);
  void too_many_locked(Time now, bool retry_after) SLUICE_REQUIRES(mu_);
  void grow_limit_locked(Clock::duration latency) SLUICE_REQUIRES(mu_);
  void refill_locked(Time now) SLUICE_REQUIRES(mu_);
  void end_outage_locked(Time now) SLUICE_REQUIRES(mu_);
  void answered_locked(Time sent, Time now) SLUICE_REQUIRES(mu_);
  void failed_locked(Time sent, Time now, RequestMark* request) SLUICE_REQUIRES(mu_);

  const ClientOptions& options_;
  const int threshold_;                 // failures in a row that make an outage (fewer if fewer requests are under way)
  std::atomic<std::size_t> active_{0};  // requests holding an in-flight slot
  AsyncSemaphore slots_;
  mutable Mutex mu_;

  // The in-flight limit (under mu_, but debt_ is read without it).
  double limit_ SLUICE_GUARDED_BY(mu_);         // fractional: grows by 1/limit per good answer
  std::size_t granted_ SLUICE_GUARDED_BY(mu_);  // units the semaphore holds or has handed out
  std::atomic<std::size_t> debt_{0};            // units to retire as they come back
  std::atomic<bool> at_max_{true};              // the limit is at its ceiling: an answer need not grow it
  Clock::duration floor_ SLUICE_GUARDED_BY(mu_) = Clock::duration::max();
  Time last_decrease_ SLUICE_GUARDED_BY(mu_){};
  static constexpr std::uint64_t kTooManyWindow = 32;         // answers, at least, behind a cut of a static limit
  static constexpr double kTooManyShare = 0.1;                // of them 429s, more than this
  std::atomic<std::uint64_t> window_answers_{0};              // answers (429s included) since the last look
  std::uint64_t window_too_many_ SLUICE_GUARDED_BY(mu_) = 0;  // 429s among them (under mu_)

  // The outage gate. state_, answered_sent_ and failing_count_ are atomics
  // so that an answer while the origin is up and nothing fails takes no
  // lock; the rest is under mu_.
  std::atomic<State> state_{State::kUp};
  std::atomic<bool> answered_{false};  // the origin has answered at least once
  // The latest send time (time_since_epoch) of an attempt that was answered.
  std::atomic<Clock::rep> answered_sent_{0};
  // Send times of the failures that count toward an outage: one per
  // request, each sent after answered_sent_.
  std::vector<Time> failing_ SLUICE_GUARDED_BY(mu_);
  std::atomic<std::size_t> failing_count_{0};
  // Outages declared so far (false alarms included); failures now counting
  // count toward number generation_ + 1.
  std::uint64_t generation_ SLUICE_GUARDED_BY(mu_) = 0;
  std::vector<std::uint64_t> false_alarms_ SLUICE_GUARDED_BY(mu_);  // generations the first probe dispelled
  Time began_ SLUICE_GUARDED_BY(mu_){};                             // the outage's first failure was sent then
  Time down_since_ SLUICE_GUARDED_BY(mu_){};
  Clock::duration down_total_ SLUICE_GUARDED_BY(mu_){};  // of the outages that ended
  Span last_outage_ SLUICE_GUARDED_BY(mu_){};
  Time next_probe_ SLUICE_GUARDED_BY(mu_){};
  Clock::duration probe_interval_ SLUICE_GUARDED_BY(mu_){};
  bool probing_ SLUICE_GUARDED_BY(mu_) = false;
  bool confirmed_ SLUICE_GUARDED_BY(mu_) = false;  // a probe of this outage failed: it is counted
  std::string last_failure_ SLUICE_GUARDED_BY(mu_);
  Status gone_ SLUICE_GUARDED_BY(mu_);
  std::atomic<Clock::rep> known_good_at_{0};  // time_since_epoch of when known_good_ was kept
  std::string known_good_ SLUICE_GUARDED_BY(mu_);

  // The retry budget (under mu_).
  double tokens_ SLUICE_GUARDED_BY(mu_);
  double token_cap_ SLUICE_GUARDED_BY(mu_);
  Time refilled_ SLUICE_GUARDED_BY(mu_);

  std::atomic<std::uint64_t> outages_{0}, probes_{0};
};

}  // namespace sluice::http
