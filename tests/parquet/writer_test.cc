#include "sluice/parquet/writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "../../src/parquet/encoding.h"
#include "../../src/parquet/thrift.h"
#include "parquet_test_util.h"

namespace sluice::parquet {
namespace {

namespace fs = std::filesystem;
using testing::scratch_dir;

Schema two_columns() {
  return *Schema::make(
      {{.name = "id", .type = ColumnType::kInt64}, {.name = "name", .type = ColumnType::kString, .nullable = true}});
}

ColumnBatch rows_from(int first, int n) {
  ColumnBatch b;
  b.rows = static_cast<std::size_t>(n);
  b.columns.resize(2);
  for (int i = first; i < first + n; ++i) {
    b.columns[0].i64.push_back(i);
    b.columns[1].append_string("name-" + std::to_string(i));
  }
  return b;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ParquetSchema, RejectsDuplicateAndEmptyNames) {
  EXPECT_EQ(Schema::make({{.name = "a"}, {.name = "a"}}).status().message(), "schema: column name 'a' appears twice");
  EXPECT_EQ(Schema::make({{.name = ""}}).status().message(), "schema: column 1 has no name");
  EXPECT_FALSE(Schema::make({}).ok());
}

TEST(ParquetWriter, BatchUnlikeTheSchemaIsRejectedAndTheFileStaysUsable) {
  auto writer = *ParquetWriter::open(two_columns(), {}, std::make_unique<MemoryOutputStream>());
  ColumnBatch wrong_columns = rows_from(0, 3);
  wrong_columns.columns.pop_back();
  EXPECT_EQ(writer->write(wrong_columns).message(), "batch has 1 columns, the schema 2");

  ColumnBatch short_values = rows_from(0, 3);
  short_values.columns[0].i64.pop_back();
  EXPECT_EQ(writer->write(short_values).message(), "column 'id' (int64): i64 holds 2 values, expected 3");

  ColumnBatch null_in_required = rows_from(0, 3);
  null_in_required.columns[0].set_null(1, 3);
  EXPECT_EQ(writer->write(null_in_required).message(), "column 'id' (int64): null at row 1 in a required column");

  ColumnBatch bad_utf8 = rows_from(0, 3);
  bad_utf8.columns[1] = ColumnData{};
  bad_utf8.columns[1].append_string("ok");
  bad_utf8.columns[1].append_string("\xC3\x28");  // a lead byte without its continuation
  bad_utf8.columns[1].append_string("fine");
  EXPECT_EQ(writer->write(bad_utf8).message(), "column 'name' (string): row 1: the string is not valid UTF-8");

  ColumnBatch text_under_null = rows_from(0, 3);
  text_under_null.columns[1].set_null(2, 3);
  EXPECT_EQ(writer->write(text_under_null).message(),
            "column 'name' (string): row 2 is null but holds 6 bytes or elements");

  ColumnBatch bad_offsets = rows_from(0, 3);
  bad_offsets.columns[1].offsets[2] = 1;
  EXPECT_EQ(writer->write(bad_offsets).message(), "column 'name' (string): offsets decrease at row 1");

  EXPECT_TRUE(writer->write(rows_from(0, 5)).ok());
  auto summary = writer->close();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->rows, 5u) << "a rejected batch adds no rows";
}

TEST(ParquetWriter, BoolOutsideZeroOrOneIsRejected) {
  auto schema = *Schema::make({{.name = "flag", .type = ColumnType::kBool}});
  auto writer = *ParquetWriter::open(schema, {}, std::make_unique<MemoryOutputStream>());
  ColumnBatch b;
  b.rows = 2;
  b.columns.resize(1);
  b.columns[0].b = {1, 2};
  EXPECT_EQ(writer->write(b).message(), "column 'flag' (bool): row 1: a bool must be 0 or 1, got 2");
}

TEST(ParquetWriter, BadOptionsAreRejected) {
  EXPECT_EQ(
      ParquetWriter::open(two_columns(), {.zstd_level = 0}, std::make_unique<MemoryOutputStream>()).status().message(),
      "zstd_level: expected 1 to 19, got 0");
  EXPECT_FALSE(ParquetWriter::open(two_columns(), {.row_group_rows = 0}, std::make_unique<MemoryOutputStream>()).ok());
}

TEST(ParquetWriter, AbortAndDestroyLeaveNothingVisible) {
  std::string dir = scratch_dir("abort");
  {
    auto writer = *ParquetWriter::open(two_columns(), {.row_group_rows = 10}, *open_local_file(dir + "/a.parquet"));
    ASSERT_TRUE(writer->write(rows_from(0, 100)).ok());  // row groups already written
    EXPECT_EQ(files_in(dir).size(), 1u) << "the temporary exists while writing";
    writer->abort();
    EXPECT_TRUE(files_in(dir).empty());
  }
  {
    auto writer = *ParquetWriter::open(two_columns(), {}, *open_local_file(dir + "/b.parquet"));
    ASSERT_TRUE(writer->write(rows_from(0, 100)).ok());
  }  // destroyed without close
  EXPECT_TRUE(files_in(dir).empty());
  {
    auto writer = *ParquetWriter::open(two_columns(), {}, *open_local_file(dir + "/c.parquet"));
    ASSERT_TRUE(writer->write(rows_from(0, 100)).ok());
    ASSERT_TRUE(writer->close().ok());
  }
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"c.parquet"});
}

