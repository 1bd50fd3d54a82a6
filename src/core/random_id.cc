#include "sluice/detail/random_id.h"

#include <random>

namespace sluice::detail {

std::string random_hex(std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    unsigned v = rd();
    for (int i = 0; i < 8 && out.size() < digits; ++i, v >>= 4) out.push_back(kHex[v & 15]);
  }
  return out;
}

}  // namespace sluice::detail
