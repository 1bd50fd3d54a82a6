// A small Parquet reader, for `sluice inspect` and for loading files that
// sluice wrote: the footer of any Parquet file, and the values of files whose
// columns are flat or sluice's lists (PLAIN or dictionary pages, data page
// v1, the codecs the writer supports).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/parquet/schema.h"
#include "sluice/status.h"

namespace sluice::parquet {

struct ChunkInfo {
  std::string path;   // "name", or "name.list.element"
  std::string codec;  // "ZSTD", "SNAPPY", ...
  std::vector<std::string> encodings;
  std::int64_t num_values = 0;
  std::int64_t compressed_bytes = 0;
  std::int64_t uncompressed_bytes = 0;
  std::optional<std::int64_t> null_count;
  std::optional<std::string> min;  // rendered as text, as in head()
  std::optional<std::string> max;
};

struct RowGroupInfo {
  std::int64_t rows = 0;
  std::vector<ChunkInfo> columns;
};

struct FileInfo {
  std::uint64_t file_bytes = 0;
  std::int64_t rows = 0;
  std::string created_by;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<Column> columns;  // as sluice types
  std::vector<RowGroupInfo> row_groups;
};

class ParquetReader {
 public:
  // Reads and checks the footer. Fails with kNotFound / kIoError naming the
  // file, or kDataLoss saying what is wrong with it (not Parquet, truncated,
  // a column type sluice cannot read).
  static Result<std::unique_ptr<ParquetReader>> open(const std::string& path);
  ~ParquetReader();

  const FileInfo& info() const { return info_; }

  // The first `n` rows, each value rendered as text ("null" for nulls,
  // strings quoted, timestamps in ISO 8601 UTC, lists in brackets).
  Result<std::vector<std::vector<std::string>>> head(std::size_t n);
  // Every row of row group `g`, rendered the same way (doubles in their
  // shortest exact form, strings with \" \\ and \xNN escapes).
  Result<std::vector<std::vector<std::string>>> row_group(std::size_t g);

 private:
  struct Chunk;
  ParquetReader() = default;
  Status read_at(std::uint64_t offset, std::size_t n, std::string& out) const;
  Status render_group(std::size_t g, std::size_t want, std::vector<std::vector<std::string>>& rows);
  int fd_ = -1;
  std::string path_;
  FileInfo info_;
  std::vector<std::vector<Chunk>> chunks_;  // per row group, per column
};

}  // namespace sluice::parquet
