// sluice serve, through Job::serve and over loopback: the reference
// workload's records asked for over HTTP, answered with what `sluice run`
// writes for them (the oracle the run's tests check against); deadlines,
// shedding, bad requests and upstream faults answered per request or per
// record, never by a failed server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "../../src/mockapi/server.h"
#include "e2e_util.h"
#include "raw_http.h"
#include "sluice/job.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

std::string records_body(std::uint64_t first, std::uint64_t last, const std::string& extra = "") {
  std::string b = "{\"records\":[";
  for (std::uint64_t id = first; id <= last; ++id)
    b += (id > first ? ",{\"id\":" : "{\"id\":") + std::to_string(id) + "}";
  return b + "]" + extra + "}";
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sluice-serve-" +
           std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    oracle::write_inputs(dir_, 2000);
  }
  void TearDown() override {
    if (job_) stop();
  }

  // The mock API with `api`, and a server on it with `sets`.
  void start(mockapi::ServerOptions api = {}, std::vector<std::string> sets = {}, ServeOptions options = {}) {
    auto server = mockapi::Server::start(std::move(api));
    ASSERT_TRUE(server.ok());
    api_ = std::move(*server);
    // Records have all the time they need (a sanitizer's build is slow),
    // unless a test says otherwise.
    sets.insert(sets.begin(), {"datasets.entities.path=" + dir_ + "/entities.csv", "http.base_url=" + api_->base_url(),
                               "serve.deadline_ms=600000"});
    auto job = Job::open_serve(SLUICE_SOURCE_DIR "/examples/item-features.yaml", {.sets = sets});
    ASSERT_TRUE(job.ok()) << job.status().to_string();
    job_ = std::move(*job);
    options.port = 0;
    std::atomic<std::uint16_t> port{0};
    options.listening = [&port](std::uint16_t p) { port = p; };
    thread_ = std::thread([this, options] { summary_ = job_->serve(options); });
    ASSERT_TRUE(eventually([&] { return port.load() != 0; }));
    port_ = port.load();
  }
  // Drains and waits for serve() to return.
  void stop() {
    job_->stop();
    thread_.join();
    job_.reset();
  }

  std::string dir_;
  std::unique_ptr<mockapi::Server> api_;
  std::unique_ptr<Job> job_;
  std::thread thread_;
  JobSummary summary_;
  std::uint16_t port_ = 0;
};

// Every record of the reference workload's first 2,000 ids, in four
// requests of 500: each answer in the order asked, with the values the
// oracle gives (the run's tests check its Parquet files against the same).
TEST_F(Serve, AnswersWhatARunWritesForEachRecord) {
  start();
  simdjson::dom::parser parser;
  std::size_t ok = 0, filtered = 0, not_joined = 0;
  for (std::uint64_t first = 1; first <= 2000; first += 500) {
    const HttpReply r = request(port_, "POST", "/v1/features", records_body(first, first + 499));
    ASSERT_EQ(r.status, 200) << r.head << r.body;
    simdjson::dom::element doc = parser.parse(r.body);
    simdjson::dom::array results = doc["results"];
    ASSERT_EQ(results.size(), 500u);
    std::uint64_t id = first;
    for (simdjson::dom::element e : results) {
      const std::string_view status = e["status"];
      switch (oracle::fate(id)) {
        case oracle::Fate::kWritten:
          EXPECT_EQ(status, "ok") << id << ": " << simdjson::minify(e);
          if (status == "ok") check_row(e["features"], id);
          ++ok;
          break;
        case oracle::Fate::kFiltered:
          EXPECT_EQ(status, "filtered") << id;
          EXPECT_EQ(std::int64_t(e["key"]["id"]), static_cast<std::int64_t>(id));
          ++filtered;
          break;
        case oracle::Fate::kNotJoined:
          EXPECT_EQ(status, "not_joined") << id;
          ++not_joined;
          break;
      }
      ++id;
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(filtered, 0u);
  EXPECT_GT(not_joined, 0u);
  // One record alone is answered with its own object.
  const HttpReply one = request(port_, "POST", "/v1/features", "{\"id\":1}");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.body.rfind("{\"status\":\"ok\",\"features\":{\"id\":1,", 0), 0u) << one.body;
  // Each step's requests timed apart; records evaluated in batches.
  const auto steps = job_->step_latencies();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].first, "item");
  EXPECT_EQ(steps[0].second.count(), 2001u) << "one item request a record";
  EXPECT_EQ(steps[1].first, "event_pages");
  EXPECT_GT(steps[1].second.count(), ok);
  const JobProgress p = job_->progress();
  EXPECT_EQ(p.cpu_batch_records, ok + 1 + not_joined) << "every record kept is evaluated once";
  EXPECT_GE(p.cpu_batches, 1u);
  EXPECT_LE(p.cpu_batches, p.cpu_batch_records);
  stop();
  EXPECT_TRUE(summary_.status.ok()) << summary_.status.to_string();
  EXPECT_EQ(summary_.counts.read, 2001u);
  EXPECT_EQ(summary_.counts.written, ok + 1);
  EXPECT_TRUE(summary_.accounted);
  EXPECT_EQ(summary_.serve.latency.count(), 5u);
}

