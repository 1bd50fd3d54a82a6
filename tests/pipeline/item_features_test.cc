// The reference workload end to end: examples/item-features.yaml run by the
// engine against the mock API on loopback, its Parquet read back by DuckDB
// and compared, value by value, with an independent oracle; the same under
// injected faults, with retries on and off.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "item_features_fixture.h"
#include "nginx.h"

namespace sluice::pipeline {
namespace {

TEST_F(ItemFeatures, OutputEqualsTheOracleValueForValue) {
  JobSummary s = run("clean", {});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.read, n_);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_EQ(s.counts.filtered, e.filtered);
  EXPECT_EQ(s.counts.not_joined, e.not_joined);
  EXPECT_EQ(s.counts.dead_lettered, 0u);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(s.counts.bytes_in_flight, 0u) << "every answer held was let go";
  // 1 request per filtered record, 1 + pages per kept one (the join is after every request).
  std::uint64_t requests = 0;
  for (std::uint64_t id = 1; id <= n_; ++id) {
    requests += oracle::fate(id) == oracle::Fate::kFiltered ? 1 : 2 + (oracle::mix(id) >> 16) % 4;
  }
  EXPECT_EQ(s.http.requests, requests);
  EXPECT_EQ(server_stats_.requests, requests);
  ASSERT_EQ(s.files.size(), 1u);
  EXPECT_EQ(s.files[0].rows, e.written);
  EXPECT_EQ(check_output(out_, n_), e.written);
  EXPECT_FALSE(fs::exists(out_ + "/_item-features-dead-letter.jsonl")) << "no dead letters, no file";
}

// Against a server that gzips its JSON: every answer comes compressed, the
// item's is inflated as it arrives (its fields decide the rest), the event
// pages are held compressed and inflated on the CPU pool; the output is
// the same, value for value.
TEST_F(ItemFeatures, GzippedAnswersGiveTheSameOutput) {
  JobSummary s = run("gzip", {.gzip = true});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_EQ(s.counts.dead_lettered, 0u);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(s.counts.answer_retries, 0u) << "every compressed answer was read";
  EXPECT_GT(server_stats_.ok, 0u);
  EXPECT_EQ(server_stats_.gzipped, server_stats_.ok + server_stats_.not_found);
  EXPECT_EQ(check_output(out_, n_), e.written);
}

// Job::stream, as `sluice stream` runs it: records as JSON lines in (here a
// file), every record's outcome as one JSON line out, in the order they end;
// a written record's features are the oracle's row, value for value, and
// the others say what became of them.
// Ids 1..n_ as JSON lines, then one that does not parse; the stream job of
// the reference workload over them, with `sets` more.
class ItemFeaturesStream : public ItemFeatures {
 protected:
  std::unique_ptr<Job> open(const std::string& name, std::vector<std::string> sets = {}) {
    data_ = scratch(name);
    oracle::write_inputs(data_, n_);
    {
      std::ofstream jsonl(data_ + "/records.jsonl");
      for (std::uint64_t id = 1; id <= n_; ++id) jsonl << "{\"id\":" << id << "}\n";
      jsonl << "{\"id\":\"seven\"}\n";  // a record that does not parse: an error line, not a lost record
    }
    auto server = mockapi::Server::start({});
    EXPECT_TRUE(server.ok()) << server.status().to_string();
    if (!server.ok()) return nullptr;
    server_ = std::move(*server);
    sets.insert(sets.begin(), {"input.path=" + data_ + "/records.jsonl", "input.format=jsonl",
                               "datasets.entities.path=" + data_ + "/entities.csv",
                               "http.base_url=" + server_->base_url(), "output.path=s3://not-looked-at/"});
    auto job = Job::open_stream(SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                                {.sets = std::move(sets), .io_threads = 1, .cpu_threads = 1});
    EXPECT_TRUE(job.ok()) << job.status().to_string();
    return job.ok() ? std::move(*job) : nullptr;
  }
  std::unique_ptr<mockapi::Server> server_;
};

TEST_F(ItemFeaturesStream, StreamGivesEachRecordItsOutcomeAsAJsonLine) {
  n_ = 600;
  std::unique_ptr<Job> job = open("stream");
  ASSERT_NE(job, nullptr);
  std::vector<std::string> lines;
  JobSummary s = job->stream([&](std::string_view line) { lines.emplace_back(line); });
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(job->run().status.code(), StatusCode::kFailedPrecondition) << "a stream job writes no files";

  ASSERT_EQ(lines.size(), n_ + 1);
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_EQ(s.counts.filtered, e.filtered);
  EXPECT_EQ(s.counts.not_joined, e.not_joined);
  EXPECT_EQ(s.counts.dead_lettered, 1u);
  EXPECT_TRUE(s.files.empty());
  EXPECT_FALSE(fs::exists(out_)) << "nothing is written under the output";
  simdjson::dom::parser parser;
  std::vector<bool> seen(n_ + 2, false);
  bool in_order = true;
  std::uint64_t previous = 0;
  for (const std::string& text : lines) {
    simdjson::dom::element o;
    ASSERT_FALSE(parser.parse(text).get(o)) << text;
    const auto line = std::uint64_t(o["line"]);
    ASSERT_GE(line, 1u);
    ASSERT_LE(line, n_ + 1);
    EXPECT_FALSE(seen[line]) << "one line a record: " << text;
    seen[line] = true;
    in_order = in_order && line > previous;
    previous = line;
    const std::string_view status = o["status"];
    if (line == n_ + 1) {
      EXPECT_EQ(status, "error") << text;
      EXPECT_EQ(std::string_view(o["step"]), "input") << text;
      continue;
    }
    const std::uint64_t id = line;  // the file holds ids 1..n in order
    switch (oracle::fate(id)) {
      case oracle::Fate::kWritten:
        ASSERT_EQ(status, "ok") << text;
        check_row(o["features"], id);
        break;
      case oracle::Fate::kFiltered:
        EXPECT_EQ(status, "filtered") << text;
        EXPECT_EQ(std::int64_t(o["key"]["id"]), static_cast<std::int64_t>(id)) << text;
        break;
      case oracle::Fate::kNotJoined:
        EXPECT_EQ(status, "not_joined") << text;
        EXPECT_EQ(std::int64_t(o["key"]["id"]), static_cast<std::int64_t>(id)) << "known after evaluation: " << text;
        break;
    }
  }
  EXPECT_FALSE(in_order) << "lines come as records end, not in the input's order (600 records at once)";
}

// In the input's order: with 8 records in flight, records that end early
// wait for those before them, and none starts more than 8 past the first
// not yet out; every line still comes, once.
TEST_F(ItemFeaturesStream, OrderedLinesComeInTheInputsOrder) {
  n_ = 300;
  std::unique_ptr<Job> job = open("stream-ordered", {"records_in_flight=8", "http.max_in_flight=8"});
  ASSERT_NE(job, nullptr);
  std::vector<std::string> lines;
  JobSummary s = job->stream([&](std::string_view line) { lines.emplace_back(line); }, /*ordered=*/true);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  ASSERT_EQ(lines.size(), n_ + 1);
  for (std::uint64_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i].rfind("{\"line\":" + std::to_string(i + 1) + ",", 0), 0u) << lines[i];
  }
  EXPECT_EQ(s.counts.written, expected_counts(n_).written);
}

