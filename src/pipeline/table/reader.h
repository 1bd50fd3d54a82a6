// Tables read row by row: the input, and the datasets before they are
// indexed. A CSV file, JSON lines (a file or standard input) or a Parquet
// file, each row as one typed value per declared column, with its line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/file/config.h"
#include "sluice/status.h"

namespace sluice::pipeline {

// The input's files: its path, the files its glob matches (in name order),
// or "-" for standard input. kNotFound naming the glob if it matches none.
Result<std::vector<std::string>> input_files(const TableConfig& input);

// Reads a CSV, JSONL or Parquet table's typed columns row by row (the
// input's reader too). `fn(values, line)` gets one value per declared column.
class TableReader {
 public:
  static Result<std::unique_ptr<TableReader>> open(const TableConfig& config);
  virtual ~TableReader() = default;
  // false at the end. A row that does not fit the declared columns is an
  // error "file:line: column 'x': ..." (the caller decides what it costs).
  virtual Result<bool> next(std::vector<Value>& values, std::uint64_t& line, Status& row_error) = 0;
  virtual const std::string& path() const = 0;
  // Where waiting for more input (standard input) should give up once
  // `stop` is set, ending the input there. Not every format can.
  virtual void stop_when(const std::atomic<bool>* /*stop*/) {}
  // Bytes of the file consumed so far (0 when it cannot be told).
  virtual std::uint64_t position() const = 0;
};

}  // namespace sluice::pipeline
