// A job in four shards as the schedulers run them (their environment set as
// each sets it; `--shard auto --resume`, as deploy/ does): one shard killed
// with SIGKILL and retried, one run twice at the same time, then
// `sluice commit`. The dataset DuckDB reads afterwards is the oracle's, every
// id once; the losers' files are gone; `_SUCCESS` is there.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "../../src/mockapi/server.h"
#include "child_process.h"
#include "e2e_util.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

class JobShards : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kRecords = 4000;

  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sluice-job-shards-" + std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    oracle::write_inputs(dir_, kRecords);
    auto api = mockapi::Server::start({.latency = std::chrono::milliseconds(5)});
    ASSERT_TRUE(api.ok());
    api_ = std::move(*api);
  }
  void TearDown() override { clear_env(); }

  // A task of the job as `scheduler` starts task `index` of four.
  Child task(const std::string& scheduler, std::uint32_t index, const std::string& name,
             const std::vector<std::string>& more = {}) {
    clear_env();
    const std::string i = std::to_string(index);
    std::map<std::string, std::string> env;
    if (scheduler == "batch") env = {{"AWS_BATCH_JOB_ARRAY_INDEX", i}, {"AWS_BATCH_JOB_ARRAY_SIZE", "4"}};
    if (scheduler == "k8s") env = {{"JOB_COMPLETION_INDEX", i}, {"SLUICE_SHARD_COUNT", "4"}};
    if (scheduler == "slurm") {
      env = {{"SLURM_ARRAY_TASK_ID", std::to_string(index + 10)},
             {"SLURM_ARRAY_TASK_MIN", "10"},
             {"SLURM_ARRAY_TASK_COUNT", "4"}};
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    set_.insert(set_.end(), env.begin(), env.end());
    std::vector<std::string> args = {"run",
                                     SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                                     "-q",
                                     "--set",
                                     "input.path=" + dir_ + "/records.csv",
                                     "--set",
                                     "datasets.entities.path=" + dir_ + "/entities.csv",
                                     "--set",
                                     "http.base_url=" + api_->base_url(),
                                     "--set",
                                     "output.file_rows=100",
                                     "--set",
                                     "records_in_flight=16",
                                     "--output",
                                     out(),
                                     "--summary-json",
                                     dir_ + "/" + name + ".json",
                                     "--shard",
                                     "auto",
                                     "--resume"};
    args.insert(args.end(), more.begin(), more.end());
    Child c = spawn(args, dir_ + "/" + name + ".log");
    clear_env();
    return c;
  }

  void clear_env() {
    for (const auto& [k, v] : set_) ::unsetenv(k.c_str());
    set_.clear();
  }

  int command(const std::string& which, const std::string& log) {
    return spawn({which, out()}, dir_ + "/" + log).wait();
  }

  std::string summary(const std::string& name) { return slurp(dir_ + "/" + name + ".json"); }
  // The attempt id a summary names.
  std::string attempt_of(const std::string& name) {
    const std::string s = summary(name);
    const auto at = s.find("\"attempt\":\"");
    return at == std::string::npos ? "" : s.substr(at + 11, 8);
  }
  std::string out() const { return dir_ + "/out"; }
  // Keys under out(), as sluice names them (partition dirs included).
  std::set<std::string> files() const {
    std::set<std::string> keys;
    for (const auto& e : fs::recursive_directory_iterator(out())) {
      if (e.is_regular_file()) keys.insert(fs::relative(e.path(), out()).string());
    }
    return keys;
  }

  std::string dir_;
  std::unique_ptr<mockapi::Server> api_;
  std::vector<std::pair<std::string, std::string>> set_;
};