// The same workload with the pages taken from a list in an earlier answer
// (GET /v1/items/{id}/pages: {"pages": [0, 1, ...]}) instead of a range.
TEST_F(ItemFeatures, FanOutOverAListFromAnEarlierAnswerGivesTheSameOutput) {
  std::string yaml = read_text(SLUICE_SOURCE_DIR "/examples/item-features.yaml");
  const std::string range_step = "    for_each: {page: \"range(0, item.pages)\"}\n";
  auto at = yaml.find(range_step);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, range_step.size(), "    for_each: {page: listing.pages}\n");
  const std::string events_step = "  - name: event_pages\n";
  yaml.insert(yaml.find(events_step),
              "  - name: listing\n    get: /v1/items/{id}/pages\n    fields: {pages: \"list<int64>\"}\n");
  JobSummary s = run("listed", {}, {}, yaml);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_EQ(s.counts.dead_lettered, 0u) << (dead_letters().empty() ? "" : dead_letters()[0]);
  EXPECT_TRUE(s.accounted);
  std::uint64_t requests = 0;  // the listing is one more request per kept record
  for (std::uint64_t id = 1; id <= n_; ++id) {
    requests += oracle::fate(id) == oracle::Fate::kFiltered ? 1 : 3 + (oracle::mix(id) >> 16) % 4;
  }
  EXPECT_EQ(s.http.requests, requests);
  EXPECT_EQ(check_output(out_, n_), e.written);
}

