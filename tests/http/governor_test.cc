// The origin governor's decisions, on a fake clock: when an origin counts
// as down, who probes it and when, when it is given up on, how the retry
// budget paces retries, and how a 429 moves a static limit.
#include "../../src/http/governor.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using Kind = OriginGovernor::Turn::Kind;
using Signal = OriginGovernor::Signal;

class GovernorTest : public ::testing::Test {
 protected:
  OriginGovernor::Time t0 = OriginGovernor::Clock::now();
  OriginGovernor::Time at(std::chrono::milliseconds ms) const { return t0 + ms; }
  // `n` requests under way (their slots are never given back: the test ends first).
  static void under_way(OriginGovernor& g, int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(g.try_enter());
  }
};

TEST_F(GovernorTest, AnOutageBeginsAfterFailuresInARowNotAfterScatteredOnes) {
  ClientOptions o{.max_in_flight = 64, .outage = {.failures = 5}};
  OriginGovernor g(o, t0);
  under_way(g, 64);
  for (int round = 0; round < 10; ++round) {  // four failures, then an answer: never five in a row
    const auto t = std::chrono::milliseconds(10 * round);
    for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 0ms, false, at(t + 1ms), "status 500");
    g.after_attempt(Signal::kAnswer, 1ms, false, at(t + 3ms));  // sent after the first of them
    EXPECT_EQ(g.before_attempt(at(t + 4ms)).kind, Kind::kGo);
  }
  for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 0ms, false, at(101ms), "refused");
  g.after_attempt(Signal::kTooMany, 1ms, false, at(103ms));  // a 429 is an answer: the origin is up
  for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 0ms, false, at(104ms), "refused");
  EXPECT_FALSE(g.down());
  g.after_attempt(Signal::kFailure, 0ms, false, at(104ms), "refused");
  EXPECT_TRUE(g.down());
  const auto t = g.before_attempt(at(105ms));
  EXPECT_EQ(t.kind, Kind::kWait);
  EXPECT_LE(t.until, at(105ms) + OriginGovernor::kOutagePoll);
}

TEST_F(GovernorTest, AShareOfFailuresAmongManyInFlightIsNotAnOutage) {
  // 256 requests in flight, 30 % of attempts failing, each answered 40 ms
  // after it was sent (what queueing at the API makes of 256 in flight):
  // within any 40 ms, far more than `failures` answers fail, but among
  // attempts sent since the first of them failed, seven in ten are
  // answered. The API is up.
  ClientOptions o{.max_in_flight = 256, .outage = {.failures = 20}};
  OriginGovernor g(o, t0);
  under_way(g, 256);
  std::uint64_t x = 42;
  for (int i = 0; i < 100000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto ended = at(std::chrono::milliseconds(40 + i / 8));  // 8 answers a millisecond
    const bool failed = (x >> 33) % 10 < 3;
    g.after_attempt(failed ? Signal::kFailure : Signal::kAnswer, 40ms, false, ended, "status 500");
    ASSERT_FALSE(g.down()) << "after " << i << " answers";
  }
  EXPECT_EQ(g.outages(), 0u);
}

TEST_F(GovernorTest, AnswersToAttemptsSentBeforeTheFailuresBeganDoNotEndThem) {
  // The origin starts failing every new request at 10 ms, while answers to
  // requests sent before keep arriving (a large body, a slow handler): they
  // say nothing of the origin since, and must not hide the outage.
  ClientOptions o{.max_in_flight = 64, .outage = {.failures = 5}};
  OriginGovernor g(o, t0);
  under_way(g, 64);
  for (int i = 0; i < 4; ++i) {
    g.after_attempt(Signal::kFailure, 0ms, false, at(10ms + i * 1ms), "status 503");
    g.after_attempt(Signal::kAnswer, 8ms, false, at(10ms + i * 1ms));  // sent at 2..5 ms
  }
  g.after_attempt(Signal::kFailure, 1ms, false, at(14ms), "status 503");
  EXPECT_TRUE(g.down()) << "five failures in a row among answers sent before them";
  g.after_attempt(Signal::kAnswer, 20ms, false, at(15ms));  // sent at -5 ms
  EXPECT_TRUE(g.down()) << "an answer to an attempt sent before the failures does not end the outage";
  g.after_attempt(Signal::kAnswer, 1ms, false, at(16ms));  // sent at 15 ms
  EXPECT_FALSE(g.down()) << "an answer to an attempt sent since does";

  // Without the outage gate's threshold reached, an answer sent since the
  // first failure ends the failures in a row.
  for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 0ms, false, at(20ms), "status 503");
  g.after_attempt(Signal::kAnswer, 1ms, false, at(22ms));  // sent at 21 ms
  g.after_attempt(Signal::kFailure, 0ms, false, at(23ms), "status 503");
  EXPECT_FALSE(g.down());
}

