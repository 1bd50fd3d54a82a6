// What a run does when the API misbehaves as real ones do, with the
// pipeline file's defaults (examples/item-features.yaml as it is): transient
// faults and outages lose no record; a permanent fault dead-letters exactly
// the records it touches; an API that stays down stops the run, which a
// resume then finishes; too many dead letters stop a run early.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>

#include "item_features_fixture.h"

namespace sluice::pipeline {
namespace {

using namespace std::chrono_literals;

struct FaultCase {
  const char* name;
  mockapi::ServerOptions server;
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

class FaultMatrix : public ItemFeatures, public ::testing::WithParamInterface<FaultCase> {};

// Each transient fault (a path fails at most twice, as the mock's default),
// all of them at once, and outages of the whole API: zero dead letters, and
// every row equal to the oracle's.
TEST_P(FaultMatrix, DefaultsRideItOutWithNoDeadLetterAndExactOutput) {
  const FaultCase& c = GetParam();
  JobSummary s = run(c.name, c.server);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.dead_lettered, 0u) << (dead_letters().empty() ? "" : dead_letters()[0]);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_EQ(s.counts.filtered, e.filtered);
  EXPECT_EQ(s.counts.not_joined, e.not_joined);
  EXPECT_TRUE(s.accounted);
  EXPECT_GT(server_stats_.faults + server_stats_.outage_answers, 0u) << "the faults must really happen";
  if (c.server.outage.after > 0) {
    EXPECT_GE(s.http.outages, 1u) << "the API was seen to be down, and waited for";
  } else {
    EXPECT_EQ(s.http.outages, 0u) << "an API that fails a share of its requests is not down";
  }
  EXPECT_EQ(check_output(out_, n_), e.written);
}

std::vector<FaultCase> fault_cases() {
  auto with = [](mockapi::FaultOptions f) {
    f.trickle_interval = 100ms;
    return mockapi::ServerOptions{.faults = f};
  };
  auto outage = [](std::chrono::milliseconds d, bool close) {
    return mockapi::ServerOptions{.outage = {.after = 1000, .duration = d, .close = close}};
  };
  return {
      {"errors_500", with({.error_500 = 0.05})},
      {"too_many_429", with({.too_many = 0.05, .retry_after_seconds = 1})},
      {"resets", with({.close = 0.05})},
      {"malformed", with({.malformed = 0.05})},
      {"slow", with({.slow_body = 0.01})},
      {"all_together", with({.error_500 = 0.05,
                             .too_many = 0.05,
                             .malformed = 0.05,
                             .truncated = 0.02,
                             .slow_body = 0.01,
                             .close = 0.05,
                             .retry_after_seconds = 1})},
      // The same at rates an API in trouble has: every request still ends
      // well, none waits for an outage that is not one.
      {"errors_500_at_30_percent", with({.error_500 = 0.3})},
      {"malformed_at_30_percent", with({.malformed = 0.3})},
      {"too_many_429_at_30_percent", with({.too_many = 0.3, .retry_after_seconds = 1})},
      {"all_together_at_30_percent", with({.error_500 = 0.3,
                                           .too_many = 0.03,
                                           .malformed = 0.05,
                                           .slow_body = 0.02,
                                           .close = 0.1,
                                           .retry_after_seconds = 1})},
      // Long enough to be seen as one on a slow (sanitizer) build too: the
      // first failures that count are retries (up to 100 ms of backoff),
      // and the first probe follows 250 ms on; an outage that probe finds
      // over was a blip, not counted as an outage.
      {"outage_one_and_a_half_seconds_503", outage(1500ms, false)},
      {"outage_three_seconds_closed", outage(3000ms, true)},
  };
}

INSTANTIATE_TEST_SUITE_P(Defaults, FaultMatrix, ::testing::ValuesIn(fault_cases()),
                         [](const ::testing::TestParamInfo<FaultCase>& info) { return std::string(info.param.name); });

// Items 25, 50, 75, ... always answer 500: those records, and only those,
// are dead-lettered, each after its attempts; every other row is written
// right. An outage is not what this is: the other requests go through.
TEST_F(ItemFeatures, APermanentFaultDeadLettersExactlyTheRecordsItTouches) {
  JobSummary s = run("permanent", {.faults = {.fail_ids_every = 25}});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  std::set<std::int64_t> want;
  for (std::int64_t id = 25; id <= static_cast<std::int64_t>(n_); id += 25) want.insert(id);
  std::set<std::int64_t> got;
  simdjson::dom::parser parser;
  for (const auto& line : dead_letters()) {
    simdjson::dom::element d;
    ASSERT_FALSE(parser.parse(line).get(d)) << line;
    got.insert(int64_t(d["key"]["id"]));
    EXPECT_NE(std::string_view(d["error"].get_string()).find("attempt 5: status 500"), std::string_view::npos) << line;
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(s.counts.dead_lettered, want.size());
  EXPECT_EQ(s.http.outages, 0u) << "records that fail while others are answered are not an outage";
  auto lost = [](std::uint64_t id) { return id % 25 == 0; };
  std::uint64_t written = 0;
  for (std::uint64_t id = 1; id <= n_; ++id) written += !lost(id) && oracle::fate(id) == oracle::Fate::kWritten;
  EXPECT_EQ(s.counts.written, written);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(check_output(out_, n_, "", lost), written);
}

// Every path answers 200 with a body that is not JSON four times, then
// well: with five attempts a request, each request gets there (counted per
// request, not per record: a record with four pages asks 25 times).
TEST_F(ItemFeatures, AnswersThatCannotBeReadAreAskedForAgainPerRequest) {
  n_ = 200;
  JobSummary s = run("unreadable", {.faults = {.malformed = 1.0, .max_faults_per_path = 4}});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.counts.dead_lettered, 0u) << (dead_letters().empty() ? "" : dead_letters()[0]);
  EXPECT_EQ(check_output(out_, n_), expected_counts(n_).written);
  EXPECT_EQ(server_stats_.requests, 5 * expected_counts(n_).requests);
  EXPECT_EQ(s.counts.answer_retries, 4 * expected_counts(n_).requests);
}

// Five unreadable answers in a row: the record is dead-lettered with what
// was wrong with each of them, not only the last.
TEST_F(ItemFeatures, ADeadLetterForUnreadableAnswersSaysWhatEachOneWas) {
  n_ = 20;
  JobSummary s = run("unreadable-dead", {.faults = {.malformed = 1.0, .max_faults_per_path = 5}});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.counts.dead_lettered, n_);
  EXPECT_EQ(server_stats_.requests, 5 * n_) << "five answers to each record's first request";
  for (const auto& line : dead_letters()) {
    for (int answer = 1; answer <= 5; ++answer) {
      EXPECT_NE(line.find("answer " + std::to_string(answer) + ": "), std::string::npos) << line;
    }
    EXPECT_EQ(line.find("answer 6"), std::string::npos) << line;
    EXPECT_NE(line.find("\"step\":\"item\""), std::string::npos) << line;
  }
}

// The API goes down for longer than give_up_after: the run stops, commits
// what it finished, dead-letters nothing, leaves the rest unfinished, and
// fails; a resume once the API is back writes exactly the rest.
TEST_F(ItemFeatures, AnApiDownPastGiveUpAfterStopsTheRunAndAResumeFinishesIt) {
  JobSummary s = run("gone", {.outage = {.after = 1500, .duration = 60000ms, .close = false}},
                     {"http.outage.give_up_after_ms=1000", "output.file_rows=100"});
  ASSERT_FALSE(s.status.ok());
  EXPECT_EQ(s.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status.message().find("the API has been down for 1 s"), std::string::npos) << s.status.message();
  EXPECT_EQ(s.counts.dead_lettered, 0u) << "the API's outage is not the records' fault";
  EXPECT_GT(s.counts.unfinished, 0u);
  EXPECT_LT(s.counts.read, n_) << "no more input was read";
  EXPECT_TRUE(s.accounted);
  EXPECT_GT(s.counts.written, 0u);
  // What was committed is right.
  auto rows = duckdb_rows("SELECT count(*) AS n FROM read_parquet('" + out_ + "/item-features-*.parquet')");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], "{\"n\":\"" + std::to_string(s.counts.written) + "\"}\n");

  JobSummary rest = run("gone", {}, {"output.file_rows=100"}, "", {.resume = true}, /*fresh=*/false);
  ASSERT_TRUE(rest.status.ok()) << rest.status.to_string();
  EXPECT_EQ(rest.counts.dead_lettered, 0u);
  const Expected e = expected_counts(n_);
  EXPECT_EQ(s.counts.written + rest.counts.written, e.written);
  EXPECT_EQ(check_output(out_, n_), e.written) << "both runs together: every row once";
}