// max_bytes_in_flight holds new records back so that the answers held stay
// near it (the cap follows the mean bytes a record holds); without it, all
// records_in_flight go at once and hold several times more.
TEST_F(ItemFeatures, TheByteBoundHoldsNewRecordsBackAndLosesNone) {
  mockapi::ServerOptions slow;
  slow.latency = std::chrono::milliseconds(2);
  const std::uint64_t bound = 256 * 1024;
  JobSummary held = run("bytes", slow, {"max_bytes_in_flight=256KiB"});
  ASSERT_TRUE(held.status.ok()) << held.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(held.counts.written, e.written);
  EXPECT_TRUE(held.accounted);
  EXPECT_EQ(check_output(out_, n_), e.written);
  EXPECT_GT(held.counts.records_held_total, 0u);
  EXPECT_GT(held.counts.peak_bytes_in_flight, bound / 4) << "the bound is used, not undershot";
  // At most the cap (bound / mean) records, each holding at most 4 pages.
  EXPECT_LT(held.counts.peak_bytes_in_flight, bound * 5 / 2) << "with the bound";

  JobSummary free = run("bytes-free", slow);
  ASSERT_TRUE(free.status.ok()) << free.status.to_string();
  EXPECT_EQ(free.counts.records_held_total, 0u);
  EXPECT_GT(free.counts.peak_bytes_in_flight, 4 * bound) << "without it";
  std::printf("peak answer bytes: %llu with a bound of %llu, %llu without\n",
              static_cast<unsigned long long>(held.counts.peak_bytes_in_flight), static_cast<unsigned long long>(bound),
              static_cast<unsigned long long>(free.counts.peak_bytes_in_flight));
}

// Answers of 1 MB (events pages padded): max_bytes_in_flight bounds the
// answers being received as well as those kept. Past the bound only the
// answers already coming finish (one at a time) and the oldest record's
// requests start. (Before, answers in transit were not counted at all:
// 5 MB answers at 256 in flight and a 64 MiB bound peaked at 1.2 GiB.)
TEST_F(ItemFeatures, TheByteBoundHoldsForAnswersBeingReceived) {
  n_ = 400;
  mockapi::ServerOptions big{.pad_bytes = 1 << 20};
  constexpr std::uint64_t kBound = 8 << 20, kAnswer = (1 << 20) + 20000, kInFlight = 16;
  JobSummary bounded =
      run("big-answers", big, {"max_bytes_in_flight=8MiB", "http.max_in_flight=16", "records_in_flight=256"});
  ASSERT_TRUE(bounded.status.ok()) << bounded.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(bounded.counts.written, e.written);
  EXPECT_EQ(check_output(out_, n_), e.written);
  EXPECT_EQ(bounded.counts.bytes_in_flight, 0u);
  // The bound; past it, the answers in flight as it was reached, the oldest
  // record's (at most 4), and a read of at most 64 KiB per connection.
  const std::uint64_t most = kBound + kInFlight * kAnswer + 4 * kAnswer + kInFlight * (64 << 10);
  EXPECT_LE(bounded.counts.peak_bytes_in_flight, most);
  EXPECT_GT(bounded.counts.peak_bytes_in_flight, kBound) << "the bound was reached: the test proves something";
  std::printf("peak answer bytes: %.1f MiB with an 8 MiB bound (at most %.1f MiB)\n",
              static_cast<double>(bounded.counts.peak_bytes_in_flight) / (1 << 20),
              static_cast<double>(most) / (1 << 20));
}