// A record not done by its deadline is answered so at once, and is given
// up: its later requests are never sent. The API answers in 1 s; the
// deadline is 30 ms, so each record gets no further than its first request.
TEST_F(Serve, ARecordPastItsDeadlineIsAnsweredSoAndSendsNoMoreRequests) {
  start({.latency = std::chrono::milliseconds(1000)});
  const HttpReply r = request(port_, "POST", "/v1/features", records_body(1, 5, ",\"deadline_ms\":30"));
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::array results = parser.parse(r.body)["results"];
  ASSERT_EQ(results.size(), 5u);
  for (simdjson::dom::element e : results) {
    EXPECT_EQ(std::string_view(e["status"]), "error") << simdjson::minify(e);
    EXPECT_EQ(std::string_view(e["error"]), "deadline: not done within 30 ms") << simdjson::minify(e);
  }
  // The header sets it too, when the body does not.
  const HttpReply h = request(port_, "POST", "/v1/features", "{\"id\":1}", "X-Sluice-Deadline-Ms: 30\r\n");
  EXPECT_NE(h.body.find("deadline: not done within 30 ms"), std::string::npos) << h.body;
  stop();  // waits for the records given up to end
  // At most one item request each (one given up before its turn sends
  // none): no page was asked for.
  EXPECT_LE(api_->stats().requests, 6u);
  EXPECT_EQ(summary_.serve.deadline_exceeded, 6u);
  EXPECT_EQ(summary_.counts.dead_lettered, 6u);
}

// Over records_in_flight + queue_capacity records at once, a request is
// answered 503 with Retry-After at once; the records under way finish.
TEST_F(Serve, ARequestOverTheBoundIsShedAtOnce) {
  start({.latency = std::chrono::milliseconds(200)}, {"records_in_flight=1", "queue_capacity=2"});
  HttpReply first;
  std::thread busy(
      [&] { first = request(port_, "POST", "/v1/features", records_body(1, 3, ",\"deadline_ms\":600000")); });
  ASSERT_TRUE(eventually([&] { return job_->progress().records_in_flight == 3; }));
  const HttpReply shed = request(port_, "POST", "/v1/features", "{\"id\":4}");
  EXPECT_EQ(shed.status, 503) << shed.body;
  EXPECT_NE(shed.head.find("Retry-After: 1"), std::string::npos) << shed.head;
  EXPECT_NE(shed.body.find("overloaded"), std::string::npos) << shed.body;
  busy.join();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body.find("deadline"), std::string::npos) << first.body;
  const HttpReply metrics = request(port_, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("sluice_serve_shed_total 1\n"), std::string::npos) << metrics.body;
  stop();
  EXPECT_EQ(summary_.serve.shed, 1u);
  EXPECT_EQ(summary_.serve.shed_latency.count(), 1u);
  EXPECT_EQ(summary_.counts.read, 3u) << "a shed request's records are not taken";
}

