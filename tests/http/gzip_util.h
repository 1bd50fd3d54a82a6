// gzip (or zlib, or raw deflate) of a string, for tests of answers that come compressed.
#pragma once

#include <zlib.h>

#include <string>

namespace sluice::http::testing {

// `window_bits` as deflateInit2 takes it: 15 + 16 gzip, 15 zlib, -15 raw.
inline std::string deflate_with(const std::string& in, int window_bits, int level = Z_DEFAULT_COMPRESSION) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string gzip(const std::string& in) { return deflate_with(in, 15 + 16); }

}  // namespace sluice::http::testing