TEST_F(GovernorTest, FailuresOfAttemptsSentBeforeAnAnsweredOneDoNotCount) {
  // An answer to an attempt sent at 8 ms says the origin was up then:
  // failures of attempts sent before it, however many arrive after it,
  // are no evidence that it is down. Failures sent after it are.
  ClientOptions o{.max_in_flight = 64, .outage = {.failures = 5}};
  OriginGovernor g(o, t0);
  under_way(g, 64);
  for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 4ms, false, at(10ms), "status 500");   // sent at 6 ms
  g.after_attempt(Signal::kAnswer, 2ms, false, at(10ms));                                              // sent at 8 ms
  for (int i = 0; i < 50; ++i) g.after_attempt(Signal::kFailure, 5ms, false, at(11ms), "status 500");  // sent at 6 ms
  EXPECT_FALSE(g.down());
  for (int i = 0; i < 4; ++i) g.after_attempt(Signal::kFailure, 3ms, false, at(12ms), "status 500");  // sent at 9 ms
  EXPECT_FALSE(g.down());
  g.after_attempt(Signal::kFailure, 3ms, false, at(12ms), "status 500");
  EXPECT_TRUE(g.down()) << "five sent after the last attempt answered";
}

TEST_F(GovernorTest, EachRequestCountsOnceAmongTheFailuresInARow) {
  // Requests that keep failing while others are answered (a permanent
  // fault on some records) must not look like an origin that is down, even
  // when many of their retries come in a row (say at the end of a run).
  ClientOptions o{.max_in_flight = 64, .outage = {.failures = 5}};
  OriginGovernor g(o, t0);
  under_way(g, 64);
  std::vector<OriginGovernor::RequestMark> requests(4);
  for (auto& r : requests) g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "status 500", &r);
  for (int i = 0; i < 100; ++i) {
    g.after_attempt(Signal::kFailure, 0ms, false, at(1ms), "status 500", &requests[static_cast<std::size_t>(i % 4)]);
  }
  EXPECT_FALSE(g.down());
  OriginGovernor::RequestMark fifth;
  g.after_attempt(Signal::kFailure, 0ms, false, at(2ms), "refused", &fifth);
  EXPECT_TRUE(g.down()) << "a fifth request failing";
}

TEST_F(GovernorTest, RequestsInAFalseAlarmDoNotRaiseAnother) {
  // Ten requests that fail for their own reasons, alone at the end of a
  // run, look like an outage until the probe is answered; their retries
  // then fail again, but must not raise alarm after alarm.
  ClientOptions o{.max_in_flight = 64, .outage = {.failures = 20, .probe_after = 10ms}};
  OriginGovernor g(o, t0);
  under_way(g, 10);
  std::vector<OriginGovernor::RequestMark> requests(10);
  for (auto& r : requests) g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "status 500", &r);
  ASSERT_TRUE(g.down());
  ASSERT_EQ(g.before_attempt(at(10ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kAnswer, 1ms, true, at(11ms));
  ASSERT_FALSE(g.down());
  for (auto& r : requests) g.after_attempt(Signal::kFailure, 0ms, false, at(20ms), "status 500", &r);
  EXPECT_FALSE(g.down());
  EXPECT_EQ(g.last_outage().end, OriginGovernor::Time{}) << "no attempt given back for a false alarm";
  EXPECT_EQ(g.outages(), 0u);
}

TEST_F(GovernorTest, EveryRequestInFlightFailingAtOnceMakesAnOutage) {
  // Eight requests in flight, all sent at 0 ms and failing together as the
  // origin goes down: down at once, before their retries spend attempts.
  ClientOptions o{.max_in_flight = 8, .outage = {.failures = 20}};
  OriginGovernor g(o, t0);
  under_way(g, 8);
  g.after_attempt(Signal::kAnswer, 5ms, false, at(4ms));  // sent at -1 ms
  std::vector<OriginGovernor::RequestMark> requests(8);
  for (std::size_t i = 0; i < 7; ++i) g.after_attempt(Signal::kFailure, 5ms, false, at(5ms), "refused", &requests[i]);
  EXPECT_FALSE(g.down()) << "seven of eight";
  g.after_attempt(Signal::kFailure, 5ms, false, at(5ms), "refused", &requests[7]);
  EXPECT_TRUE(g.down()) << "every request under way";
}

TEST_F(GovernorTest, FewerRequestsUnderWayThanTheThresholdStillMakeAnOutage) {
  // Four requests could never fail 20 times in a row, each for the first
  // time: all four failing suffices.
  ClientOptions o{.max_in_flight = 256, .outage = {.failures = 20}};
  OriginGovernor g(o, t0);
  under_way(g, 4);
  for (int i = 0; i < 3; ++i) g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "refused");
  EXPECT_FALSE(g.down());
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "refused");
  EXPECT_TRUE(g.down());
}

