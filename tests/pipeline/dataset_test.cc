#include "pipeline/table/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pipeline/table/reader.h"
#include "sluice/output_stream.h"
#include "sluice/parquet/writer.h"

namespace sluice::pipeline {
namespace {

std::string write(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/sluice-dataset-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

TableConfig table(const std::string& path, std::vector<ColumnDecl> cols, std::vector<std::string> key) {
  TableConfig t;
  t.path = path;
  t.format = path.ends_with(".jsonl") ? Format::kJsonl : Format::kCsv;
  t.columns = std::move(cols);
  t.key = std::move(key);
  return t;
}

TEST(Dataset, AnInt64KeyFindsEveryRowAndNoOther) {
  std::string text = "id,w,name\n";
  for (int i = 0; i < 5000; ++i)
    text += std::to_string(i * 7 - 100) + "," + std::to_string(i) + ".5,n" + std::to_string(i) + "\n";
  auto d = Dataset::load(
      "d", table(write("int.csv", text),
                 {{"id", Type::kInt64, {}}, {"w", Type::kDouble, {}}, {"name", Type::kString, {}}}, {"id"}));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->rows(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    Value k(static_cast<std::int64_t>(i * 7 - 100));
    std::int64_t row = d->find({&k});
    ASSERT_EQ(row, i);
    EXPECT_DOUBLE_EQ(d->at(static_cast<std::size_t>(row), 1).as_double(), i + 0.5);
    EXPECT_EQ(d->at(static_cast<std::size_t>(row), 2).as_string(), "n" + std::to_string(i));
  }
  Value missing(std::int64_t{-99}), null;
  EXPECT_EQ(d->find({&missing}), -1);
  EXPECT_EQ(d->find({&null}), -1);
  EXPECT_GT(d->memory_bytes(), 5000u * 16);
}

TEST(Dataset, CompositeKeysNullsAndJsonLines) {
  auto d = Dataset::load(
      "d", table(write("c.jsonl", "{\"a\": \"x\", \"b\": 1, \"v\": null}\n\n{\"a\": \"x\", \"b\": 2, \"v\": 3.5}\n"),
                 {{"a", Type::kString, {}}, {"b", Type::kInt64, {}}, {"v", Type::kDouble, {}}}, {"a", "b"}));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  Value a("x"), b1(std::int64_t{1}), b2(std::int64_t{2});
  ASSERT_EQ(d->find({&a, &b1}), 0);
  ASSERT_EQ(d->find({&a, &b2}), 1);
  EXPECT_TRUE(d->at(0, 2).is_null());
  EXPECT_DOUBLE_EQ(d->at(1, 2).as_double(), 3.5);
}

TEST(Dataset, AParquetFileSluiceWroteLoadsValueForValue) {
  using namespace sluice::parquet;
  Schema schema = *Schema::make({{.name = "id", .type = ColumnType::kInt64},
                                 {.name = "name", .type = ColumnType::kString, .nullable = true},
                                 {.name = "w", .type = ColumnType::kDouble},
                                 {.name = "ok", .type = ColumnType::kBool}});
  const std::string path = ::testing::TempDir() + "/sluice-dataset-" + std::to_string(::getpid()) + ".parquet";
  const std::vector<std::string> names = {"plain", "with \"quotes\"", "back\\slash", std::string("ctl\x01\n"), "null",
                                          ""};
  ColumnBatch b;
  b.rows = 3000;
  b.columns.resize(4);
  for (std::size_t i = 0; i < b.rows; ++i) {
    b.columns[0].i64.push_back(static_cast<std::int64_t>(i) * 3);
    if (i % 7 == 3) {
      b.columns[1].append_string("");
      b.columns[1].set_null(i, b.rows);
    } else {
      b.columns[1].append_string(names[i % names.size()]);
    }
    b.columns[2].f64.push_back(0.1 * static_cast<double>(i) + 1e-13);
    b.columns[3].b.push_back(i % 2);
  }
  {
    auto out = *open_local_file(path);
    auto w = *ParquetWriter::open(schema, {.row_group_rows = 1000}, std::move(out));
    ASSERT_TRUE(w->write(b).ok());
    ASSERT_TRUE(w->close().ok());
  }
  TableConfig t = table(
      path, {{"w", Type::kDouble, {}}, {"id", Type::kInt64, {}}, {"name", Type::kString, {}}, {"ok", Type::kBool, {}}},
      {"id"});
  ASSERT_EQ(t.format, Format::kCsv) << "the test sets the format";
  t.format = Format::kParquet;
  auto d = Dataset::load("p", t);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->rows(), 3000u);
  for (std::size_t i = 0; i < 3000; ++i) {
    Value k(static_cast<std::int64_t>(i * 3));
    std::int64_t row = d->find({&k});
    ASSERT_EQ(row, static_cast<std::int64_t>(i));
    EXPECT_EQ(d->at(i, 0).as_double(), 0.1 * static_cast<double>(i) + 1e-13) << "exact bits, row " << i;
    if (i % 7 == 3) {
      EXPECT_TRUE(d->at(i, 2).is_null()) << i;
    } else {
      EXPECT_EQ(d->at(i, 2).as_string(), names[i % names.size()]) << i;
    }
    EXPECT_EQ(d->at(i, 3).as_bool(), i % 2 == 1) << i;
  }
  auto wrong = Dataset::load("p", [&] {
    TableConfig x = table(path, {{"name", Type::kInt64, {}}}, {"name"});
    x.format = Format::kParquet;
    return x;
  }());
  EXPECT_NE(wrong.status().message().find("column 'name' cannot be read as int64"), std::string::npos)
      << wrong.status().message();
}

TEST(Dataset, ErrorsNameTheFileAndLine) {
  auto dup = Dataset::load("ents", table(write("dup.csv", "id,v\n1,a\n2,b\n1,c\n"),
                                         {{"id", Type::kInt64, {}}, {"v", Type::kString, {}}}, {"id"}));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("dataset 'ents': "), std::string::npos);
  EXPECT_NE(dup.status().message().find("dup.csv:4: duplicate key id=1"), std::string::npos) << dup.status().message();
  auto bad = Dataset::load("ents", table(write("bad.csv", "id,v\n1,a\nx2,b\n"),
                                         {{"id", Type::kInt64, {}}, {"v", Type::kString, {}}}, {"id"}));
  EXPECT_NE(bad.status().message().find("bad.csv:3: column 'id': expected int64, found 'x2'"), std::string::npos)
      << bad.status().message();
  auto nocol = Dataset::load(
      "ents", table(write("nocol.csv", "id\n1\n"), {{"id", Type::kInt64, {}}, {"v", Type::kString, {}}}, {"id"}));
  EXPECT_NE(nocol.status().message().find("nocol.csv:1: no column 'v' in the header"), std::string::npos)
      << nocol.status().message();
}

// Every row of a table: "line: values (error)".
std::vector<std::string> rows_of(const TableConfig& t) {
  std::vector<std::string> out;
  auto r = TableReader::open(t);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  std::vector<Value> values;
  std::uint64_t line = 0;
  Status error;
  for (;;) {
    Result<bool> more = (*r)->next(values, line, error);
    EXPECT_TRUE(more.ok()) << more.status().to_string();
    if (!more.ok() || !*more) return out;
    std::string row = std::to_string(line) + ":";
    for (const auto& v : values) row += " " + v.to_json();
    if (!error.ok()) row += " (" + error.message().substr(t.path.size() + 1) + ")";
    out.push_back(row);
  }
}

TEST(TableReader, AStringThatIsNotUtf8IsTheRowsErrorWhereItIsRead) {
  const auto t = table(write("utf8.csv", "id,name\n1,caf\xc3\xa9\n2,bad\xff\n3,ok\n"),
                       {{"id", Type::kInt64, {}}, {"name", Type::kString, {}}}, {"id"});
  EXPECT_EQ(rows_of(t), (std::vector<std::string>{
                            "2: 1 \"caf\xc3\xa9\"",
                            "3: 2 null (3: column 'name': not valid UTF-8 (near byte 3))",
                            "4: 3 \"ok\"",
                        }));
}

TEST(TableReader, AJsonLineThatDoesNotFitKeepsItsKeyForItsDeadLetter) {
  const auto t =
      table(write("rows.jsonl", "{\"id\": 1, \"n\": 2}\n{\"id\": 2, \"n\": \"two\"}\n{\"id\": 3, \"n\": 4}\n"),
            {{"id", Type::kInt64, {}}, {"n", Type::kInt64, {}}}, {"id"});
  const auto rows = rows_of(t);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "1: 1 2");
  EXPECT_TRUE(rows[1].starts_with("2: 2 null (2: field 'n'")) << rows[1];
  EXPECT_EQ(rows[2], "3: 3 4");
}

TEST(TableReader, ALineLongerThanMaxRecordBytesIsAnErrorOfItsOwnNotHeld) {
  auto t =
      table(write("long.jsonl", "{\"id\": 1}\n{\"id\": 2, \"pad\": \"" + std::string(5000, 'x') + "\"}\n{\"id\": 3}\n"),
            {{"id", Type::kInt64, {}}}, {"id"});
  t.max_record_bytes = 1000;
  EXPECT_EQ(rows_of(t), (std::vector<std::string>{
                            "1: 1",
                            "2: null (2: the line is 5020 bytes, more than max_record_bytes (1000))",
                            "3: 3",
                        }));
}

}  // namespace
}  // namespace sluice::pipeline
