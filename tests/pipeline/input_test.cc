// Input, alone: positions over several files in name order, a shard's share
// of them, the positions an earlier run finished skipped (their keys still
// seen), rows that go on dead at once (a duplicate or empty key, a ragged
// row) with their file and line, the limit, and a file gone before it is
// read stopping the input (and only it) with a reason that names it.
#include "pipeline/run/input.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plan_of.h"
#include "sluice/runtime.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

class InputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("input_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // A plan over dir_/in-*.csv, key id.
  std::unique_ptr<Plan> plan(const std::string& extra = "") {
    return valid_plan("input:\n  path: " + (dir_ / "in-*.csv").string() +
                      "\n  columns: {id: int64, name: string}\n  key: id\n" + extra +
                      "output:\n  path: " + (dir_ / "out").string() + "\n  columns:\n    id: int64\n");
  }

  // Every record the input sends, and what it gave stop_run.
  struct Read {
    std::vector<Record> records;
    Status stopped;
  };
  Read read_all(Input& input, const PositionSet& done = {}) {
    Runtime rt({.io_threads = 1, .cpu_threads = 1});
    std::atomic<bool> stopping{false};
    Read r;
    Status flow = rt.block_on(input.source(done, stopping, [&](const Status& why) { r.stopped = why; }) |
                              sink([&](Record rec) { r.records.push_back(std::move(rec)); }));
    EXPECT_TRUE(flow.ok()) << flow.to_string();
    return r;
  }

  fs::path dir_;
};

std::string ids(const std::vector<Record>& records) {
  std::string out;
  for (const Record& r : records) {
    out += (out.empty() ? "" : " ") + std::to_string(r.position) + ":" + std::to_string(r.input) + ":" +
           std::to_string(r.line);
  }
  return out;
}

TEST_F(InputTest, PositionsRunOnAcrossFilesInNameOrderWithEachFilesLines) {
  write("in-b.csv", "id,name\n3,c\n4,d\n");
  write("in-a.csv", "id,name\n1,a\n2,b\n");
  auto p = plan();
  auto input = Input::open(*p, {});
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  ASSERT_EQ((*input)->names().size(), 2u);
  EXPECT_TRUE((*input)->names()[0].ends_with("in-a.csv"));
  const Read r = read_all(**input);
  EXPECT_TRUE(r.stopped.ok()) << r.stopped.to_string();
  EXPECT_EQ(ids(r.records), "0:0:2 1:0:3 2:1:2 3:1:3");  // position:file:line
  EXPECT_EQ(r.records[2].slots[0].as_int(), 3);
  EXPECT_TRUE((*input)->read_all());
  EXPECT_EQ((*input)->positions(), 4u);
  EXPECT_EQ((*input)->read(), 4u);
}

TEST_F(InputTest, AShardReadsItsPositionsAndSkipsWhatAnEarlierRunFinished) {
  std::string rows = "id,name\n";
  for (int id = 1; id <= 10; ++id) rows += std::to_string(id) + ",x\n";
  write("in-a.csv", rows);
  auto p = plan();
  auto input = Input::open(*p, {.shard_index = 1, .shard_count = 3});
  ASSERT_TRUE(input.ok());
  PositionSet done;
  done.add(1);  // the shard's own numbering: input position 4 (1 * 3 + 1)
  const Read r = read_all(**input, done);
  std::string positions;
  for (const Record& rec : r.records) positions += std::to_string(rec.position) + " ";
  EXPECT_EQ(positions, "1 7 ");
  EXPECT_EQ((*input)->skipped(), 1u);
  EXPECT_EQ((*input)->positions(), 10u) << "every shard's rows, to check the shards against each other";
}

TEST_F(InputTest, AKeyReadInASkippedRowStillMakesALaterOneADuplicate) {
  write("in-a.csv", "id,name\n1,a\n2,b\n1,again\n");
  auto p = plan();
  auto input = Input::open(*p, {});
  ASSERT_TRUE(input.ok());
  PositionSet done;
  done.add(0);
  const Read r = read_all(**input, done);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].outcome, Record::Outcome::kPending);
  EXPECT_EQ(r.records[1].outcome, Record::Outcome::kDead);
  EXPECT_EQ(r.records[1].dead_step, "input");
  EXPECT_NE(r.records[1].dead_error.find("in-a.csv:4"), std::string::npos) << r.records[1].dead_error;
  EXPECT_EQ((*input)->duplicates(), 1u);
}

TEST_F(InputTest, RowsThatCannotBeRecordsGoOnDeadWithTheirFileAndLine) {
  write("in-a.csv", "id,name\n1,a\n,empty key\n2,b,extra\n3,c\n");
  auto p = plan();
  auto input = Input::open(*p, {});
  ASSERT_TRUE(input.ok());
  const Read r = read_all(**input);
  EXPECT_TRUE(r.stopped.ok()) << "a bad row is the record's problem, not the input's";
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[0].outcome, Record::Outcome::kPending);
  for (const int i : {1, 2}) {
    EXPECT_EQ(r.records[i].outcome, Record::Outcome::kDead) << i;
    EXPECT_NE(r.records[i].dead_error.find("in-a.csv:" + std::to_string(i + 2)), std::string::npos)
        << r.records[i].dead_error;
  }
  EXPECT_EQ(r.records[3].outcome, Record::Outcome::kPending);
  EXPECT_EQ(r.records[3].line, 5u);
}

TEST_F(InputTest, TheLimitCountsRecordsOfThisShardAndLeavesTheInputUnfinished) {
  std::string rows = "id,name\n";
  for (int id = 1; id <= 10; ++id) rows += std::to_string(id) + ",x\n";
  write("in-a.csv", rows);
  auto p = plan();
  auto input = Input::open(*p, {.limit = 2, .shard_index = 0, .shard_count = 2});
  ASSERT_TRUE(input.ok());
  const Read r = read_all(**input);
  EXPECT_EQ(ids(r.records), "0:0:2 2:0:4");
  EXPECT_FALSE((*input)->read_all()) << "a run that stopped at its limit did not read the input";
}

TEST_F(InputTest, AFileGoneBeforeItIsReadStopsTheInputNamingIt) {
  write("in-a.csv", "id,name\n1,a\n2,b\n");
  write("in-b.csv", "id,name\n3,c\n");
  auto p = plan();
  auto input = Input::open(*p, {});
  ASSERT_TRUE(input.ok());
  fs::remove(dir_ / "in-b.csv");
  const Read r = read_all(**input);
  EXPECT_EQ(r.records.size(), 2u) << "the first file's records still go on";
  ASSERT_FALSE(r.stopped.ok());
  EXPECT_NE(r.stopped.message().find("in-b.csv"), std::string::npos) << r.stopped.to_string();
  EXPECT_FALSE((*input)->read_all());
}

TEST_F(InputTest, NoFileMatchingIsAnErrorThatNamesThePattern) {
  auto p = plan();
  auto input = Input::open(*p, {});
  ASSERT_FALSE(input.ok());
  EXPECT_NE(input.status().message().find("in-*.csv"), std::string::npos) << input.status().to_string();
}

}  // namespace
}  // namespace sluice::pipeline