// Half the items always fail: with max_dead_letters 5 %, the run stops
// early instead of dead-lettering half its input, and says why.
TEST_F(ItemFeatures, TooManyDeadLettersStopTheRunEarly) {
  n_ = 5000;
  JobSummary s =
      run("too-many-dead", {.faults = {.fail_ids_every = 2}},
          {"max_dead_letters=5%", "http.retry.max_attempts=1", "http.max_in_flight=16", "records_in_flight=16"});
  ASSERT_FALSE(s.status.ok());
  EXPECT_NE(s.status.message().find("more than max_dead_letters (5%)"), std::string::npos) << s.status.message();
  EXPECT_LT(s.counts.read, n_);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(dead_letters().size(), s.counts.dead_lettered) << "what was dead-lettered is in the file";
}

TEST_F(ItemFeatures, AnEarlierRunsOutputIsRefusedUnlessResumedOverwrittenOrAppended) {
  n_ = 300;
  auto server = *mockapi::Server::start({});
  JobSummary first = run_against(server->base_url(), "modes");
  ASSERT_TRUE(first.status.ok()) << first.status.to_string();
  const Expected e = expected_counts(n_);

  // The default: refused, naming the way out.
  auto refused = job_for(server->base_url(), "modes", {}, "", {}, /*fresh=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("already holds a run named 'item-features'"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("--resume"), std::string::npos);

  // Overwrite: the earlier files go, the output holds this run's only.
  JobSummary again = run_against(server->base_url(), "modes", {"output.mode=overwrite"}, "", {}, /*fresh=*/false);
  ASSERT_TRUE(again.status.ok()) << again.status.to_string();
  EXPECT_EQ(again.overwritten, 1u);
  EXPECT_EQ(check_output(out_, n_), e.written);

  // Append: both runs' files, the new one under another name.
  JobSummary more = run_against(server->base_url(), "modes", {"output.mode=append"}, "", {}, /*fresh=*/false);
  ASSERT_TRUE(more.status.ok()) << more.status.to_string();
  ASSERT_EQ(more.files.size(), 1u);
  EXPECT_NE(more.files[0].name.find("item-features-r1-00000.parquet"), std::string::npos) << more.files[0].name;
  auto counts =
      duckdb_rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM read_parquet('" + out_ + "/*.parquet')");
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0],
            "{\"n\":\"" + std::to_string(2 * e.written) + "\",\"d\":\"" + std::to_string(e.written) + "\"}\n");

  // Overwrite again removes both runs' files.
  JobSummary fresh = run_against(server->base_url(), "modes", {"output.mode=overwrite"}, "", {}, /*fresh=*/false);
  ASSERT_TRUE(fresh.status.ok()) << fresh.status.to_string();
  EXPECT_EQ(fresh.overwritten, 2u);
  EXPECT_EQ(check_output(out_, n_, "read_parquet('" + out_ + "/*.parquet')"), e.written);

  // A file of this name that no manifest names: refused in every mode.
  fs::copy_file(out_ + "/item-features-00000.parquet", out_ + "/item-features-00007.parquet");
  for (const char* mode : {"error", "overwrite", "append"}) {
    auto stray = job_for(server->base_url(), "modes", {std::string("output.mode=") + mode}, "", {}, false);
    ASSERT_FALSE(stray.ok()) << mode;
    EXPECT_NE(stray.status().message().find("that no manifest of 'item-features' names"), std::string::npos)
        << stray.status().message();
  }
}

