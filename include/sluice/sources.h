// File sources: CSV and JSON Lines files read on a thread of their own (file
// reads block; the event loop must not), handed to the pipeline through a
// bounded channel like any other stage.
//
// Errors end the run with a message naming the file and line, e.g.
//   stage 'records': records.csv:17: expected 2 fields (as in the header), found 3
// (CsvReader itself reads on past a malformed record: see CsvRecord::malformed.)
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/pipeline.h"
#include "sluice/status.h"

namespace sluice {

struct CsvOptions {
  std::string name;  // stage name; default "source#<index>"
  std::size_t capacity = kDefaultCapacity;
  char delimiter = ',';
};

// One record of a CSV file (RFC 4180: quoted fields may hold delimiters,
// doubled quotes and line breaks). The first line is the header; a UTF-8
// byte order mark before it is passed over, and so are blank lines (a line
// holding "" is a record with one empty field).
struct CsvRecord {
  std::uint64_t line = 0;  // where the record starts, counting from 1
  std::vector<std::string> fields;
  std::shared_ptr<const std::vector<std::string>> header;
  // Why the record is not well-formed CSV, as "<path>:<line>: ..." (a
  // count of fields unlike the header's, a quote inside an unquoted field,
  // text after a closing quote, a quoted field never closed, more bytes
  // than max_record_bytes), or OK. `fields` then holds what could be read
  // of it, and the reader goes on with the next record.
  Status malformed;

  // The field of the named column, or nullptr if there is no such column.
  const std::string* get(std::string_view column) const;
};

struct CsvReaderOptions {
  char delimiter = ',';
  // A record longer than this (all its fields and separators) is malformed:
  // the reader does not hold more of it, and goes on after it.
  std::size_t max_record_bytes = std::size_t{1} << 20;
};

// Reads CSV records one at a time. Not thread-safe.
class CsvReader {
 public:
  // Opens `path` and reads its header. Fails with kNotFound / kIoError naming
  // the file, or kInvalidArgument for an empty file or a malformed header.
  static Result<std::unique_ptr<CsvReader>> open(const std::string& path, CsvReaderOptions options = {});
  ~CsvReader();

  const std::shared_ptr<const std::vector<std::string>>& header() const { return header_; }

  // Reads the next record into `rec`: true, or false at the end of the file.
  // A malformed record is still a record (rec.malformed says why), and
  // reading goes on after it: after the end of its line, or, for a quoted
  // field that is never closed, from the line after the one it opened on
  // (the file is read again from there). Fails only where reading cannot go
  // on: a read error (kIoError), or a quoted field never closed in input
  // that cannot be read again, a pipe (kInvalidArgument, naming the line).
  Result<bool> next(CsvRecord& rec);

  // Bytes of the file consumed so far (for progress).
  std::uint64_t position() const { return buf_offset_ + pos_; }
  // Blank lines passed over so far.
  std::uint64_t blank_lines() const { return blank_lines_; }

 private:
  CsvReader(std::string path, std::FILE* f, CsvReaderOptions options);
  int get();
  int peek();
  Result<bool> parse_record(std::vector<std::string>& fields, Status& malformed);
  Result<bool> unclosed(std::uint64_t opened, std::uint64_t next_line_offset, bool at_end, Status& malformed);
  void skip_line();
  Status error_at(std::uint64_t line, std::string_view what) const;

  std::string path_;
  std::FILE* file_;
  CsvReaderOptions options_;
  std::vector<char> buf_;
  std::uint64_t buf_offset_ = 0;  // of buf_[0] in the file
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t line_ = 1;
  bool quoted_ = false;  // the record parse_record read had a quoted field
  std::uint64_t blank_lines_ = 0;
  std::shared_ptr<const std::vector<std::string>> header_;
};

// One line of a JSON Lines file. Blank lines are not records and are passed
// over; the text is not parsed here.
struct JsonlRecord {
  std::uint64_t line = 0;
  std::string text;
};

using CsvSource = Source<CsvRecord, detail::UniqueFunction<Stream<CsvRecord>(detail::FlowState&)>>;
using JsonlSource = Source<JsonlRecord, detail::UniqueFunction<Stream<JsonlRecord>(detail::FlowState&)>>;

CsvSource from_csv(std::string path, CsvOptions opt = {});
JsonlSource from_jsonl(std::string path, StageOptions opt = {});

}  // namespace sluice