// Three shards of one job, run one after the other into one directory,
// hold together exactly what one run would: every record in one shard.
TEST_F(ItemFeatures, ShardsTogetherWriteWhatOneRunWould) {
  constexpr std::uint32_t kShards = 3;
  std::uint64_t read = 0, written = 0;
  for (std::uint32_t i = 0; i < kShards; ++i) {
    JobSummary s = run("shards", {}, {}, "", {.shard_index = i, .shard_count = kShards}, /*fresh=*/i == 0);
    ASSERT_TRUE(s.status.ok()) << s.status.to_string();
    EXPECT_TRUE(s.accounted);
    EXPECT_EQ(s.counts.read, n_ / kShards) << "shard " << i;
    ASSERT_EQ(s.files.size(), 1u);
    // Named after the shard and the attempt, which is new for every run.
    ASSERT_EQ(s.attempt.size(), 8u);
    EXPECT_EQ(s.attempt.find_first_not_of("0123456789abcdef"), std::string::npos) << s.attempt;
    EXPECT_NE(
        s.files[0].name.find("/item-features-shard-" + std::to_string(i) + "-of-3-" + s.attempt + "-00000.parquet"),
        std::string::npos)
        << s.files[0].name;
    EXPECT_EQ(s.shard_commit, "committed");
    EXPECT_NE(s.to_json().find("\"shard\":{\"index\":" + std::to_string(i) + ",\"count\":3,\"attempt\":\"" + s.attempt +
                               "\",\"commit\":\"committed\"}"),
              std::string::npos)
        << s.to_json();
    // The shard's commit record replaces the attempt's manifest.
    const std::string commit = out_ + "/_item-features-shard-" + std::to_string(i) + "-of-3-commit.json";
    EXPECT_EQ(s.manifest, commit);
    EXPECT_TRUE(std::filesystem::exists(commit));
    EXPECT_FALSE(std::filesystem::exists(out_ + "/_item-features-shard-" + std::to_string(i) + "-of-3-" + s.attempt +
                                         "-manifest.json"));
    // Records 1, 4, 7, ... (positions 0, 3, 6, ...) are shard 0's.
    auto ids = duckdb_rows("SELECT DISTINCT (id - 1) % 3 AS r FROM read_parquet('" + s.files[0].name + "')");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_NE(ids[0].find("\"r\":\"" + std::to_string(i) + "\""), std::string::npos) << ids[0];
    read += s.counts.read;
    written += s.counts.written;
  }
  EXPECT_EQ(read, n_);
  EXPECT_EQ(written, expected_counts(n_).written);
  EXPECT_EQ(check_output(out_, n_), written);
}

TEST_F(ItemFeatures, HivePartitionsHoldEveryRowUnderItsValue) {
  JobSummary s = run("partitions", {}, {"output.partition_by=region", "output.file_rows=20"});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written, e.written);
  std::set<std::string> dirs;
  std::uint64_t rows = 0;
  for (const auto& f : s.files) {
    auto rel = f.name.substr(out_.size() + 1);
    ASSERT_TRUE(rel.starts_with("region=r")) << f.name;
    dirs.insert(rel.substr(0, rel.find('/')));
    rows += f.rows;
  }
  EXPECT_EQ(dirs.size(), 16u) << "r0 .. r15";
  EXPECT_EQ(rows, e.written);
  EXPECT_GT(s.files.size(), 16u) << "files roll within a partition too";
  // The region is in the path, not in the files; DuckDB puts it back.
  auto one = duckdb_rows("SELECT * FROM read_parquet('" + s.files[0].name + "', hive_partitioning = false) LIMIT 1");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].find("\"region\""), std::string::npos) << one[0];
  EXPECT_EQ(
      check_output(
          out_, n_,
          "(SELECT id, region, segment, weight, kind, score, n_events, v_sum, v_mean, v_std, v_min, v_max, v_p50, "
          "v_p90, v_p99, cnt_x, cnt_y, cnt_z, v_ewma FROM read_parquet('" +
              out_ + "/**/*.parquet', hive_partitioning = true))"),
      e.written);
}

