// Fetch, alone: a record's requests against the mock API on loopback, with
// no input, no commit and no files. keep_if ends a record after its first
// answer; a fan-out asks for every page; a 404 dead-letters the record with
// its step and URL after one attempt; a record given up on sends nothing;
// an API that never answers is the run's failure, its records unfinished.
#include "pipeline/run/fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "mockapi/server.h"
#include "mockapi/workload.h"
#include "oracle.h"
#include "pipeline/file/config.h"
#include "pipeline/plan/plan.h"
#include "plan_of.h"
#include "sluice/channel.h"

namespace sluice::pipeline {
namespace {

namespace asio = boost::asio;

// The reference workload's steps without its join: a record is written
// (n_events: its pages' events) or filtered by keep_if.
std::unique_ptr<Plan> plan_for(const std::string& base_url, const std::string& http_extra = "") {
  return valid_plan(R"yaml(input:
  path: records.csv
  columns: {id: int64}
http:
  base_url: )yaml" + base_url +
                    "\n" + http_extra +
                    R"yaml(  retry: {max_attempts: 3, base_backoff_ms: 5, max_backoff_ms: 20}
steps:
  - name: item
    get: /v1/items/{id}
    fields: {score: double, pages: int64}
    keep_if: item.score >= 0.3
  - name: event_pages
    get: /v1/items/{id}/events?page={page}
    for_each: {page: "range(0, item.pages)"}
    arrays:
      events:
        path: events
        fields: {v: double}
output:
  path: out
  columns:
    id: int64
    n_events: {type: int64, expr: count(events)}
)yaml");
}

struct Fetched {
  std::vector<Record> records;  // in the order of the ids asked for
  std::vector<Status> run_failures;
};

// The records of `ids` through a Fetch of their own, all at once, each
// given up on before it starts when `given_up`.
Fetched fetch_all(const Plan& plan, const std::vector<std::int64_t>& ids, bool given_up = false) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  Admission admission(std::uint64_t{64} << 20, 1024);
  http::ClientOptions options = client_options(plan.config.http);
  options.receive_budget = admission.budget();
  auto client = http::Client::create(rt, std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  Fetched out;
  Fetch fetch(plan, rt, &*client, admission, [&out](const Status& why) { out.run_failures.push_back(why); });
  auto abandoned = std::make_shared<std::atomic<bool>>(given_up);
  out.records = rt.block_on([&]() -> asio::awaitable<std::vector<Record>> {
    Channel<std::pair<std::size_t, Record>> done(ids.size());
    auto ex = co_await asio::this_coro::executor;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      Record r;
      r.position = i;
      r.slots.resize(plan.slot_names.size());
      r.slots[0] = Value(ids[i]);
      r.given_up = abandoned;
      asio::co_spawn(
          ex,
          [&fetch, &done, i, r = std::move(r)]() mutable -> asio::awaitable<void> {
            Record ended = co_await fetch.record(std::move(r));
            std::pair<std::size_t, Record> one{i, std::move(ended)};
            (void)done.try_send(one);
          },
          asio::detached);
    }
    std::vector<Record> records(ids.size());
    for (std::size_t n = 0; n < ids.size(); ++n) {
      std::optional<std::pair<std::size_t, Record>> one = co_await done.receive();
      records[one->first] = std::move(one->second);
    }
    co_return records;
  }());
  return out;
}

std::vector<std::int64_t> ids_up_to(std::int64_t n) {
  std::vector<std::int64_t> ids;
  for (std::int64_t id = 1; id <= n; ++id) ids.push_back(id);
  return ids;
}

TEST(Fetch, KeepIfEndsARecordAtItsFirstAnswerAndAFanOutAsksForEveryPage) {
  auto api = mockapi::Server::start({.jitter = std::chrono::microseconds(500)});
  ASSERT_TRUE(api.ok());
  auto plan = plan_for((*api)->base_url());
  const std::vector<std::int64_t> ids = ids_up_to(60);
  const Fetched f = fetch_all(*plan, ids);
  std::uint64_t requests = 0;
  int filtered = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Record& r = f.records[i];
    const auto id = static_cast<std::uint64_t>(ids[i]);
    const bool kept = oracle::score_of(id) >= 0.3;
    requests += 1 + (kept ? mockapi::pages_of(id) : 0);
    if (!kept) {
      ++filtered;
      EXPECT_EQ(r.outcome, Record::Outcome::kFiltered) << id;
      continue;
    }
    ASSERT_EQ(r.outcome, Record::Outcome::kWritten) << id << ": " << r.dead_error;
    EXPECT_EQ(r.row[1].as_int(), static_cast<std::int64_t>(200 * mockapi::pages_of(id))) << id;
    EXPECT_TRUE(r.answers.empty()) << "answers are let go once evaluated";
  }
  ASSERT_GT(filtered, 0) << "the ids must include some that keep_if drops";
  EXPECT_EQ((*api)->stats().requests, requests) << "no page asked for twice, none for a filtered record";
  EXPECT_TRUE(f.run_failures.empty());
}

TEST(Fetch, ARecordTheApiDoesNotKnowIsDeadLetteredWithItsStepAndUrlAfterOneAttempt) {
  auto api = mockapi::Server::start({.max_id = 5});
  ASSERT_TRUE(api.ok());
  auto plan = plan_for((*api)->base_url());
  const Fetched f = fetch_all(*plan, {7});
  const Record& r = f.records[0];
  EXPECT_EQ(r.outcome, Record::Outcome::kDead);
  EXPECT_EQ(r.dead_step, "item");
  EXPECT_NE(r.dead_url.find("/v1/items/7"), std::string::npos) << r.dead_url;
  EXPECT_NE(r.dead_error.find("404"), std::string::npos) << r.dead_error;
  EXPECT_EQ((*api)->stats().requests, 1u) << "a 404 is not asked again";
  EXPECT_TRUE(f.run_failures.empty()) << "one record's problem is not the run's";
}