TEST_F(GovernorTest, AnOutageIsCountedOnceAProbeFailsTooNotWhenTheFirstProbeIsAnswered) {
  ClientOptions o{.outage = {.failures = 2, .probe_after = 100ms}};
  OriginGovernor g(o, t0);
  under_way(g, 2);
  // Two requests under way fail at once: down, but the first probe is
  // answered: a false alarm, not an outage.
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "status 500");
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "status 500");
  ASSERT_TRUE(g.down());
  ASSERT_EQ(g.before_attempt(at(100ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kAnswer, 1ms, true, at(101ms));
  EXPECT_FALSE(g.down());
  EXPECT_EQ(g.outages(), 0u);
  // Down again, and the first probe fails: an outage, counted once however
  // many probes fail.
  g.after_attempt(Signal::kFailure, 0ms, false, at(200ms), "refused");
  g.after_attempt(Signal::kFailure, 0ms, false, at(200ms), "refused");
  ASSERT_TRUE(g.down());
  for (int i = 1; i <= 3; ++i) {
    const auto t = g.before_attempt(at(std::chrono::milliseconds(200 + 1000 * i)));
    ASSERT_EQ(t.kind, Kind::kProbe);
    g.after_attempt(Signal::kFailure, 1ms, true, at(std::chrono::milliseconds(201 + 1000 * i)), "refused");
  }
  EXPECT_EQ(g.outages(), 1u);
}

TEST_F(GovernorTest, OneProbeAtATimeAtDoublingIntervalsUntilAnAnswerEndsTheOutage) {
  ClientOptions o{.outage = {.failures = 1, .probe_after = 100ms, .max_probe_interval = 300ms}};
  OriginGovernor g(o, t0);
  g.after_attempt(Signal::kFailure, 1ms, false, at(0ms), "refused");
  EXPECT_EQ(g.before_attempt(at(50ms)).kind, Kind::kWait);
  EXPECT_EQ(g.before_attempt(at(99ms)).until, at(100ms)) << "woken for the first probe";
  EXPECT_EQ(g.before_attempt(at(100ms)).kind, Kind::kProbe);
  EXPECT_EQ(g.before_attempt(at(101ms)).kind, Kind::kWait) << "one probe at a time";
  EXPECT_EQ(g.before_attempt(at(500ms)).kind, Kind::kWait) << "however late, while the probe is out";
  g.after_attempt(Signal::kFailure, 1ms, true, at(110ms), "refused");
  // The next probe 200 ms after the failed one, then 300 (the cap), 300, ...
  EXPECT_EQ(g.before_attempt(at(309ms)).kind, Kind::kWait);
  EXPECT_EQ(g.before_attempt(at(310ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kFailure, 1ms, true, at(320ms), "refused");
  EXPECT_EQ(g.before_attempt(at(619ms)).kind, Kind::kWait);
  EXPECT_EQ(g.before_attempt(at(620ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kFailure, 1ms, true, at(630ms), "refused");
  EXPECT_EQ(g.before_attempt(at(929ms)).kind, Kind::kWait);
  EXPECT_EQ(g.before_attempt(at(930ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kAnswer, 1ms, true, at(940ms));
  EXPECT_FALSE(g.down());
  EXPECT_EQ(g.before_attempt(at(941ms)).kind, Kind::kGo) << "everyone goes on";
  EXPECT_EQ(g.probes(), 4u);
  EXPECT_EQ(g.outages(), 1u);
  // A new outage starts probing at probe_after again.
  g.after_attempt(Signal::kFailure, 1ms, false, at(1000ms), "refused");
  EXPECT_EQ(g.before_attempt(at(1099ms)).kind, Kind::kWait);
  EXPECT_EQ(g.before_attempt(at(1100ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kFailure, 1ms, true, at(1110ms), "refused");
  EXPECT_EQ(g.outages(), 2u);
}

TEST_F(GovernorTest, AnAnswerToARequestSentBeforeTheOutageEndsIt) {
  ClientOptions o{.outage = {.failures = 2}};
  OriginGovernor g(o, t0);
  under_way(g, 8);
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "reset");
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "reset");
  ASSERT_TRUE(g.down());
  g.after_attempt(Signal::kFailure, 1ms, false, at(1ms), "reset");  // a straggler: no change
  EXPECT_TRUE(g.down());
  g.after_attempt(Signal::kAnswer, 1ms, false, at(2ms));
  EXPECT_FALSE(g.down());
}

TEST_F(GovernorTest, AnAbandonedProbeLetsAnotherRequestProbeAtOnce) {
  ClientOptions o{.outage = {.failures = 1, .probe_after = 100ms}};
  OriginGovernor g(o, t0);
  g.after_attempt(Signal::kFailure, 1ms, false, at(0ms), "refused");
  ASSERT_EQ(g.before_attempt(at(100ms)).kind, Kind::kProbe);
  g.probe_abandoned(at(150ms));
  EXPECT_EQ(g.before_attempt(at(151ms)).kind, Kind::kProbe);
}

TEST_F(GovernorTest, AnOriginDownPastGiveUpAfterIsGivenUpOnWithTheLastFailure) {
  ClientOptions o{
      .outage = {.failures = 1, .probe_after = 100ms, .max_probe_interval = 1000ms, .give_up_after = 5000ms}};
  OriginGovernor g(o, t0);
  g.after_attempt(Signal::kAnswer, 1ms, false, at(0ms));  // it was up once
  g.after_attempt(Signal::kFailure, 0ms, false, at(0ms), "connect: Connection refused");
  EXPECT_TRUE(g.gone().ok());
  EXPECT_EQ(g.before_attempt(at(4999ms)).kind, Kind::kProbe);
  g.after_attempt(Signal::kFailure, 1ms, true, at(4999ms), "status 503");
  EXPECT_EQ(g.before_attempt(at(5000ms)).kind, Kind::kGone);
  EXPECT_EQ(g.before_attempt(at(9000ms)).kind, Kind::kGone) << "for good";
  const Status s = g.gone();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("down for 5 s"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the last: status 503"), std::string::npos) << s.message();
}

TEST_F(GovernorTest, AnOriginThatNeverAnsweredIsGivenUpOnAfterTenSeconds) {
  // A wrong base_url, or a service not started: fail fast, not after give_up_after.
  ClientOptions o{.outage = {.failures = 1, .give_up_after = 3600000ms}};
  OriginGovernor g(o, t0);
  g.after_attempt(Signal::kFailure, 1ms, false, at(0ms), "connect: Connection refused");
  EXPECT_NE(g.before_attempt(at(9999ms)).kind, Kind::kGone);
  EXPECT_EQ(g.before_attempt(at(10000ms)).kind, Kind::kGone);
  EXPECT_NE(g.gone().message().find("has not answered once in 10 s"), std::string::npos) << g.gone().message();
}

TEST_F(GovernorTest, WithTheOutageGateOffFailuresNeverHoldRequestsBack) {
  ClientOptions o{.outage = {.enabled = false, .failures = 1}};
  OriginGovernor g(o, t0);
  for (int i = 0; i < 100; ++i) g.after_attempt(Signal::kFailure, 1ms, false, at(0ms), "refused");
  EXPECT_EQ(g.before_attempt(at(1ms)).kind, Kind::kGo);
}

TEST_F(GovernorTest, TheRetryBudgetPacesRetriesButNeverRefusesOne) {
  ClientOptions o{.max_in_flight = 10, .retry = {.budget = 0.2, .min_per_second = 10}};
  OriginGovernor g(o, t0);
  // A full bucket: a burst of max_in_flight retries goes at once.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(g.take_retry(at(0ms))) << i;
  // Empty: the next one is told to come back when a token has accrued.
  auto when = g.take_retry(at(0ms));
  ASSERT_TRUE(when);
  EXPECT_EQ(*when, at(100ms)) << "10 tokens a second";
  EXPECT_FALSE(g.take_retry(at(100ms)));
  // Five requests add one token: one retry in five requests goes at once.
  for (int i = 0; i < 5; ++i) g.on_request(at(100ms));
  EXPECT_FALSE(g.take_retry(at(100ms)));
  EXPECT_TRUE(g.take_retry(at(100ms)));
}

// 100,000 requests within one second, `failing` in ten of them failing
// twice: how many of their retries had to wait for a token.
int budget_waits(int failing) {
  ClientOptions o{.max_in_flight = 256};
  const auto t0 = OriginGovernor::Clock::now();
  OriginGovernor g(o, t0);
  int waited = 0;
  for (int i = 0; i < 100000; ++i) {
    const auto now = t0 + std::chrono::milliseconds(i / 100);
    g.on_request(now);
    if (i % 10 < failing) {
      waited += g.take_retry(now).has_value();
      waited += g.take_retry(now).has_value();
    }
  }
  return waited;
}

TEST_F(GovernorTest, WhileAtMostAboutHalfOfAllAttemptsFailNoRetryEverWaits) {
  EXPECT_EQ(budget_waits(1), 0) << "10 % of requests failing twice";
  EXPECT_EQ(budget_waits(3), 0) << "30 % failing twice: 0.6 retries a request, 38 % of all attempts failing";
  EXPECT_EQ(budget_waits(5), 0) << "50 % failing twice: half of all attempts";
  EXPECT_GT(budget_waits(6), 10000) << "60 % failing twice: retries slow down";
}

TEST_F(GovernorTest, A429RateLimitLowersAStaticLimitAndAnswersBringItBack) {
  ClientOptions o{.max_in_flight = 100, .adaptive = {.min = 4, .decrease_interval = 100ms}};
  OriginGovernor g(o, t0);
  EXPECT_EQ(g.limit(), 100u);
  // Answers of which a third are 429s: a rate limit. One cut per look at
  // 32 or more answers (and at most one per decrease_interval).
  auto answers = [&](int n, int every_429, std::chrono::milliseconds when) {
    for (int i = 1; i <= n; ++i) {
      g.after_attempt(i % every_429 == 0 ? Signal::kTooMany : Signal::kAnswer, 1ms, false, at(when));
    }
  };
  answers(33, 3, 200ms);
  EXPECT_EQ(g.limit(), 70u);
  answers(33, 3, 250ms);
  EXPECT_EQ(g.limit(), 70u) << "one cut per decrease_interval";
  answers(33, 3, 400ms);
  EXPECT_EQ(g.limit(), 49u);
  for (int i = 0; i < 10000 && g.limit() < 100; ++i) g.after_attempt(Signal::kAnswer, 1ms, false, at(500ms));
  EXPECT_EQ(g.limit(), 100u) << "back to max_in_flight, never past it";
  for (int i = 0; i < 1000; ++i) g.after_attempt(Signal::kAnswer, 1ms, false, at(500ms));
  EXPECT_EQ(g.limit(), 100u);
}

TEST_F(GovernorTest, ScatteredTooManyAnswersDoNotLowerAStaticLimit) {
  // One answer in twenty a 429, for a long time: each of those requests
  // waits out its own Retry-After; the others go on at full width.
  ClientOptions o{.max_in_flight = 100};
  OriginGovernor g(o, t0);
  for (int i = 1; i <= 20000; ++i) {
    g.after_attempt(i % 20 == 0 ? Signal::kTooMany : Signal::kAnswer, 1ms, false, at(std::chrono::milliseconds(i)));
  }
  EXPECT_EQ(g.limit(), 100u);
}

TEST_F(GovernorTest, TooManyAnswersWithRetryAfterAreWaitedOutNotPaidForByALowerStaticLimit) {
  // A third of the answers 429 with Retry-After: each of those requests
  // waits as the API asked; cutting the limit too would slow every other
  // request to a crawl. Adaptive limits still cut on them.
  ClientOptions o{.max_in_flight = 100, .adaptive = {.min = 4, .decrease_interval = 100ms}};
  OriginGovernor g(o, t0);
  for (int i = 1; i <= 20000; ++i) {
    g.after_attempt(i % 3 == 0 ? Signal::kRetryAfter : Signal::kAnswer, 1ms, false, at(std::chrono::milliseconds(i)));
  }
  EXPECT_EQ(g.limit(), 100u);
  ClientOptions a{.max_in_flight = 100, .adaptive = {.enabled = true, .min = 4, .initial = 100}};
  OriginGovernor adaptive(a, t0);
  adaptive.after_attempt(Signal::kRetryAfter, 1ms, false, at(200ms));
  EXPECT_EQ(adaptive.limit(), 70u);
}

TEST_F(GovernorTest, FailuresDoNotLowerAStaticLimit) {
  ClientOptions o{.max_in_flight = 100};
  OriginGovernor g(o, t0);
  for (int i = 0; i < 10; ++i)
    g.after_attempt(Signal::kFailure, 1ms, false, at(std::chrono::milliseconds(200 * i)), "500");
  EXPECT_EQ(g.limit(), 100u);
}

}  // namespace
}  // namespace sluice::http