// A left join writes the records an inner join drops, with the dataset's
// columns null; a division by zero is null. Many nulls in every batch, in
// columns of every type. (A second null in a batch once wrote past the end
// of the column's validity: a wrong row count, a crash, or a double free.)
TEST_F(ItemFeatures, NullsFromALeftJoinAndFromExpressionsAreWrittenAsNulls) {
  std::string yaml = read_text(SLUICE_SOURCE_DIR "/examples/item-features.yaml");
  const std::string inner = "    kind: inner\n";
  ASSERT_NE(yaml.find(inner), std::string::npos);
  yaml.replace(yaml.find(inner), inner.size(), "    kind: left\n");
  yaml +=
      "    entity_id: {type: int64, expr: entities.id}\n"
      "    heavy: {type: bool, expr: entities.weight > 50}\n"
      "    odd_only: {type: double, expr: 1 / (id % 2)}\n";
  JobSummary s = run("left-join", {}, {"batch.size=64"}, yaml);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written, e.written + e.not_joined);
  EXPECT_EQ(s.counts.not_joined, 0u);
  EXPECT_TRUE(s.accounted);
  std::uint64_t even = 0;
  for (std::uint64_t id = 2; id <= n_; id += 2) even += oracle::fate(id) != oracle::Fate::kFiltered;
  auto counts = duckdb_rows(
      "SELECT count(*) AS n, count(*) FILTER (WHERE region IS NULL) AS region, count(*) FILTER (WHERE weight IS NULL) "
      "AS weight, count(*) FILTER (WHERE entity_id IS NULL) AS entity, count(*) FILTER (WHERE heavy IS NULL) AS heavy, "
      "count(*) FILTER (WHERE odd_only IS NULL) AS odd, count(*) FILTER (WHERE odd_only IS NULL AND id % 2 = 1) AS "
      "wrong FROM read_parquet('" +
      out_ + "/item-features-*.parquet')");
  ASSERT_EQ(counts.size(), 1u);
  auto q = [](std::uint64_t v) { return "\"" + std::to_string(v) + "\""; };
  const std::string want = "{\"n\":" + q(e.written + e.not_joined) + ",\"region\":" + q(e.not_joined) +
                           ",\"weight\":" + q(e.not_joined) + ",\"entity\":" + q(e.not_joined) +
                           ",\"heavy\":" + q(e.not_joined) + ",\"odd\":" + q(even) + ",\"wrong\":\"0\"}\n";
  EXPECT_EQ(counts[0], want);
  // The rows an inner join would write are unchanged.
  EXPECT_EQ(
      check_output(out_, n_,
                   "(SELECT * FROM read_parquet('" + out_ + "/item-features-*.parquet') WHERE region IS NOT NULL)"),
      e.written);
}

// A real nginx whose keep-alive idle timeout (1 ms) closes connections just
// as they are reused: the race every keep-alive client meets at a server's
// or load balancer's idle timeout, here at nearly every request. A
// connection the server has closed is seen so before it is reused (it is
// readable) and not used; a request lost as it went out (not a byte of
// answer) is sent again on a new connection, without spending an attempt.
// None is lost, and few are sent twice.
TEST_F(ItemFeatures, ConnectionsClosedAsTheyAreReusedLoseNoRecord) {
  n_ = 2000;
  const std::string dir = scratch("nginx-www");
  testing::Nginx nginx(dir, n_, "1ms");
  ASSERT_TRUE(nginx.ok()) << "nginx did not start: " << nginx.error_log();
  JobSummary s = run_against(nginx.base_url(), "nginx", {"http.retry.max_attempts=1"});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.dead_lettered, 0u) << (dead_letters().empty() ? "" : dead_letters()[0]);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_TRUE(s.accounted);
  EXPECT_GT(s.http.stale_discarded + s.http.stale_resends, s.http.requests / 2) << "the closes must really happen";
  EXPECT_LT(s.http.stale_resends, s.http.requests / 10) << "closed connections are seen before they are reused";
  EXPECT_EQ(s.http.attempts, s.http.requests + s.http.stale_resends) << "every send is counted";
  EXPECT_EQ(check_output(out_, n_), e.written);
  std::printf("requests %llu, idle connections found closed %llu, resent on a new connection %llu\n",
              static_cast<unsigned long long>(s.http.requests), static_cast<unsigned long long>(s.http.stale_discarded),
              static_cast<unsigned long long>(s.http.stale_resends));
}

// nginx with its default keep-alive (75 s): every connection is reused as
// long as the run needs it; none is found closed, nothing is sent twice.
TEST_F(ItemFeatures, AServerThatKeepsConnectionsAliveIsNeverAskedTwice) {
  n_ = 1000;
  const std::string dir = scratch("nginx-www-75");
  testing::Nginx nginx(dir, n_, "75s");
  ASSERT_TRUE(nginx.ok()) << "nginx did not start: " << nginx.error_log();
  JobSummary s = run_against(nginx.base_url(), "nginx-75", {"http.retry.max_attempts=1"});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.http.stale_resends, 0u);
  EXPECT_EQ(s.http.stale_discarded, 0u);
  EXPECT_LE(s.http.connections_opened, 256u) << "one connection per request in flight, at most";
  EXPECT_EQ(check_output(out_, n_), expected_counts(n_).written);
}