// Reads the footer of a Parquet file image with sluice's own Thrift reader.
thrift::Value footer_of(const std::string& file) {
  EXPECT_EQ(file.substr(0, 4), "PAR1");
  EXPECT_EQ(file.substr(file.size() - 4), "PAR1");
  std::uint32_t len;
  std::memcpy(&len, file.data() + file.size() - 8, 4);
  std::size_t consumed = 0;
  auto v = thrift::read_struct(std::string_view(file).substr(file.size() - 8 - len, len), consumed);
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(consumed, len);
  return v.ok() ? *v : thrift::Value{};
}

TEST(ParquetWriter, FooterHoldsRowsRowGroupsCreatedByAndMetadata) {
  auto stream = std::make_unique<MemoryOutputStream>();
  MemoryOutputStream* mem = stream.get();
  auto writer = *ParquetWriter::open(two_columns(), {.row_group_rows = 40, .metadata = {{"pipeline.hash", "abc123"}}},
                                     std::move(stream));
  ASSERT_TRUE(writer->write(rows_from(0, 100)).ok());
  auto summary = writer->close();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->row_groups, 3u);
  EXPECT_EQ(summary->bytes, mem->data().size());
  thrift::Value f = footer_of(mem->data());
  EXPECT_EQ(f.get_int(3), 100);  // num_rows
  ASSERT_NE(f.field(4), nullptr);
  EXPECT_EQ(f.field(4)->list.size(), 3u);         // row groups
  EXPECT_EQ(f.field(4)->list[2].get_int(3), 20);  // rows of the last
  EXPECT_EQ(f.field(6)->binary, "sluice version 0.1.0");
  const auto& kv = f.field(5)->list;
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[1].field(1)->binary, "pipeline.hash");
  EXPECT_EQ(kv[1].field(2)->binary, "abc123");
  const auto& schema = f.field(2)->list;
  ASSERT_EQ(schema.size(), 3u);
  EXPECT_EQ(schema[1].field(4)->binary, "id");
  EXPECT_EQ(schema[2].get_int(3), 1);  // optional
}

TEST(ParquetWriter, RowGroupsAreBoundedByBytes) {
  auto writer =
      *ParquetWriter::open(two_columns(), {.row_group_bytes = 64 << 10}, std::make_unique<MemoryOutputStream>());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer->write(rows_from(i * 2000, 2000)).ok());
  auto summary = writer->close();
  ASSERT_TRUE(summary.ok());
  EXPECT_GT(summary->row_groups, 4u);
}

TEST(RollingParquetWriter, SplitsAtFileRowsWithDeterministicNames) {
  std::string dir = scratch_dir("rolling");
  RollingParquetWriter w(two_columns(), {}, {.file_rows = 250, .prefix = "features"},
                         [&](const std::string& name) { return open_local_file(dir + "/" + name); });
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.write(rows_from(i * 300, 300)).ok());
  auto files = w.close();
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  ASSERT_EQ(files->size(), 5u);
  std::vector<std::uint64_t> rows;
  for (const auto& [name, summary] : *files) rows.push_back(summary.rows);
  EXPECT_EQ(rows, (std::vector<std::uint64_t>{250, 250, 250, 250, 200}));
  EXPECT_EQ((*files)[0].first, "features-00000.parquet");
  EXPECT_EQ((*files)[4].first, "features-00004.parquet");
  EXPECT_EQ(files_in(dir),
            (std::vector<std::string>{"features-00000.parquet", "features-00001.parquet", "features-00002.parquet",
                                      "features-00003.parquet", "features-00004.parquet"}));
  // Every id once, in order, across the files.
  std::vector<ColumnBatch> all = {rows_from(0, 1200)};
  auto r = testing::check_with("duckdb", dir + "/features-*.parquet", testing::expected_json(two_columns(), all));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(HybridEncoding, RoundTripsRunsAndLiteralsAtEveryWidth) {
  std::mt19937 rng(42);
  for (int width = 1; width <= 24; ++width) {
    std::vector<std::uint32_t> values;
    const std::uint32_t max = width == 32 ? 0xFFFFFFFFu : (1u << width) - 1;
    while (values.size() < 5000) {
      std::uint32_t v = std::uniform_int_distribution<std::uint32_t>(0, max)(rng);
      std::size_t repeat = std::uniform_int_distribution<int>(0, 3)(rng) == 0
                               ? std::uniform_int_distribution<std::size_t>(1, 40)(rng)
                               : 1;
      values.insert(values.end(), repeat, v);
    }
    std::string encoded;
    encode_hybrid(values.data(), values.size(), width, encoded);
    std::vector<std::uint32_t> decoded;
    ASSERT_TRUE(decode_hybrid(encoded, width, values.size(), decoded).ok()) << "width " << width;
    ASSERT_EQ(decoded, values) << "width " << width;
  }
}

TEST(HybridEncoding, LongRunsAreCompact) {
  std::vector<std::uint8_t> ones(100000, 1);
  std::string encoded;
  encode_hybrid(ones.data(), ones.size(), 1, encoded);
  EXPECT_LE(encoded.size(), 4u);
}

}  // namespace
}  // namespace sluice::parquet
