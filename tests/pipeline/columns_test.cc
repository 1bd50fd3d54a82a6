// Columns, alone: records that ended become what the commit writes: rows
// in the partition their values name (percent-encoded where a path could
// not hold them), with their positions; filtered and not-joined positions;
// a dead-letter line for each that failed.
#include "pipeline/run/columns.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "plan_of.h"

namespace sluice::pipeline {
namespace {

std::unique_ptr<Plan> partitioned_plan() {
  return valid_plan(R"yaml(input:
  path: records.csv
  columns: {id: int64, region: string}
output:
  path: out
  partition_by: [region]
  columns:
    id: int64
    region: string
)yaml");
}

Record ended(const Plan& plan, std::uint64_t position, std::int64_t id, Value region, Record::Outcome outcome) {
  Record r;
  r.position = position;
  r.line = position + 2;
  r.slots.resize(plan.slot_names.size());
  r.slots[0] = Value(id);
  r.slots[1] = region;
  r.outcome = outcome;
  if (outcome == Record::Outcome::kWritten) r.row = {Value(id), std::move(region)};
  return r;
}

TEST(Columns, RowsGoToThePartitionTheirValuesNameWithTheirPositionsInOrder) {
  auto plan = partitioned_plan();
  std::vector<Record> batch;
  batch.push_back(ended(*plan, 0, 10, Value(std::string("eu")), Record::Outcome::kWritten));
  batch.push_back(ended(*plan, 1, 11, Value(std::string("us")), Record::Outcome::kWritten));
  batch.push_back(ended(*plan, 2, 12, Value(std::string("eu")), Record::Outcome::kWritten));
  const Chunk c = to_columns(*plan, {"records.csv"}, std::move(batch));
  ASSERT_EQ(c.parts.size(), 2u);
  const Chunk::Part& eu = c.parts.at("region=eu/");
  EXPECT_EQ(eu.positions, (std::vector<std::uint64_t>{0, 2}));
  ASSERT_EQ(eu.batch.columns.size(), 1u) << "the partition column is in the path, not the file";
  EXPECT_EQ(eu.batch.rows, 2u);
  EXPECT_EQ(eu.batch.columns[0].i64, (std::vector<std::int64_t>{10, 12}));
  EXPECT_EQ(c.parts.at("region=us/").positions, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(c.rows, 3u);
  EXPECT_TRUE(c.dead.empty());
}

TEST(Columns, PartitionValuesAreEncodedWhereAPathCouldNotHoldThem) {
  auto plan = partitioned_plan();
  auto dir = [&](Value v) { return partition_dir(*plan, {Value(std::int64_t{1}), std::move(v)}); };
  EXPECT_EQ(*dir(Value(std::string("../../etc"))), "region=..%2F..%2Fetc/");
  EXPECT_EQ(*dir(Value(std::string("a b=c&d"))), "region=a b%3Dc%26d/");
  EXPECT_EQ(*dir(Value(std::string("zürich"))), "region=zürich/") << "UTF-8 is a name's as it is";
  EXPECT_EQ(*dir(Value(std::string())), "region=__HIVE_DEFAULT_PARTITION__/");
  EXPECT_EQ(*dir(Value()), "region=__HIVE_DEFAULT_PARTITION__/");
  const auto too_long = dir(Value(std::string(250, '/')));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("partition_by 'region'"), std::string::npos)
      << too_long.status().to_string();
}

TEST(Columns, EveryOtherEndIsCountedAndEachFailureIsADeadLetterThatSaysWhere) {
  auto plan = partitioned_plan();
  std::vector<Record> batch;
  batch.push_back(ended(*plan, 0, 1, Value(std::string("eu")), Record::Outcome::kFiltered));
  batch.push_back(ended(*plan, 1, 2, Value(std::string("eu")), Record::Outcome::kNotJoined));
  batch.push_back(ended(*plan, 2, 3, Value(std::string("eu")), Record::Outcome::kUnfinished));
  Record dead = ended(*plan, 3, 4, Value(std::string("eu")), Record::Outcome::kDead);
  dead.dead_step = "item";
  dead.dead_url = "http://api/v1/items/4";
  dead.dead_error = "GET: HTTP 404";
  batch.push_back(std::move(dead));
  // A row whose partition cannot be named goes the same way, from step output.
  batch.push_back(ended(*plan, 4, 5, Value(std::string(300, 'x')), Record::Outcome::kWritten));
  const Chunk c = to_columns(*plan, {"-"}, std::move(batch));
  EXPECT_EQ(c.settled, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(c.filtered, 1u);
  EXPECT_EQ(c.not_joined, 1u);
  EXPECT_EQ(c.unfinished, 1u) << "neither settled nor dead: a resume does it";
  EXPECT_EQ(c.rows, 0u);
  ASSERT_EQ(c.dead.size(), 2u);
  EXPECT_EQ(c.dead_count, 2u);
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  ASSERT_FALSE(parser.parse(c.dead[0]).get(d)) << c.dead[0];
  EXPECT_EQ(std::string_view(d["input"]), "<stdin>");
  EXPECT_EQ(int64_t(d["line"]), 5);
  EXPECT_EQ(int64_t(d["key"]["id"]), 4);
  EXPECT_EQ(std::string_view(d["step"]), "item");
  EXPECT_EQ(std::string_view(d["url"]), "http://api/v1/items/4");
  EXPECT_EQ(std::string_view(d["error"]), "GET: HTTP 404");
  ASSERT_FALSE(parser.parse(c.dead[1]).get(d)) << c.dead[1];
  EXPECT_EQ(int64_t(d["key"]["id"]), 5);
  EXPECT_EQ(std::string_view(d["step"]), "output");
  EXPECT_TRUE(d["url"].error()) << "no request failed: no URL";
}

}  // namespace
}  // namespace sluice::pipeline