TEST_F(ItemFeatures, FaultsWithRetriesStillGiveCompleteCorrectOutput) {
  mockapi::ServerOptions o;
  o.faults = {.error_500 = 0.05,
              .too_many = 0.03,
              .malformed = 0.03,
              .truncated = 0.02,
              .slow_body = 0.01,
              .close = 0.03,
              .retry_after_seconds = 0,
              .trickle_interval = std::chrono::milliseconds(5),
              .max_faults_per_path = 2,
              .seed = 7};
  JobSummary s = run("faults", o,
                     {"http.retry.max_attempts=6", "http.retry.base_backoff_ms=1", "http.retry.max_backoff_ms=5",
                      "http.retry.budget=1"});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_GT(server_stats_.faults, 50u) << "the faults must really happen";
  EXPECT_GT(s.http.retries, 0u) << "500s, 429s and closed connections are retried";
  EXPECT_GT(s.counts.answer_retries, 0u) << "malformed 200 answers are asked for again";
  EXPECT_EQ(s.counts.bytes_in_flight, 0u) << "answers asked for again are accounted for too";
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.dead_lettered, 0u) << (dead_letters().empty() ? "" : dead_letters()[0]);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(check_output(out_, n_), e.written);
}

TEST_F(ItemFeatures, WithoutRetriesFaultyRecordsAreDeadLetteredAndAccountedFor) {
  mockapi::ServerOptions o;
  o.faults = {.error_500 = 0.04, .malformed = 0.03, .close = 0.02, .max_faults_per_path = 1, .seed = 11};
  auto server = mockapi::Server::start(o);
  ASSERT_TRUE(server.ok());
  auto job = job_for((*server)->base_url(), "noretry", {"http.retry.max_attempts=1"});
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  JobSummary s = (*job)->run();
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  // Each step's requests by how they ended: every request once, the 500s
  // as 5xx, the connections closed with no answer.
  std::uint64_t by_class[5] = {};
  for (const StepAnswers& a : (*job)->step_answers()) {
    for (std::size_t c = 0; c < 4; ++c) by_class[c] += a.answered[c];
    by_class[4] += a.no_answer;
  }
  EXPECT_GT(by_class[0], 0u);
  EXPECT_GT(by_class[3], 0u) << "the API's 500s";
  EXPECT_GT(by_class[4], 0u) << "the connections it closed";
  EXPECT_EQ(by_class[0] + by_class[1] + by_class[2] + by_class[3] + by_class[4], s.http.requests);
  EXPECT_GT(s.counts.dead_lettered, 10u);
  EXPECT_TRUE(s.accounted) << s.counts.read << " read vs " << s.counts.done();
  EXPECT_EQ(s.counts.bytes_in_flight, 0u) << "dead records let their answers go too";
  EXPECT_EQ(s.counts.read, n_);
  auto lines = dead_letters();
  ASSERT_EQ(lines.size(), s.counts.dead_lettered);
  simdjson::dom::parser parser;
  std::set<std::int64_t> dead_ids;
  for (const auto& l : lines) {
    simdjson::dom::element d;
    ASSERT_FALSE(parser.parse(l).get(d)) << l;
    dead_ids.insert(int64_t(d["key"]["id"]));
    std::string_view step = d["step"].get_string();
    EXPECT_TRUE(step == "item" || step == "event_pages") << l;
    EXPECT_FALSE(std::string_view(d["error"].get_string()).empty()) << l;
    EXPECT_NE(std::string_view(d["url"].get_string()).find("/v1/items/"), std::string_view::npos) << l;
  }
  EXPECT_EQ(dead_ids.size(), lines.size()) << "one line per record";
  // The rows that were written are right, and no record is both written and dead.
  auto rows = duckdb_rows("SELECT id FROM read_parquet('" + out_ + "/item-features-*.parquet') ORDER BY id");
  EXPECT_EQ(rows.size(), s.counts.written);
  for (const auto& r : rows) {
    std::int64_t id = std::stoll(r.substr(r.find(':') + 2));
    EXPECT_FALSE(dead_ids.count(id)) << id;
    EXPECT_EQ(oracle::fate(static_cast<std::uint64_t>(id)), oracle::Fate::kWritten) << id;
  }
}

}  // namespace
}  // namespace sluice::pipeline
