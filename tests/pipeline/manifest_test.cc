// The manifest's position set and its file format.
#include "pipeline/output/manifest.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sluice::pipeline {
namespace {

TEST(PositionSet, RangesMergeAsTheyTouchAndCountEveryPositionOnce) {
  PositionSet s;
  s.add(5);
  s.add(7);
  EXPECT_EQ(s.ranges().size(), 2u);
  s.add(6);  // fills the hole: one range [5, 8)
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges().begin()->first, 5u);
  EXPECT_EQ(s.ranges().begin()->second, 8u);
  s.add(0, 6);  // overlaps
  s.add(7);     // already there
  EXPECT_EQ(s.size(), 8u);
  EXPECT_TRUE(s.contains(0));
  EXPECT_TRUE(s.contains(7));
  EXPECT_FALSE(s.contains(8));
}

TEST(PositionSet, AgreesWithAPlainSetOnRandomPositions) {
  std::mt19937 rng(42);
  PositionSet s;
  std::set<std::uint64_t> want;
  for (int i = 0; i < 5000; ++i) {
    std::uint64_t p = rng() % 3000;
    s.add(p);
    want.insert(p);
  }
  EXPECT_EQ(s.size(), want.size());
  PositionCursor cursor(s);
  for (std::uint64_t p = 0; p < 3100; ++p) {
    ASSERT_EQ(s.contains(p), want.count(p) == 1) << p;
    ASSERT_EQ(cursor.contains(p), want.count(p) == 1) << p;
  }
  std::uint64_t prev_end = 0;
  for (const auto& [a, b] : s.ranges()) {
    EXPECT_LT(a, b);
    EXPECT_TRUE(a > prev_end || prev_end == 0) << "ranges are disjoint and do not touch";
    prev_end = b;
  }
}

// A shard's attempt says who it is; its record count comes from the
// input's and the shard's: shard 1 of 4 over 10 rows holds positions 1, 5, 9.
TEST(Manifest, AShardsAttemptRoundTripsAndCountsItsRecords) {
  Manifest m;
  m.runs = 1;
  m.shard = ShardAttempt{
      .index = 1, .count = 4, .attempt = "0a1b2c3d", .scheduler_attempt = "2", .input_records = 10, .dead_lettered = 1};
  m.done.add(0, 2);
  auto back = Manifest::parse(m.to_json(), "m.json");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_TRUE(back->shard.has_value());
  EXPECT_EQ(back->shard->index, 1u);
  EXPECT_EQ(back->shard->count, 4u);
  EXPECT_EQ(back->shard->attempt, "0a1b2c3d");
  EXPECT_EQ(back->shard->scheduler_attempt, "2");
  EXPECT_EQ(back->shard->input_records, 10u);
  EXPECT_EQ(back->shard->dead_lettered, 1u);
  EXPECT_EQ(back->shard->records(), 3u);
  EXPECT_EQ((ShardAttempt{.index = 3, .count = 4, .input_records = 3}).records(), 0u);
  EXPECT_EQ((ShardAttempt{.index = 0, .count = 4, .input_records = 4}).records(), 1u);
  EXPECT_FALSE(Manifest::parse(Manifest{}.to_json(), "m.json")->shard.has_value());
  std::string bad = m.to_json();
  bad.replace(bad.find("\"index\":1"), 9, "\"index\":4");
  EXPECT_NE(Manifest::parse(bad, "m.json").status().message().find("\"shard\" without index < count"),
            std::string::npos);
}

TEST(Manifest, RoundTripsAndRefusesWhatIsDamaged) {
  Manifest m;
  m.runs = 2;
  m.files = {"out-00000.parquet", "region=r1/out-r1-00000.parquet"};
  m.inputs = {{"data/records \"a\".csv", 1234}};
  m.done.add(0, 100);
  m.done.add(150);
  PositionSet next;
  next.add(100, 120);
  m.committing.emplace("out-00001.parquet", next);
  auto back = Manifest::parse(m.to_json(), "m.json");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->runs, 2u);
  EXPECT_EQ(back->files, m.files);
  EXPECT_EQ(back->inputs, m.inputs);
  EXPECT_EQ(back->done.size(), 101u);
  EXPECT_TRUE(back->done.contains(150));
  ASSERT_TRUE(back->committing.has_value());
  EXPECT_EQ(back->committing->first, "out-00001.parquet");
  EXPECT_EQ(back->committing->second.size(), 20u);

  std::string damaged = m.to_json();
  damaged.replace(damaged.find("\"done\":101"), 10, "\"done\":102");
  Status s = Manifest::parse(damaged, "out/m.json").status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "out/m.json: not a sluice manifest: \"done\" does not match its ranges (the file is damaged)");
  EXPECT_EQ(Manifest::parse("{\"version\":1,\"runs\":1", "m.json").status().code(), StatusCode::kDataLoss);
  EXPECT_NE(Manifest::parse("{\"version\":2}", "m.json").status().message().find("expected \"version\": 1"),
            std::string::npos);
  EXPECT_NE(Manifest::parse(R"({"version":1,"runs":1,"inputs":[],"files":[],"done":1,"done_ranges":[[5,5]]})", "m.json")
                .status()
                .message()
                .find("a range that is not [first, end)"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::pipeline
