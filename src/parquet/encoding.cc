#include "encoding.h"

#include <cstring>

namespace sluice::parquet {
namespace {

void put_varint(std::uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Packs 8 values LSB first into bit_width bytes.
template <class T>
void pack8(const T* v, int bit_width, std::string& out) {
  std::uint64_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 8; ++i) {
    acc |= static_cast<std::uint64_t>(v[i]) << bits;
    bits += bit_width;
    while (bits >= 8) {
      out.push_back(static_cast<char>(acc));
      acc >>= 8;
      bits -= 8;
    }
  }
}

// Length of the run of values equal to v[i] starting at i, counting at most `cap`.
template <class T>
std::size_t run_at(const T* v, std::size_t i, std::size_t n, std::size_t cap) {
  std::size_t r = 1;
  while (i + r < n && r < cap && v[i + r] == v[i]) ++r;
  return r;
}

template <class T>
void encode(const T* v, std::size_t n, int bit_width, std::string& out) {
  const std::size_t value_bytes = static_cast<std::size_t>((bit_width + 7) / 8);
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = run_at(v, i, n, n);
    if (run >= 8) {
      put_varint(static_cast<std::uint64_t>(run) << 1, out);
      std::uint32_t value = static_cast<std::uint32_t>(v[i]);
      for (std::size_t b = 0; b < value_bytes; ++b) out.push_back(static_cast<char>(value >> (8 * b)));
      i += run;
      continue;
    }
    // Literal groups of 8 until a run of 8 or more begins (or the end).
    std::size_t start = i;
    while (i < n && run_at(v, i, n, 8) < 8) i += 8;
    std::size_t count = std::min(i, n) - start;
    std::size_t groups = (count + 7) / 8;
    put_varint((static_cast<std::uint64_t>(groups) << 1) | 1, out);
    std::size_t full = count / 8;
    for (std::size_t g = 0; g < full; ++g) pack8(v + start + 8 * g, bit_width, out);
    if (full < groups) {  // the last group, padded with zeros
      T pad[8] = {};
      std::memcpy(pad, v + start + 8 * full, (count - 8 * full) * sizeof(T));
      pack8(pad, bit_width, out);
    }
    i = start + count;
  }
}

}  // namespace

void encode_hybrid(const std::uint32_t* values, std::size_t n, int bit_width, std::string& out) {
  encode(values, n, bit_width, out);
}
void encode_hybrid(const std::uint8_t* values, std::size_t n, int bit_width, std::string& out) {
  encode(values, n, bit_width, out);
}

Status decode_hybrid(std::string_view in, int bit_width, std::size_t n, std::vector<std::uint32_t>& out) {
  out.clear();
  auto bad = [&](const char* what) { return Status::DataLoss(std::string("RLE/bit-packed data: ") + what); };
  if (bit_width < 0 || bit_width > 32) return bad("a bit width past 32");
  out.reserve(n);
  std::size_t pos = 0;
  const std::size_t value_bytes = static_cast<std::size_t>((bit_width + 7) / 8);
  while (out.size() < n) {
    std::uint64_t header = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= in.size() || shift > 63) return bad("truncated run header");
      auto b = static_cast<std::uint8_t>(in[pos++]);
      header |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) break;
    }
    if (header & 1) {
      std::uint64_t count = (header >> 1) * 8;
      std::uint64_t bytes = (header >> 1) * static_cast<std::uint64_t>(bit_width);
      if (bytes > in.size() - pos) return bad("truncated bit-packed run");
      std::uint64_t acc = 0;
      int bits = 0;
      const std::uint32_t mask = bit_width == 32 ? 0xFFFFFFFFu : ((1u << bit_width) - 1);
      for (std::uint64_t k = 0; k < count && out.size() < n; ++k) {  // (a width of 0 takes no bytes)
        while (bits < bit_width) {
          acc |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in[pos++])) << bits;
          bits += 8;
        }
        out.push_back(static_cast<std::uint32_t>(acc) & mask);
        acc >>= bit_width;
        bits -= bit_width;
      }
    } else {
      std::uint64_t count = header >> 1;
      if (value_bytes > in.size() - pos) return bad("truncated RLE run");
      std::uint32_t value = 0;
      for (std::size_t b = 0; b < value_bytes; ++b)
        value |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[pos++])) << (8 * b);
      if (count == 0) return bad("empty RLE run");
      for (std::uint64_t k = 0; k < count && out.size() < n; ++k) out.push_back(value);
    }
  }
  return Status();
}

}  // namespace sluice::parquet
