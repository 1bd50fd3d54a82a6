#include "sluice/sources.h"

#include <gtest/gtest.h>

#include <fstream>

namespace sluice {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Reads a whole CSV file: its records, or the first error.
Result<std::vector<CsvRecord>> read_all(const std::string& path) {
  Result<std::unique_ptr<CsvReader>> r = CsvReader::open(path);
  if (!r.ok()) return r.status();
  std::vector<CsvRecord> out;
  for (;;) {
    CsvRecord rec;
    Result<bool> got = (*r)->next(rec);
    if (!got.ok()) return got.status();
    if (!*got) return out;
    out.push_back(std::move(rec));
  }
}

TEST(CsvReader, ReadsQuotedFieldsWithDelimitersQuotesAndLineBreaks) {
  std::string path = write_file("quoted.csv",
                                "id,name,note\r\n"
                                "1,plain,\"a, b\"\r\n"
                                "2,\"say \"\"hi\"\"\",\"two\nlines\"\n"
                                "3,,\"\"\n");
  auto recs = read_all(path);
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[0].fields, (std::vector<std::string>{"1", "plain", "a, b"}));
  EXPECT_EQ((*recs)[1].fields, (std::vector<std::string>{"2", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ((*recs)[2].fields, (std::vector<std::string>{"3", "", ""}));
  EXPECT_EQ((*recs)[0].line, 2u);
  EXPECT_EQ((*recs)[1].line, 3u);
  EXPECT_EQ((*recs)[2].line, 5u) << "a line break inside quotes still counts as a line";
  ASSERT_NE((*recs)[1].get("name"), nullptr);
  EXPECT_EQ(*(*recs)[1].get("name"), "say \"hi\"");
  EXPECT_EQ((*recs)[1].get("missing"), nullptr);
}

TEST(CsvReader, LastLineWithoutNewlineIsARecord) {
  auto recs = read_all(write_file("no_newline.csv", "id\n1\n2"));
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[1].fields[0], "2");
}

TEST(CsvReader, PositionCountsTheBytesConsumed) {
  std::string text = "id,v\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",x\n";  // larger than the read buffer
  auto r = CsvReader::open(write_file("position.csv", text));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->position(), 5u) << "the header";
  CsvRecord rec;
  std::uint64_t expected = 5;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(*(*r)->next(rec));
    expected += std::to_string(i).size() + 3;
    ASSERT_EQ((*r)->position(), expected) << "record " << i;
  }
  EXPECT_FALSE(*(*r)->next(rec));
  EXPECT_EQ((*r)->position(), text.size());
}

TEST(CsvReader, WrongFieldCountNamesFileAndLine) {
  std::string path = write_file("short.csv", "id,name\n1,a\n2\n");
  auto recs = read_all(path);
  ASSERT_FALSE(recs.ok());
  EXPECT_EQ(recs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(recs.status().message(), path + ":3: expected 2 fields (as in the header), found 1");
}

TEST(CsvReader, UnterminatedQuoteNamesTheLineWhereItOpened) {
  std::string path = write_file("open_quote.csv", "id,name\n1,\"never\nclosed\n");
  auto recs = read_all(path);
  ASSERT_FALSE(recs.ok());
  EXPECT_EQ(recs.status().message(), path + ":2: a quoted field is not closed before the end of the file");
}

TEST(CsvReader, TextAfterAClosingQuoteIsAnError) {
  std::string path = write_file("after_quote.csv", "id,name\n1,\"a\"b\n");
  auto recs = read_all(path);
  ASSERT_FALSE(recs.ok());
  EXPECT_EQ(recs.status().message(), path + ":2: unexpected text after the closing quote of field 2");
}

TEST(CsvReader, MissingAndEmptyFiles) {
  auto missing = CsvReader::open(testing::TempDir() + "/does_not_exist.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("does_not_exist.csv: No such file or directory"), std::string::npos);
  auto empty = CsvReader::open(write_file("empty.csv", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("expected a header line"), std::string::npos);
}

TEST(FileSources, MissingFileFailsTheRunNamingStageAndFile) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  Status s = rt.block_on(from_csv("/nonexistent/records.csv", {.name = "records"}) | sink([](CsvRecord) {}));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "stage 'records': /nonexistent/records.csv: No such file or directory");
}

// A source that fails at once stops the run while the stages after it are
// still being started on the test's thread: the stop must reach them without
// racing their start (once, a cancellation thrown past co_spawn ended the
// process). One runtime, many runs, so that the two threads meet often.
TEST(FileSources, AnImmediateFailureStopsStagesBeingStarted) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  for (int i = 0; i < 2000; ++i) {
    Status s = rt.block_on(from_csv("/nonexistent/records.csv", {.name = "records"}) |
                           map([](CsvRecord r) { return r; }) | sink([](CsvRecord) {}));
    ASSERT_EQ(s.code(), StatusCode::kNotFound) << "run " << i << ": " << s.message();
  }
}

TEST(FileSources, MalformedCsvLineFailsTheRunWithItsLine) {
  std::string path = write_file("bad_line.csv", "id\n1\n2\n\"3\n");
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::vector<std::string> seen;
  Status s = rt.block_on(from_csv(path) | sink([&](CsvRecord r) { seen.push_back(r.fields[0]); }));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(path + ":4:"), std::string::npos) << s.message();
}

TEST(FileSources, JsonlSkipsBlankLinesAndKeepsLineNumbers) {
  std::string path = write_file("records.jsonl", "{\"id\":1}\n\n  \n{\"id\":2}\r\n{\"id\":3}");
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::vector<JsonlRecord> got;
  ASSERT_TRUE(rt.block_on(from_jsonl(path) | sink([&](JsonlRecord r) { got.push_back(std::move(r)); })).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "{\"id\":1}");
  EXPECT_EQ(got[1].line, 4u);
  EXPECT_EQ(got[1].text, "{\"id\":2}");
  EXPECT_EQ(got[2].line, 5u);
}

TEST(FileSources, CsvRecordsArriveInFileOrder) {
  std::string text = "id\n";
  for (int i = 0; i < 5000; ++i) text += std::to_string(i) + "\n";
  std::string path = write_file("ordered.csv", text);
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  std::vector<int> ids;
  ASSERT_TRUE(
      rt.block_on(from_csv(path, {.capacity = 3}) | sink([&](CsvRecord r) { ids.push_back(std::stoi(r.fields[0])); }))
          .ok());
  ASSERT_EQ(ids.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(ids[i], i);
}

}  // namespace
}  // namespace sluice