// sluice's own files start with '_': readers of the dataset skip them.
TEST_F(ItemFeatures, TheManifestAndDeadLettersAreHiddenFromDatasetReaders) {
  n_ = 300;
  JobSummary s = run("hidden", {.faults = {.fail_ids_every = 10}}, {"http.retry.max_attempts=1"});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  ASSERT_GT(s.counts.dead_lettered, 0u);
  std::set<std::string> names;
  for (const auto& f : fs::directory_iterator(out_)) names.insert(f.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"_item-features-dead-letter.jsonl", "_item-features-manifest.json",
                                          "item-features-00000.parquet"}));
}

// A run dead-letters records; a resume, with the API well again, writes
// them: the earlier dead-letter file, now wrong, is gone.
TEST_F(ItemFeatures, AResumeThatWritesTheDeadLetteredRecordsRemovesTheirDeadLetters) {
  n_ = 600;
  JobSummary first = run("dead-then-resumed", {.faults = {.fail_ids_every = 7}}, {"http.retry.max_attempts=1"});
  ASSERT_TRUE(first.status.ok()) << first.status.to_string();
  ASSERT_GT(first.counts.dead_lettered, 0u);
  ASSERT_TRUE(fs::exists(out_ + "/_item-features-dead-letter.jsonl"));
  JobSummary second = run("dead-then-resumed", {}, {}, "", {.resume = true}, /*fresh=*/false);
  ASSERT_TRUE(second.status.ok()) << second.status.to_string();
  EXPECT_EQ(second.counts.read, first.counts.dead_lettered) << "only the dead-lettered records were left to do";
  EXPECT_EQ(second.counts.dead_lettered, 0u);
  EXPECT_FALSE(fs::exists(out_ + "/_item-features-dead-letter.jsonl")) << "its records are written now";
  EXPECT_EQ(read_text(out_ + "/_item-features-manifest.json").find("dead-letter"), std::string::npos);
  EXPECT_EQ(check_output(out_, n_), expected_counts(n_).written);
}

