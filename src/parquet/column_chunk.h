// Encodes one column of one row group into a Parquet column chunk, written
// page by page to the output stream: an
// optional dictionary page, then data pages (v1) bounded by bytes, each with
// its levels, values, statistics and compression.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compression.h"
#include "sluice/output_stream.h"
#include "sluice/parquet/batch.h"
#include "sluice/parquet/schema.h"
#include "sluice/status.h"

namespace sluice::parquet {

// Thrift Encoding numbers.
enum Encoding : int { kPlain = 0, kRle = 3, kRleDictionary = 8 };
// Thrift Type numbers (physical types).
enum PhysicalType : int { kBoolean = 0, kInt32 = 1, kInt64 = 2, kFloat = 4, kDouble = 5, kByteArray = 6 };

PhysicalType physical_type(ColumnType t);
bool is_list(ColumnType t);

struct Statistics {
  bool has_min_max = false;
  std::string min;  // PLAIN encoded, no length prefix for strings
  std::string max;
  std::int64_t null_count = 0;
};

struct ChunkOptions {
  Compression codec = Compression::kZstd;
  std::uint64_t page_bytes = 1 << 20;
  std::uint64_t dictionary_bytes = 1 << 20;
  bool dictionary = true;
};

struct EncodedChunk {
  std::int64_t start = 0;                    // file offset of the chunk's first page
  std::int64_t compressed_size = 0;          // of the pages as written, headers included
  std::int64_t dictionary_page_offset = -1;  // file offset; -1: none
  std::int64_t data_page_offset = 0;         // file offset of the first data page
  std::int64_t num_values = 0;               // level entries (values, nulls, empty lists)
  std::int64_t uncompressed_size = 0;        // of the pages, headers included
  std::vector<int> encodings;
  Statistics stats;
  std::uint32_t data_pages = 0;
};

// Buffers reused from one chunk to the next (one set per writer), so large
// row groups do not pay for fresh, zero-filled allocations every time.
struct ChunkScratch {
  std::vector<std::uint32_t> indices;
  std::vector<std::int32_t> slots;
  std::vector<std::uint8_t> def, rep;
  std::vector<std::size_t> entry, value;
  std::string body, header;
};

// Writes the chunk's pages to `sink` as they are made, and describes them in `out`.
// REQUIRES: `data` holds `rows` rows valid for `column` (see validate()).
Status encode_chunk(const Column& column, const ColumnData& data, std::size_t rows, const ChunkOptions& options,
                    Compressor& compressor, ChunkScratch& scratch, OutputStream& sink, EncodedChunk& out);

}  // namespace sluice::parquet
