// Page compression codecs. A Compressor keeps its codec contexts between
// pages, so one per writer (not per page) avoids their set-up cost.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sluice/parquet/schema.h"
#include "sluice/status.h"

namespace sluice::parquet {

class Compressor {
 public:
  explicit Compressor(int zstd_level);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // `in` compressed by `codec`: a view of a buffer the compressor owns,
  // valid until the next call (kNone: `in` itself, no copy).
  Result<std::string_view> compress(Compression codec, std::string_view in);

 private:
  struct Contexts;
  char* room(std::size_t n);  // the buffer, at least n bytes, never zero-filled
  int zstd_level_;
  std::unique_ptr<Contexts> ctx_;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
};

// Replaces `out` with `in` decompressed; `size` is the expected size.
Status decompress(Compression codec, std::string_view in, std::size_t size, std::string& out);

// The Thrift CompressionCodec number of a codec.
int codec_id(Compression c);

}  // namespace sluice::parquet
