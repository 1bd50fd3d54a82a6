// Parquet's value encodings that are more than a memcpy: the RLE/bit-packed
// hybrid (levels and dictionary indices), and UTF-8 validation for strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::parquet {

// Bits needed for values 0..max_value (0 for max_value 0).
inline int bit_width(std::uint64_t max_value) {
  int w = 0;
  while (max_value != 0) ++w, max_value >>= 1;
  return w;
}

// Appends the RLE/bit-packed hybrid encoding of n values, each below
// 2^bit_width (1 <= bit_width <= 32), without a length prefix. Runs of 8 or
// more equal values become RLE runs; the rest is bit-packed in groups of 8.
void encode_hybrid(const std::uint32_t* values, std::size_t n, int bit_width, std::string& out);
void encode_hybrid(const std::uint8_t* values, std::size_t n, int bit_width, std::string& out);

// Decodes n values; fails with kDataLoss on truncated or malformed input.
Status decode_hybrid(std::string_view in, int bit_width, std::size_t n, std::vector<std::uint32_t>& out);

}  // namespace sluice::parquet