// The input as files come: a byte order mark, blank lines, a record without
// its key, a key twice. Each record is accounted for; none makes a request
// it cannot make (GET /v1/items/null).
TEST_F(ItemFeatures, InputEdgeCasesAreReadOrDeadLetteredNeverGuessed) {
  n_ = 10;
  data_ = scratch("input-edges");
  oracle::write_inputs(data_, n_);
  std::ofstream(data_ + "/records.csv", std::ios::trunc)
      << "\xEF\xBB\xBFid,tag\n1,a\n\n2,b\n\n2,again\n,no-id\n3,c\n\n";
  std::string yaml = read_text(SLUICE_SOURCE_DIR "/examples/item-features.yaml");
  const std::string columns = "  columns: {id: int64}\n";
  ASSERT_NE(yaml.find(columns), std::string::npos);
  yaml.replace(yaml.find(columns), columns.size(), "  columns: {id: int64, tag: string}\n");
  JobSummary s = run("input-edges", {}, {}, yaml, {}, /*fresh=*/false);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.counts.read, 5u) << "records 1, 2, 2, (none), 3: blank lines are not records";
  EXPECT_EQ(s.counts.dead_lettered, 2u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_TRUE(s.accounted);
  const auto lines = dead_letters();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("records.csv:6: duplicate key id=2"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("records.csv:7: the key column 'id' is empty"), std::string::npos) << lines[1];
  std::uint64_t requests = 0;
  for (std::uint64_t id : {1, 2, 3})
    requests += oracle::fate(id) == oracle::Fate::kFiltered ? 1 : 2 + (oracle::mix(id) >> 16) % 4;
  EXPECT_EQ(server_stats_.requests, requests) << "only records 1, 2 and 3 asked the API";
  EXPECT_EQ(server_stats_.not_found, 0u);

  // input.duplicates: keep: both copies of record 2 are processed.
  JobSummary kept =
      run("input-edges", {}, {"input.duplicates=keep", "output.mode=overwrite"}, yaml, {}, /*fresh=*/false);
  ASSERT_TRUE(kept.status.ok()) << kept.status.to_string();
  EXPECT_EQ(kept.counts.dead_lettered, 1u);
  EXPECT_EQ(kept.duplicates, 0u);
}

}  // namespace
}  // namespace sluice::pipeline
