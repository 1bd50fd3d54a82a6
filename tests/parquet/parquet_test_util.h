// Helpers for the Parquet tests: canonical expected values, and the
// independent readers (DuckDB, hyparquet, parquet-wasm) run through
// tests/interop/check_parquet.mjs.
#pragma once

#include <string>
#include <vector>

#include "sluice/parquet/writer.h"

namespace sluice::parquet::testing {

// What DuckDB should find in the footer for one column of one row group.
struct ExpectedMeta {
  int row_group = 0;
  std::string column;
  long null_count = 0;
  std::string min_json;  // JSON value ("1.5", "\"abc\"", "null"); empty: not checked
  std::string max_json;
  std::string encoding;     // must be among the chunk's encodings; empty: not checked
  std::string no_encoding;  // must not be
  std::string compression;  // e.g. "ZSTD"; empty: not checked
};

// The canonical JSON of the rows of `batches` (see check_parquet.mjs).
std::string expected_json(const Schema& schema, const std::vector<ColumnBatch>& batches,
                          const std::vector<ExpectedMeta>& meta = {});

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

// Runs check_parquet.mjs with `reader` on `parquet_path` against the expected
// JSON (written to a temporary file next to it).
CheckResult check_with(const std::string& reader, const std::string& parquet_path, const std::string& expected);

// Writes batches to `path` with `options`; fails the current test on error.
FileSummary write_file(const std::string& path, const Schema& schema, const std::vector<ColumnBatch>& batches,
                       WriterOptions options = {});

// A scratch directory for one test, emptied first.
std::string scratch_dir(const std::string& name);

}  // namespace sluice::parquet::testing