TEST_F(JobShards, KilledRetriedAndDoubledShardsCommitToExactlyTheOraclesRows) {
  ASSERT_EQ(task("batch", 0, "s0").wait(), 0) << slurp(dir_ + "/s0.log");
  EXPECT_NE(summary("s0").find("\"commit\":\"committed\""), std::string::npos) << summary("s0");

  // Shard 1: killed outright once a file is committed and the next is open.
  Child killed = task("batch", 1, "s1-killed");
  auto open_and_committed = [&] {
    bool open = false, committed = false;
    for (const std::string& k : files()) {
      open = open || (k.find("shard-1-of-4") != std::string::npos && k.find(".tmp-") != std::string::npos);
      committed = committed || (k.starts_with("item-features-shard-1-of-4-") && k.ends_with(".parquet"));
    }
    return open && committed;
  };
  ASSERT_TRUE(eventually([&] { return open_and_committed() || fs::exists(dir_ + "/s1-killed.json"); }));
  ::kill(killed.pid, SIGKILL);
  ASSERT_EQ(killed.wait(), 128 + SIGKILL);
  ASSERT_FALSE(fs::exists(dir_ + "/s1-killed.json")) << "the attempt was killed before its end";

  // Not complete: the commit says which shards are missing, and status
  // shows the killed attempt's progress.
  EXPECT_EQ(command("commit", "commit-early.log"), 1);
  const std::string early = slurp(dir_ + "/commit-early.log");
  EXPECT_NE(early.find("not committed: shard 1 (attempt "), std::string::npos) << early;
  EXPECT_NE(early.find("shard 2 (no attempt has started); shard 3 (no attempt has started)"), std::string::npos)
      << early;
  EXPECT_FALSE(fs::exists(out() + "/_SUCCESS"));
  ASSERT_EQ(command("status", "status-early.log"), 0);
  const std::string status_early = slurp(dir_ + "/status-early.log");
  EXPECT_NE(status_early.find("job item-features: 1 of 4 shards committed; waiting for shards 1, 2, 3"),
            std::string::npos)
      << status_early;
  EXPECT_NE(status_early.find("shard 1 of 4: not committed; attempt "), std::string::npos) << status_early;
  EXPECT_EQ(status_early.find(": 0 records done"), std::string::npos) << "it had committed a file: " << status_early;

  // The scheduler's retry carries on the killed attempt's committed files.
  ASSERT_EQ(task("batch", 1, "s1-retry").wait(), 0) << slurp(dir_ + "/s1-retry.log");
  const std::string retry = summary("s1-retry");
  EXPECT_NE(retry.find("\"commit\":\"committed\""), std::string::npos) << retry;
  EXPECT_EQ(retry.find("\"skipped_done_earlier\":0,"), std::string::npos) << "it carried on: " << retry;

  // Shard 2: two attempts at once (a pod rescheduled while the first runs).
  Child a = task("k8s", 2, "s2-a");
  Child b = task("k8s", 2, "s2-b");
  ASSERT_EQ(a.wait(), 0) << slurp(dir_ + "/s2-a.log");
  ASSERT_EQ(b.wait(), 0) << slurp(dir_ + "/s2-b.log");
  const bool a_won = summary("s2-a").find("\"commit\":\"committed\"") != std::string::npos;
  const std::string winner = a_won ? "s2-a" : "s2-b", loser = a_won ? "s2-b" : "s2-a";
  EXPECT_NE(summary(winner).find("\"commit\":\"committed\""), std::string::npos) << summary(winner);
  EXPECT_NE(summary(loser).find("\"commit\":\"lost to attempt " + attempt_of(winner) + "\""), std::string::npos)
      << summary(loser);
  const std::string lost_attempt = attempt_of(loser);
  ASSERT_EQ(lost_attempt.size(), 8u);
  for (const std::string& k : files()) EXPECT_EQ(k.find(lost_attempt), std::string::npos) << "the loser's " << k;

  ASSERT_EQ(task("slurm", 3, "s3").wait(), 0) << slurp(dir_ + "/s3.log");

  // The job commit: one dataset, nothing else of the shards' left.
  ASSERT_EQ(command("commit", "commit.log"), 0) << slurp(dir_ + "/commit.log");
  EXPECT_NE(slurp(dir_ + "/commit.log").find("job committed: 4 shards, 4000 records"), std::string::npos)
      << slurp(dir_ + "/commit.log");
  EXPECT_TRUE(fs::exists(out() + "/_SUCCESS"));
  const std::string manifest = slurp(out() + "/_item-features-manifest.json");
  EXPECT_NE(manifest.find("\"done_ranges\":[[0,4000]]"), std::string::npos) << manifest;
  for (const std::string& k : files()) {
    EXPECT_EQ(k.find(".tmp-"), std::string::npos) << "a killed writer's temporary is left: " << k;
    EXPECT_EQ(k.find("-manifest.json") != std::string::npos && k != "_item-features-manifest.json", false)
        << "an attempt's manifest is left: " << k;
    if (k.ends_with(".parquet")) {
      EXPECT_NE(manifest.find("\"" + k + "\""), std::string::npos) << "no commit names " << k;
    }
  }
  const std::string all = "read_parquet('" + out() + "/*.parquet')";
  auto counts = duckdb_rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM " + all);
  ASSERT_EQ(counts.size(), 1u);
  const std::string written = std::to_string(expected_counts(kRecords).written);
  EXPECT_NE(counts[0].find("\"n\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_NE(counts[0].find("\"d\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_EQ(check_output(out(), kRecords, all), expected_counts(kRecords).written);

  ASSERT_EQ(command("status", "status.log"), 0);
  EXPECT_NE(slurp(dir_ + "/status.log").find("4 of 4 shards committed; the job is committed (_SUCCESS)"),
            std::string::npos)
      << slurp(dir_ + "/status.log");
  // Committing again changes nothing and says so.
  ASSERT_EQ(command("commit", "commit-again.log"), 0) << slurp(dir_ + "/commit-again.log");
  EXPECT_NE(slurp(dir_ + "/commit-again.log").find("job committed (again)"), std::string::npos);
}

// What a shard refuses: output.mode overwrite or append (a shard is
// committed once, never replaced), and an output whose shard was committed
// over another input (exit 4: a retry cannot fix it).
TEST_F(JobShards, AShardRefusesToReplaceOrMixJobs) {
  ASSERT_EQ(task("batch", 0, "overwrite", {"--set", "output.mode=overwrite"}).wait(), 2);
  EXPECT_NE(slurp(dir_ + "/overwrite.log").find("output.mode: overwrite and append are for single runs"),
            std::string::npos)
      << slurp(dir_ + "/overwrite.log");
  ASSERT_EQ(task("batch", 0, "first").wait(), 0) << slurp(dir_ + "/first.log");
  std::ofstream(dir_ + "/records.csv", std::ios::app) << "4001\n";
  ASSERT_EQ(task("batch", 0, "other-input").wait(), 4);
  EXPECT_NE(slurp(dir_ + "/other-input.log").find("over another input"), std::string::npos)
      << slurp(dir_ + "/other-input.log");
}

// More shards than records, and an input with no record at all: a shard
// with nothing to do commits an empty shard (no file), and the job commits
// to exactly the records there are.
TEST_F(JobShards, ShardsWithoutRecordsCommitEmptyAndTheJobHoldsWhatThereIs) {
  auto shard = [&](std::uint32_t i, std::uint32_t n, const std::string& output) {
    return spawn({"run", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "-q", "--set",
                  "input.path=" + dir_ + "/records.csv", "--set", "datasets.entities.path=" + dir_ + "/entities.csv",
                  "--set", "http.base_url=" + api_->base_url(), "--output", output, "--shard",
                  std::to_string(i) + "/" + std::to_string(n)},
                 dir_ + "/shard-" + std::to_string(i) + ".log")
        .wait();
  };
  std::ofstream(dir_ + "/records.csv", std::ios::trunc) << "id\n1\n2\n3\n";
  for (std::uint32_t i = 0; i < 5; ++i) {
    ASSERT_EQ(shard(i, 5, out()), 0) << slurp(dir_ + "/shard-" + std::to_string(i) + ".log");
  }
  ASSERT_EQ(command("commit", "commit.log"), 0) << slurp(dir_ + "/commit.log");
  EXPECT_NE(slurp(dir_ + "/commit.log").find("job committed: 5 shards, 3 records"), std::string::npos)
      << slurp(dir_ + "/commit.log");
  EXPECT_NE(slurp(out() + "/_item-features-manifest.json").find("\"done_ranges\":[[0,3]]"), std::string::npos)
      << slurp(out() + "/_item-features-manifest.json");
  const std::string all = "read_parquet('" + out() + "/*.parquet')";
  EXPECT_EQ(check_output(out(), 3, all), expected_counts(3).written);

  std::ofstream(dir_ + "/records.csv", std::ios::trunc) << "id\n";
  const std::string empty = dir_ + "/empty";
  for (std::uint32_t i = 0; i < 2; ++i) {
    ASSERT_EQ(shard(i, 2, empty), 0) << slurp(dir_ + "/shard-" + std::to_string(i) + ".log");
  }
  ASSERT_EQ(spawn({"commit", empty}, dir_ + "/commit-empty.log").wait(), 0) << slurp(dir_ + "/commit-empty.log");
  EXPECT_NE(slurp(dir_ + "/commit-empty.log").find("job committed: 2 shards, 0 records"), std::string::npos)
      << slurp(dir_ + "/commit-empty.log");
  EXPECT_TRUE(fs::exists(empty + "/_SUCCESS"));
}

}  // namespace
}  // namespace sluice::pipeline