// Bad requests get a 4xx that says what is wrong, and the server goes on
// answering good ones.
TEST_F(Serve, BadRequestsAreAnsweredWithWhatIsWrong) {
  start({}, {}, {.max_body_bytes = 20000, .read_timeout = std::chrono::milliseconds(300)});
  auto expect = [&](const HttpReply& r, int status, const std::string& says) {
    EXPECT_EQ(r.status, status) << r.head << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << r.body;
  };
  expect(request(port_, "POST", "/v1/features", "{\"id\":"), 400, "the body is not JSON");
  expect(request(port_, "POST", "/v1/features", "[1,2]"), 400, "not a JSON object");
  expect(request(port_, "POST", "/v1/features", "{\"records\":[{\"id\":1},{\"id\":\"two\"}]}"), 400,
         "records[1]: field 'id' (path 'id'): expected an int64");
  expect(request(port_, "POST", "/v1/features", "{\"records\":[{\"id\":1},{}]}"), 400,
         "records[1]: field 'id' (a key column) is missing or null");
  expect(request(port_, "POST", "/v1/features", "{\"id\":1,\"deadline_ms\":-5}"), 400, "deadline_ms");
  expect(request(port_, "POST", "/v1/features", records_body(1, 1001)), 400, "more than the 1000");
  expect(request(port_, "POST", "/v1/features", std::string(25000, ' ')), 413, "larger than 20000 bytes");
  expect(request(port_, "GET", "/v1/features"), 405, "POST");
  expect(request(port_, "GET", "/v2/nothing"), 404, "no such endpoint");
  // A client that starts a request and stops sending is answered 408 and
  // closed once the read timeout passes (the test waits for the close).
  const int slow = connect_to(port_);
  ASSERT_GE(slow, 0);
  const std::string part = "POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\"";
  ASSERT_EQ(::write(slow, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  expect(read_reply(slow), 408, "not read whole within 300 ms");
  expect(request(port_, "POST", "/v1/features", "{\"records\":[{\"id\":1},null]}"), 400,
         "records[1]: expected an object");
  // A transfer coding the server does not decode is refused (501), not
  // read as chunked: its body would be taken for the request.
  const int gzipped = connect_to(port_);
  ASSERT_GE(gzipped, 0);
  const std::string coded =
      "POST /v1/features HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n9\r\n{\"id\": 1}\r\n0\r\n\r\n";
  ASSERT_EQ(::write(gzipped, coded.data(), coded.size()), static_cast<ssize_t>(coded.size()));
  expect(read_reply(gzipped), 501, "Transfer-Encoding 'gzip, chunked' is not supported");
  const int chunked = connect_to(port_);
  ASSERT_GE(chunked, 0);
  const std::string plain =
      "POST /v1/features HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: Chunked\r\n\r\n9\r\n{\"id\": "
      "1}\r\n0\r\n\r\n";
  ASSERT_EQ(::write(chunked, plain.data(), plain.size()), static_cast<ssize_t>(plain.size()));
  expect(read_reply(chunked), 200, "\"status\":\"ok\"");  // chunked alone, in any case, is read
  // The edges that are not errors: no record, and one record asked twice.
  const HttpReply none = request(port_, "POST", "/v1/features", "{\"records\":[]}");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, "{\"results\":[]}");
  const HttpReply twice = request(port_, "POST", "/v1/features", "{\"records\":[{\"id\":1},{\"id\":1}]}");
  ASSERT_EQ(twice.status, 200);
  const auto comma = twice.body.find("}},{");
  ASSERT_NE(comma, std::string::npos) << twice.body;
  EXPECT_EQ(twice.body.substr(12, comma + 2 - 12), twice.body.substr(comma + 3, comma + 2 - 12))
      << "the same record twice, the same answer twice: " << twice.body;
  // None of it touched the others.
  const HttpReply good = request(port_, "POST", "/v1/features", "{\"id\":1}");
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body.rfind("{\"status\":\"ok\"", 0), 0u) << good.body;
  expect(request(port_, "GET", "/healthz"), 200, "ok");
  expect(request(port_, "GET", "/readyz"), 200, "ready");
  stop();
  EXPECT_EQ(summary_.serve.bad_requests, 11u);
  EXPECT_EQ(summary_.counts.read, 4u);
  EXPECT_TRUE(summary_.accounted);
}

