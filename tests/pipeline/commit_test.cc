// Commit, alone, on a local directory: files roll between batches and
// appear only once whole; the manifest marks done exactly the records in
// committed files (and the settled ones), so that a run killed at any
// moment resumes with no record lost or written twice; a failed run's open
// files never appear; dead letters are a file of their own.
#include "pipeline/run/commit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pipeline/run/columns.h"
#include "plan_of.h"
#include "sluice/store.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

class CommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("commit_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    plan_ = valid_plan(R"yaml(input:
  path: records.csv
  columns: {id: int64}
output:
  path: out
  name: part
  file_rows: 10
  columns:
    id: int64
)yaml");
    ASSERT_TRUE(plan_);
  }

  std::unique_ptr<Commit> open(bool resume = false) {
    auto store = open_local_store(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    auto c = Commit::open(std::move(*store), *plan_, {.file_name = "part", .resume = resume, .inputs = {{"in", 0}}});
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Records at positions [first, first + n), ended as `outcome`.
  Chunk chunk(std::uint64_t first, std::uint64_t n, Record::Outcome outcome = Record::Outcome::kWritten) {
    std::vector<Record> records;
    for (std::uint64_t p = first; p < first + n; ++p) {
      Record r;
      r.position = p;
      r.line = p + 2;
      r.slots = {Value(static_cast<std::int64_t>(p))};
      r.outcome = outcome;
      if (outcome == Record::Outcome::kWritten) r.row = {Value(static_cast<std::int64_t>(p))};
      if (outcome == Record::Outcome::kDead) r.dead_step = "item", r.dead_error = "HTTP 404";
      records.push_back(std::move(r));
    }
    return to_columns(*plan_, {"in"}, std::move(records));
  }

  Manifest manifest() {
    auto store = open_local_store(dir_.string());
    auto text = (*store)->get("_part-manifest.json");
    EXPECT_TRUE(text.ok()) << text.status().to_string();
    auto m = Manifest::parse(text.ok() ? *text : "", "manifest");
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? std::move(*m) : Manifest{};
  }

  // The Parquet files a reader of the directory sees.
  std::vector<std::string> visible() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".parquet") names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // What a resume would take as done: the manifest's done positions, and
  // those of the file it was committing when that file is there (the run
  // stopped after the commit, before its next manifest).
  PositionSet done_if_resumed(const Manifest& m) const {
    PositionSet done = m.done;
    if (m.committing && fs::exists(dir_ / m.committing->first)) {
      for (const auto& [first, end] : m.committing->second.ranges()) done.add(first, end);
    }
    return done;
  }

  static std::string ranges(const PositionSet& s) {
    std::string out;
    for (const auto& [first, end] : s.ranges()) {
      out += (out.empty() ? "" : " ") + std::to_string(first) + "-" + std::to_string(end - 1);
    }
    return out;
  }

  fs::path dir_;
  std::unique_ptr<Plan> plan_;
};

TEST_F(CommitTest, AFileAppearsOnceWholeAndTheManifestMarksOnlyItsRecordsDone) {
  auto c = open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write(chunk(0, 12)).ok());
  EXPECT_TRUE(visible().empty()) << "the file is open: nothing of it is seen";
  ASSERT_TRUE(c->write(chunk(12, 4)).ok());  // the full file rolls before this batch
  EXPECT_EQ(visible(), std::vector<std::string>{"part-00000.parquet"});
  EXPECT_EQ(ranges(done_if_resumed(manifest())), "0-11") << "12 to 15 are in a file not yet committed";
}

TEST_F(CommitTest, AKilledRunResumesFromItsCommittedFilesAndRemovesTheOneItLeftOpen) {
  {
    auto c = open();
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->write(chunk(0, 12)).ok());
    ASSERT_TRUE(c->write(chunk(12, 4)).ok());
  }  // stopped without finish()
  // What kill -9 leaves of the file that was open (the destructor above
  // removed its own).
  const fs::path left_open = dir_ / ".part-00001.parquet.tmp-0badf00d";
  std::ofstream(left_open) << "PAR1 half a file";
  auto again = open(/*resume=*/true);
  ASSERT_TRUE(again);
  EXPECT_FALSE(fs::exists(left_open));
  EXPECT_EQ(ranges(again->done_before()), "0-11");
  ASSERT_TRUE(again->write(chunk(12, 4)).ok());
  JobSummary summary;
  const Commit::Finished f = again->finish(Status(), {.whole_input = true, .input_records = 16}, summary);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_TRUE(f.all_committed);
  EXPECT_EQ(f.rows, 4u);
  EXPECT_EQ(visible().size(), 2u);
  const Manifest m = manifest();
  EXPECT_EQ(ranges(m.done), "0-15");
  EXPECT_EQ(m.files.size(), 2u);
  EXPECT_FALSE(m.committing) << "a finished run's manifest commits nothing more";
}

TEST_F(CommitTest, SettledRecordsAreDoneAndDeadOnesGoToTheirOwnFile) {
  auto c = open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write(chunk(0, 3)).ok());
  ASSERT_TRUE(c->write(chunk(3, 2, Record::Outcome::kFiltered)).ok());
  ASSERT_TRUE(c->write(chunk(5, 2, Record::Outcome::kDead)).ok());
  JobSummary summary;
  const Commit::Finished f =
      c->finish(Status(), {.whole_input = true, .input_records = 7, .dead_lettered = 2}, summary);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  const Manifest m = manifest();
  EXPECT_EQ(ranges(m.done), "0-4") << "the dead are not done: a resume tries them again";
  ASSERT_EQ(m.dead_letters.size(), 1u);
  auto store = open_local_store(dir_.string());
  auto dead = (*store)->get(m.dead_letters[0]);
  ASSERT_TRUE(dead.ok()) << dead.status().to_string();
  EXPECT_EQ(std::count(dead->begin(), dead->end(), '\n'), 2);
  EXPECT_NE(dead->find("\"line\":7"), std::string::npos) << *dead;
}

TEST_F(CommitTest, AFailedRunLeavesItsOpenFilesUnseenAndUnmarked) {
  auto c = open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write(chunk(0, 12)).ok());
  ASSERT_TRUE(c->write(chunk(12, 4)).ok());
  JobSummary summary;
  const Commit::Finished f = c->finish(Status::Unavailable("the API is down"), {}, summary);
  EXPECT_FALSE(f.status.ok());
  EXPECT_FALSE(f.all_committed);
  EXPECT_EQ(visible(), std::vector<std::string>{"part-00000.parquet"}) << "only the file committed before the failure";
  EXPECT_EQ(ranges(done_if_resumed(manifest())), "0-11");
}

}  // namespace
}  // namespace sluice::pipeline
