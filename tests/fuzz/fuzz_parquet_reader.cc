// Parquet files: any bytes opened as a Parquet file (footer, Thrift metadata,
// pages, encodings, codecs) and every row group read: rows or an error.
#include "fuzz_util.h"
#include "sluice/parquet/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::fuzz::MemFile file(data, size);
  auto reader = sluice::parquet::ParquetReader::open(file.path());
  if (!reader.ok()) return 0;
  const auto& info = (*reader)->info();
  for (std::size_t g = 0; g < info.row_groups.size() && g < 64; ++g) {
    auto rows = (*reader)->row_group(g);
    if (!rows.ok()) break;
    for (const auto& row : *rows) {
      if (row.size() != info.columns.size()) __builtin_trap();
    }
  }
  return 0;
}
