#include "sluice/parquet/reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "parquet_test_util.h"

namespace sluice::parquet {
namespace {

using testing::scratch_dir;
using testing::write_file;

Schema mixed() {
  return *Schema::make({{.name = "id", .type = ColumnType::kInt64},
                        {.name = "kind", .type = ColumnType::kString, .nullable = true},
                        {.name = "v", .type = ColumnType::kDouble},
                        {.name = "ok", .type = ColumnType::kBool},
                        {.name = "at", .type = ColumnType::kTimestamp, .unit = TimeUnit::kMillis},
                        {.name = "day", .type = ColumnType::kDate},
                        {.name = "xs", .type = ColumnType::kListInt64, .nullable = true}});
}

ColumnBatch mixed_rows(int n) {
  ColumnBatch b;
  b.rows = static_cast<std::size_t>(n);
  b.columns.resize(7);
  for (int i = 0; i < n; ++i) {
    b.columns[0].i64.push_back(i);
    b.columns[1].append_string(i == 3 ? "" : i % 2 ? "odd" : "even");  // row 3: null
    b.columns[2].f64.push_back(i * 0.5);
    b.columns[3].b.push_back(static_cast<std::uint8_t>(i % 2));
    b.columns[4].i64.push_back(1700000000000LL + i);
    b.columns[5].i32.push_back(19000 + i);
    for (int k = 0; k < (i == 4 ? 0 : i % 3); ++k) b.columns[6].i64.push_back(i * 10 + k);  // row 4: null
    b.columns[6].end_list(b.columns[6].i64.size());
  }
  b.columns[1].set_null(3, b.rows);
  b.columns[6].set_null(4, b.rows);
  return b;
}

TEST(ParquetReader, ReadsBackSchemaStatisticsAndRowsAcrossPagesAndRowGroups) {
  std::string path = scratch_dir("reader") + "/mixed.parquet";
  write_file(path, mixed(), {mixed_rows(1000)}, {.row_group_rows = 400, .page_bytes = 512});
  auto reader = ParquetReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  const FileInfo& info = (*reader)->info();
  EXPECT_EQ(info.rows, 1000);
  ASSERT_EQ(info.row_groups.size(), 3u);
  ASSERT_EQ(info.columns.size(), 7u);
  EXPECT_EQ(info.columns[4].type, ColumnType::kTimestamp);
  EXPECT_EQ(info.columns[4].unit, TimeUnit::kMillis);
  EXPECT_EQ(info.columns[6].type, ColumnType::kListInt64);
  EXPECT_TRUE(info.columns[6].nullable);
  const ChunkInfo& id = info.row_groups[1].columns[0];
  EXPECT_EQ(id.min, "400");
  EXPECT_EQ(id.max, "799");
  EXPECT_EQ(id.codec, "ZSTD");
  EXPECT_EQ(info.row_groups[0].columns[1].null_count, 1);
  EXPECT_EQ(info.row_groups[0].columns[6].path, "xs.list.element");

  auto rows = (*reader)->head(1000);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 1000u);
  EXPECT_EQ((*rows)[0],
            (std::vector<std::string>{"0", "\"even\"", "0", "false", "2023-11-14T22:13:20.000Z", "2022-01-08", "[]"}));
  EXPECT_EQ((*rows)[3][1], "null");
  EXPECT_EQ((*rows)[4][6], "null");
  EXPECT_EQ((*rows)[5][6], "[50, 51]");
  EXPECT_EQ((*rows)[998][6], "[9980, 9981]");
  EXPECT_EQ((*rows)[999], (std::vector<std::string>{"999", "\"odd\"", "499.5", "true", "2023-11-14T22:13:20.999Z",
                                                    "2024-10-03", "[]"}));
}

TEST(ParquetReader, CorruptFilesGiveClearErrors) {
  std::string dir = scratch_dir("reader-corrupt");
  std::ofstream(dir + "/text.parquet") << "this is not a parquet file at all";
  auto r = ParquetReader::open(dir + "/text.parquet");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(), dir + "/text.parquet: not a Parquet file (no PAR1 at its end)");

  // A real file with its footer cut short.
  std::string good = dir + "/good.parquet";
  write_file(good, mixed(), {mixed_rows(10)});
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::string bad = bytes.substr(0, bytes.size() - 40) + bytes.substr(bytes.size() - 8);
  std::ofstream(dir + "/cut.parquet", std::ios::binary) << bad;
  r = ParquetReader::open(dir + "/cut.parquet");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);

  r = ParquetReader::open(dir + "/missing.parquet");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

std::pair<int, std::string> run(const std::string& args) {
  std::string out;
  FILE* p = popen((std::string(SLUICE_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

TEST(InspectCommand, PrintsSchemaRowGroupsAndFirstRows) {
  std::string path = scratch_dir("inspect") + "/mixed.parquet";
  write_file(path, mixed(), {mixed_rows(50)}, {.compression = Compression::kSnappy});
  auto [code, out] = run("inspect " + path + " --rows 2");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("rows: 50 in 1 row group\n"), std::string::npos) << out;
  EXPECT_NE(out.find("at   timestamp(ms, UTC) required"), std::string::npos) << out;
  EXPECT_NE(out.find("SNAPPY"), std::string::npos) << out;
  EXPECT_NE(out.find("first 2 rows:"), std::string::npos) << out;
  EXPECT_NE(out.find("1  \"odd\"  0.5 true  2023-11-14T22:13:20.001Z 2022-01-09 [10]"), std::string::npos) << out;
}

TEST(InspectCommand, BadFileAndBadArgumentsFailWithAMessage) {
  auto [code, out] = run("inspect /nonexistent/x.parquet");
  EXPECT_EQ(code, 1);
  EXPECT_TRUE(out.ends_with("Z error /nonexistent/x.parquet: No such file or directory\n")) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::tie(code, out) = run("inspect");
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("file is required"), std::string::npos) << out;
  std::tie(code, out) = run("inspect a.parquet --rows many");
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--rows: Value many not in range"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::parquet
