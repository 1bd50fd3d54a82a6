// ParquetWriter: writes ColumnBatches into one Parquet file on an
// OutputStream. RollingParquetWriter: a sequence of such files with
// deterministic names, a new one after a number of rows or bytes.
//
// Memory: the writer holds at most one row group's values (bounded by
// row_group_rows and row_group_bytes) plus that row group's encoded pages
// while it writes them, never the whole file.
//
// Lifecycle: write()* then close() (footer written, stream closed: the file
// becomes visible) or abort() (nothing visible). Destroying an open writer
// aborts. After an error the writer is failed: later calls return the error.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/output_stream.h"
#include "sluice/parquet/batch.h"
#include "sluice/parquet/schema.h"
#include "sluice/status.h"

namespace sluice::parquet {

struct WriterOptions {
  Compression compression = Compression::kZstd;
  int zstd_level = 3;  // 1 (fast) .. 19 (small)
  // A row group ends at this many rows, or at this many bytes of buffered
  // values. 128 Ki rows keeps the buffer small enough to be reused warm from
  // one row group to the next (about 16 MiB for a 19-column feature table):
  // 1.2-1.4x faster than 1 Mi rows here, with files 0.3 % larger.
  std::uint64_t row_group_rows = std::uint64_t{128} * 1024;
  std::uint64_t row_group_bytes = 128ull << 20;
  std::uint64_t page_bytes = 1ull << 20;        // a data page holds about this many bytes of values
  std::uint64_t dictionary_bytes = 1ull << 20;  // past this, a column chunk falls back to PLAIN
  bool dictionary = true;                       // try dictionary encoding at all
  // Written into the footer's key-value metadata, after sluice's own
  // ("sluice.version"); e.g. the pipeline config's hash.
  std::vector<std::pair<std::string, std::string>> metadata;
};

// What a closed file holds.
struct FileSummary {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint32_t row_groups = 0;
};

class ParquetWriter {
 public:
  // Checks the options (kInvalidArgument naming the bad one) and writes the
  // file's magic number.
  static Result<std::unique_ptr<ParquetWriter>> open(Schema schema, WriterOptions options,
                                                     std::unique_ptr<OutputStream> out);
  ~ParquetWriter();

  // Adds the batch's rows. Fails with kInvalidArgument naming the column and
  // row for a batch unlike the schema: a wrong number of columns or values,
  // a null in a required column, bad offsets, a bool not 0 or 1, a string
  // that is not UTF-8. A failed batch adds no rows.
  Status write(const ColumnBatch& batch);

  // Writes what is buffered and the footer, and closes the stream.
  Result<FileSummary> close();
  void abort();

  std::uint64_t rows() const;
  // Bytes written to the stream, plus an estimate of those buffered.
  std::uint64_t estimated_bytes() const;

 private:
  struct Impl;
  explicit ParquetWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks a batch against a schema, as ParquetWriter::write does.
Status validate(const Schema& schema, const ColumnBatch& batch);

struct RollingOptions {
  std::uint64_t file_rows = 10'000'000;     // a new file after this many rows
  std::uint64_t file_bytes = 512ull << 20;  // or this many bytes (checked between batches)
  std::string prefix = "part";              // files are <prefix>-00000.parquet, -00001, ...
  // false: a batch goes whole into one file (which may pass file_rows by
  // less than a batch), so a file is committed only between batches.
  bool split_batches = true;
  // Called with a file's name just before it is committed; an error fails
  // the writer and the file is not committed.
  std::function<Status(const std::string& name)> before_commit;
};

// Opens the stream for a file name (relative to wherever the caller writes).
using StreamFactory = std::function<Result<std::unique_ptr<OutputStream>>(const std::string& name)>;

class RollingParquetWriter {
 public:
  RollingParquetWriter(Schema schema, WriterOptions writer, RollingOptions rolling, StreamFactory open);
  ~RollingParquetWriter();
  Status write(const ColumnBatch& batch);
  // Closes the current file. The names and summaries of every closed file.
  Result<std::vector<std::pair<std::string, FileSummary>>> close();
  void abort();
  // The files committed so far (a full file is committed when the next
  // write starts another), in order.
  const std::vector<std::pair<std::string, FileSummary>>& committed() const { return done_; }

 private:
  Status roll();
  Schema schema_;
  WriterOptions writer_options_;
  RollingOptions rolling_;
  StreamFactory open_;
  std::unique_ptr<ParquetWriter> current_;
  std::string current_name_;
  std::vector<std::pair<std::string, FileSummary>> done_;
  Status failed_;
};

}  // namespace sluice::parquet
