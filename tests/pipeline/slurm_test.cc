// A real scheduler: a one-node Slurm cluster on loopback (slurm-wlm and
// munge, tests/slurm/slurm_cluster.sh) runs the reference workload as
// deploy/slurm/submit.sh submits it: an array of four shards, then the job
// commit after them. One task is requeued while it runs (Slurm stops it
// and starts it again, a new attempt that carries on the first's files).
// The output after the commit job is the oracle's, every id once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "../../src/mockapi/server.h"
#include "child_process.h"
#include "e2e_util.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

class SlurmCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "slurmd runs as root only";
    dir_ = ::testing::TempDir() + "/sluice-slurm-" + std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string start = SLUICE_SOURCE_DIR "/tests/slurm/slurm_cluster.sh start " + dir_ + "/cluster " +
                              std::to_string(SLUICE_SLURM_PORT) + " > " + dir_ + "/cluster.log 2>&1";
    ASSERT_EQ(std::system(start.c_str()), 0) << slurp(dir_ + "/cluster.log");
    started_ = true;
    ::setenv("SLURM_CONF", (dir_ + "/cluster/slurm.conf").c_str(), 1);
  }
  void TearDown() override {
    if (!started_) return;
    const std::string stop = SLUICE_SOURCE_DIR "/tests/slurm/slurm_cluster.sh stop " + dir_ + "/cluster";
    EXPECT_EQ(std::system(stop.c_str()), 0);
    ::unsetenv("SLURM_CONF");
  }

  // A command's standard output (and its exit code in `code`).
  std::string output_of(const std::string& command, int* code = nullptr) {
    const std::string file = dir_ + "/out.txt";
    const int status = std::system((command + " > " + file + " 2>&1").c_str());
    if (code != nullptr) *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return slurp(file);
  }
  std::string state_of(const std::string& job) { return output_of("squeue -h -j " + job + " -o %T"); }

  std::string dir_;
  bool started_ = false;
};

TEST_F(SlurmCluster, AnArrayWithARequeuedTaskAndTheCommitAfterItGiveTheOraclesRows) {
  constexpr std::uint64_t kRecords = 4000;
  oracle::write_inputs(dir_, kRecords);
  auto api = mockapi::Server::start({.latency = std::chrono::milliseconds(5)});
  ASSERT_TRUE(api.ok());
  const std::string out = dir_ + "/out";
  int code = 0;
  const std::string submitted = output_of(
      "cd " + dir_ +
          " && SLUICE=" SLUICE_BINARY " " SLUICE_SOURCE_DIR "/deploy/slurm/submit.sh " SLUICE_SOURCE_DIR
          "/examples/item-features.yaml " +
          out + " 4 -- -q --set input.path=" + dir_ + "/records.csv" + " --set datasets.entities.path=" + dir_ +
          "/entities.csv --set http.base_url=" + (*api)->base_url() +
          " --set output.file_rows=100 --set records_in_flight=16",
      &code);
  ASSERT_EQ(code, 0) << submitted;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(submitted, m, std::regex(R"(shards: (\d+) .*; commit: (\d+))"))) << submitted;
  const std::string array = m[1], commit = m[2];

  // Task 1, once it has committed a file, is requeued: Slurm stops it
  // (SIGTERM: it commits what it finished) and queues it again, held back
  // by a begin time that is moved to now.
  const std::string task = array + "_1";
  ASSERT_TRUE(eventually([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out, ec)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with("item-features-shard-1-of-4-") && name.ends_with(".parquet")) return true;
    }
    return false;
  })) << output_of("squeue; tail -n 20 " + dir_ + "/slurm-*");
  ASSERT_EQ(state_of(task), "RUNNING\n") << "the task ended before it could be requeued";
  ASSERT_EQ(output_of("scontrol requeue " + task, &code), "");
  ASSERT_EQ(code, 0);
  ASSERT_TRUE(eventually([&] { return state_of(task) == "PENDING\n"; })) << state_of(task);
  // Released two seconds on: slurmd refuses a job started again in the
  // second its credential was revoked ("Job credential revoked"), which a
  // run that exits at once on SIGTERM can otherwise meet.
  ASSERT_EQ(output_of("scontrol update jobid=" + task + " StartTime=now+2", &code), "");

  // The commit job runs once every task has succeeded.
  ASSERT_TRUE(eventually([&] { return output_of("squeue -h -j " + array + "," + commit).empty(); }))
      << output_of("squeue");
  const std::string committed = output_of("cat " + dir_ + "/slurm-" + commit + "-commit.out");
  EXPECT_NE(committed.find("job committed: 4 shards, 4000 records"), std::string::npos) << committed;
  EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
  // Shard 1 was committed by its second run (Slurm's restart count 1),
  // which carried on the first's files.
  const std::string shard1 = slurp(out + "/_item-features-shard-1-of-4-commit.json");
  EXPECT_NE(shard1.find("\"scheduler_attempt\":\"1\""), std::string::npos) << shard1;
  const std::string runs = slurp(dir_ + "/slurm-" + array + "_1.out");  // both runs' logs, appended
  EXPECT_NE(runs.find("DUE TO JOB REQUEUE"), std::string::npos) << runs;
  EXPECT_NE(runs.find("records skipped: an earlier run finished them"), std::string::npos) << runs;

  const std::string all = "read_parquet('" + out + "/*.parquet')";
  auto counts = duckdb_rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM " + all);
  ASSERT_EQ(counts.size(), 1u);
  const std::string written = std::to_string(expected_counts(kRecords).written);
  EXPECT_NE(counts[0].find("\"n\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_NE(counts[0].find("\"d\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_EQ(check_output(out, kRecords, all), expected_counts(kRecords).written);
}

}  // namespace
}  // namespace sluice::pipeline
