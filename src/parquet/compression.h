// Page compression codecs. A Compressor keeps its codec contexts between
// pages, so one per writer (not per page) avoids their set-up cost.
#pragma once

#include "sluice/parquet/schema.h"
#include "sluice/status.h"

#include <memory>
#include <string>
#include <string_view>

namespace sluice::parquet {

class Compressor {
 public:
  explicit Compressor(int zstd_level);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Replaces `out` with `in` compressed by `codec` (kNone: a copy).
  Status compress(Compression codec, std::string_view in, std::string& out);

 private:
  struct Contexts;
  int zstd_level_;
  std::unique_ptr<Contexts> ctx_;
};

// Replaces `out` with `in` decompressed; `size` is the expected size.
Status decompress(Compression codec, std::string_view in, std::size_t size, std::string& out);

// The Thrift CompressionCodec number of a codec.
int codec_id(Compression c);

}  // namespace sluice::parquet
