// KeySet: which input keys a run has read, to find duplicates. A flat
// open-addressing table of 64-bit fingerprints, so its memory is about 8 to
// 16 bytes a key (it doubles when three quarters full): a single int64 key
// is its own fingerprint (no two keys collide), other keys are hashed (two
// distinct keys collide with a probability of about n^2 / 2^65 for n keys).
// Not thread-safe: the input's reader owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "value.h"

namespace sluice::pipeline {

class KeySet {
 public:
  // The fingerprint of a record's key (its values in key order).
  static std::uint64_t fingerprint(const std::vector<const Value*>& key);

  // Adds a fingerprint: false if it was there already.
  bool insert(std::uint64_t fingerprint);
  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(std::uint64_t); }

 private:
  void grow();

  std::vector<std::uint64_t> slots_;  // 0: empty (the fingerprint 0 is kept in has_zero_)
  std::size_t size_ = 0;
  bool has_zero_ = false;
};

}  // namespace sluice::pipeline