// A field path the API's answers do not have (a typo in the file): the
// answer is well-formed, so asking again cannot help. Each record asks once
// and is dead-lettered naming the field, not five times over the input.
TEST(Fetch, AWellFormedAnswerWithoutAFieldIsAskedForOnceAndNamesIt) {
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  const auto plan =
      valid_plan("input:\n  path: records.csv\n  columns: {id: int64}\nhttp:\n  base_url: " + (*api)->base_url() +
                 "\nsteps:\n  - name: item\n    get: /v1/items/{id}\n"
                 "    fields: {score: double, scroe: double}\n"
                 "output:\n  path: out\n  columns:\n    id: int64\n");
  ASSERT_TRUE(plan);
  const Fetched f = fetch_all(*plan, ids_up_to(10));
  for (const Record& r : f.records) {
    ASSERT_EQ(r.outcome, Record::Outcome::kDead);
    EXPECT_EQ(r.dead_step, "item");
    EXPECT_NE(r.dead_error.find("not as the step says"), std::string::npos) << r.dead_error;
    EXPECT_NE(r.dead_error.find("field 'item.scroe' (path 'scroe'): missing"), std::string::npos) << r.dead_error;
  }
  EXPECT_EQ((*api)->stats().requests, 10u) << "one request a record, not max_attempts";
}

// A cut answer first (asked again), then a well-formed one without the
// field (not asked again): two requests a record, and the dead letter says
// what each answer was.
TEST(Fetch, ACutAnswerIsAskedAgainAndAWellFormedOneWithoutTheFieldEndsIt) {
  auto api = mockapi::Server::start({.faults = {.malformed = 1.0, .max_faults_per_path = 1}});
  ASSERT_TRUE(api.ok());
  const auto plan =
      valid_plan("input:\n  path: records.csv\n  columns: {id: int64}\nhttp:\n  base_url: " + (*api)->base_url() +
                 "\nsteps:\n  - name: item\n    get: /v1/items/{id}\n"
                 "    fields: {score: double, scroe: double}\n"
                 "output:\n  path: out\n  columns:\n    id: int64\n");
  ASSERT_TRUE(plan);
  const Fetched f = fetch_all(*plan, ids_up_to(4));
  for (const Record& r : f.records) {
    ASSERT_EQ(r.outcome, Record::Outcome::kDead);
    EXPECT_NE(r.dead_error.find("answer 1: malformed JSON"), std::string::npos) << r.dead_error;
    EXPECT_NE(r.dead_error.find("; then the answer is not as the step says"), std::string::npos) << r.dead_error;
  }
  EXPECT_EQ((*api)->stats().requests, 8u);
}

// The same for an array the answers do not have, read on the CPU pool.
TEST(Fetch, AWellFormedAnswerWithoutTheArrayIsAskedForOnce) {
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  const auto plan =
      valid_plan("input:\n  path: records.csv\n  columns: {id: int64}\nhttp:\n  base_url: " + (*api)->base_url() +
                 "\nsteps:\n  - name: item\n    get: /v1/items/{id}\n"
                 "    arrays: {things: {path: thnigs, fields: {v: double}}}\n"
                 "output:\n  path: out\n  columns:\n    id: int64\n"
                 "    n: {type: int64, expr: count(things)}\n");
  ASSERT_TRUE(plan);
  const Fetched f = fetch_all(*plan, ids_up_to(5));
  for (const Record& r : f.records) {
    ASSERT_EQ(r.outcome, Record::Outcome::kDead);
    EXPECT_NE(r.dead_error.find("array 'thnigs': no such field"), std::string::npos) << r.dead_error;
  }
  EXPECT_EQ((*api)->stats().requests, 5u);
}

TEST(Fetch, ARecordGivenUpOnSendsNoRequest) {
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  auto plan = plan_for((*api)->base_url());
  const Fetched f = fetch_all(*plan, {1, 2, 3}, /*given_up=*/true);
  for (const Record& r : f.records) {
    EXPECT_EQ(r.outcome, Record::Outcome::kDead);
    EXPECT_NE(r.dead_error.find("deadline"), std::string::npos) << r.dead_error;
  }
  EXPECT_EQ((*api)->stats().requests, 0u);
}

// A port bound and never listened on: every connection is refused, and no
// other test can take the port meanwhile.
struct RefusingPort {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t port = 0;
  RefusingPort() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0) {
      port = ntohs(a.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
};

// The API is down from the start and given up on: its records are not dead
// letters (a resume does them) and the run is told why.
TEST(Fetch, AnApiThatNeverAnswersFailsTheRunAndLeavesItsRecordsUnfinished) {
  const RefusingPort refusing;
  ASSERT_NE(refusing.port, 0);
  const std::string base_url = "http://127.0.0.1:" + std::to_string(refusing.port);
  auto plan = plan_for(base_url, "  outage: {failures: 2, probe_after_ms: 20, give_up_after_ms: 300}\n");
  const Fetched f = fetch_all(*plan, ids_up_to(8));
  for (const Record& r : f.records) {
    EXPECT_EQ(r.outcome, Record::Outcome::kUnfinished) << r.position << ": " << r.dead_error;
  }
  ASSERT_FALSE(f.run_failures.empty());
  EXPECT_EQ(f.run_failures[0].code(), StatusCode::kUnavailable) << f.run_failures[0].to_string();
  EXPECT_NE(f.run_failures[0].message().find("has not answered"), std::string::npos) << f.run_failures[0].to_string();
}

}  // namespace
}  // namespace sluice::pipeline