// An API that fails for some records fails those records, each with its
// step, its URL and why; the others are answered, and so are later requests.
TEST_F(Serve, UpstreamFaultsFailTheirRecordsNotTheServer) {
  start({.faults = {.fail_ids_every = 7}}, {"http.retry.max_attempts=2", "http.retry.base_backoff_ms=1"});
  const HttpReply r = request(port_, "POST", "/v1/features", records_body(1, 30));
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::array results = parser.parse(r.body)["results"];
  std::uint64_t id = 1;
  for (simdjson::dom::element e : results) {
    const std::string_view status = e["status"];
    if (id % 7 == 0) {
      EXPECT_EQ(status, "error") << id;
      EXPECT_EQ(std::string_view(e["step"]), "item");
      EXPECT_NE(std::string_view(e["url"]).find("/v1/items/" + std::to_string(id)), std::string_view::npos);
      EXPECT_NE(std::string_view(e["error"]).find("status 500"), std::string_view::npos) << simdjson::minify(e);
    } else {
      EXPECT_NE(status, "error") << id << ": " << simdjson::minify(e);
    }
    ++id;
  }
  EXPECT_EQ(id, 31u);
  EXPECT_EQ(request(port_, "GET", "/readyz").status, 200);
  EXPECT_EQ(request(port_, "POST", "/v1/features", "{\"id\":1}").status, 200);
}

// The datasets read anew while requests keep coming: every request is
// answered, those after the reload join against the new rows, and a reload
// that fails keeps what was loaded and says where.
TEST_F(Serve, DatasetsAreReloadedUnderLoadWithNoFailedRequest) {
  start();
  const std::string entities = dir_ + "/entities.csv";
  // Every region renamed: "r4" -> "new-r4".
  std::string renamed;
  {
    std::ifstream in(entities);
    std::string line;
    std::getline(in, line);
    renamed = line + "\n";
    while (std::getline(in, line)) {
      const auto comma = line.find(',');
      renamed += line.substr(0, comma + 1) + "new-" + line.substr(comma + 1) + "\n";
    }
  }
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread load([&] {
    while (!done.load()) {
      const HttpReply r = request(port_, "POST", "/v1/features", "{\"id\":1}");
      if (r.status != 200 || r.body.find("\"status\":\"ok\"") == std::string::npos) ++failed;
      ++answered;
    }
  });
  ASSERT_TRUE(eventually([&] { return answered.load() >= 20; }));
  std::ofstream(entities + ".next") << renamed;
  fs::rename(entities + ".next", entities);
  const Status reloaded = job_->reload_datasets();
  EXPECT_TRUE(reloaded.ok()) << reloaded.to_string();
  const int at_reload = answered.load();
  ASSERT_TRUE(eventually([&] { return answered.load() >= at_reload + 20; }));
  // A file that cannot be read whole: the reload fails, naming the line.
  std::ofstream(entities, std::ios::app) << "not-a-number,r1,s1,1.0\n";
  const Status broken = job_->reload_datasets();
  EXPECT_EQ(broken.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(broken.message().find("entities.csv:"), std::string::npos) << broken.message();
  const int at_failure = answered.load();
  ASSERT_TRUE(eventually([&] { return answered.load() >= at_failure + 20; }));
  done = true;
  load.join();
  EXPECT_EQ(failed.load(), 0);
  const HttpReply after = request(port_, "POST", "/v1/features", "{\"id\":1}");
  EXPECT_NE(after.body.find("\"region\":\"new-"), std::string::npos) << after.body;
}

}  // namespace
}  // namespace sluice::pipeline
