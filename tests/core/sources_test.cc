#include "sluice/sources.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace sluice {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Reads a whole CSV file: its records (malformed ones included), or the
// error that stopped the reader.
Result<std::vector<CsvRecord>> read_all(const std::string& path, CsvReaderOptions options = {}) {
  Result<std::unique_ptr<CsvReader>> r = CsvReader::open(path, options);
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

// "line: first field" of each record, and why for a malformed one.
std::vector<std::string> summary(const std::vector<CsvRecord>& recs, const std::string& path) {
  std::vector<std::string> out;
  for (const auto& r : recs) {
    std::string m = r.malformed.ok() ? "" : " (" + r.malformed.message().substr(path.size() + 1) + ")";
    out.push_back(std::to_string(r.line) + ": " + (r.fields.empty() ? "" : r.fields[0]) + m);
  }
  return out;
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

TEST(CsvReader, ARecordWithTheWrongFieldCountIsMalformedAndReadingGoesOn) {
  std::string path = write_file("short.csv", "id,name\n1,a\n2\n3,c,extra\n4,d\n");
  auto recs = read_all(path);
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  EXPECT_EQ(summary(*recs, path), (std::vector<std::string>{
                                      "2: 1",
                                      "3: 2 (3: expected 2 fields (as in the header), found 1)",
                                      "4: 3 (4: expected 2 fields (as in the header), found 3)",
                                      "5: 4",
                                  }));
  EXPECT_EQ((*recs)[1].malformed.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*recs)[1].malformed.message(), path + ":3: expected 2 fields (as in the header), found 1");
}

TEST(CsvReader, BadQuotingIsMalformedAndReadingGoesOnAtTheNextLine) {
  std::string path = write_file("bad_quotes.csv", "id,name\n1,bo\"b\n2,\"a\"b\n3,\"fine, \"\"quoted\"\"\"\n");
  auto recs = read_all(path);
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  EXPECT_EQ(summary(*recs, path), (std::vector<std::string>{
                                      "2: 1 (2: a quote inside unquoted field 2)",
                                      "3: 2 (3: unexpected text after the closing quote of field 2)",
                                      "4: 3",
                                  }));
  EXPECT_EQ((*recs)[2].fields[1], "fine, \"quoted\"");
}

TEST(CsvReader, AQuoteNeverClosedIsMalformedAndTheLinesAfterItAreRecords) {
  // Read naively, the open quote on line 3 would swallow the rest of the
  // file as one field: those lines are read again as records of their own.
  std::string path = write_file("open_quote.csv", "id,name\n1,\"two\nlines\"\n2,\"never\n3,c\n4,d\n");
  auto recs = read_all(path);
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  EXPECT_EQ(summary(*recs, path),
            (std::vector<std::string>{
                "2: 1",
                "4: 2 (4: a quoted field is not closed before the end of the file; read on from line 5)",
                "5: 3",
                "6: 4",
            }));
  EXPECT_EQ((*recs)[0].fields[1], "two\nlines");
  // On its last line, with nothing after it.
  std::string last = write_file("open_quote_last.csv", "id,name\n1,\"never");
  recs = read_all(last);
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  EXPECT_EQ(summary(*recs, last),
            (std::vector<std::string>{"2: 1 (2: a quoted field is not closed before the end of the file)"}));
}

TEST(CsvReader, ARecordLongerThanTheLimitIsMalformedWithoutBeingHeld) {
  std::string big(5000, 'x');
  std::string path =
      write_file("long.csv", "id,note\n1,a\n2," + big + "\n3,\"" + big + "\n4,d\n5,e\n6,\"f\n" + big + "\n7,g\n");
  auto recs = read_all(path, {.max_record_bytes = 1000});
  ASSERT_TRUE(recs.ok()) << recs.status().to_string();
  EXPECT_EQ(summary(*recs, path),
            (std::vector<std::string>{
                "2: 1",
                "3: 2 (3: the record is longer than max_record_bytes (1000))",
                "4: 3 (4: the record is longer than max_record_bytes (1000))",
                "5: 4",
                "6: 5",
                "7: 6 (7: a quoted field is not closed within max_record_bytes (1000); read on from line 8)",
                "8:  (8: the record is longer than max_record_bytes (1000))",
                "9: 7",
            }));
  EXPECT_LE((*recs)[1].fields.size(), 1u) << "nothing past the limit was kept";
}

TEST(CsvReader, AQuoteNeverClosedInAPipeStopsTheReaderNamingTheLine) {
  // A pipe cannot be read again from the line after the quote.
  std::string fifo = testing::TempDir() + "/open_quote.fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo) << "id,name\n1,a\n2,\"never\n3,c\n"; });
  auto recs = read_all(fifo);
  writer.join();
  ASSERT_FALSE(recs.ok());
  EXPECT_EQ(recs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(recs.status().message().find(fifo + ":3: a quoted field is not closed before the end of the file, and the "
                                                "input cannot be read again from the next line"),
            std::string::npos)
      << recs.status().message();
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
