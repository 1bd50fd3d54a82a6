// KeySet: which input keys a run has read, to find duplicates. A flat
// open-addressing table of 64-bit fingerprints, so its memory is about 11 to
// 22 bytes a key (it doubles when three quarters full): a single int64 key
// is its own fingerprint (no two keys collide), other keys are hashed (two
// distinct keys collide with a probability of about n^2 / 2^65 for n keys).
// Single int64 keys that come in runs of consecutive values (ids in order,
// the common case) are kept as runs, a few bytes each however long: a
// million ids in order take bytes, not 16 MiB.
// Not thread-safe: the input's reader owns it.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "pipeline/data/value.h"

namespace sluice::pipeline {

class KeySet {
 public:
  // The fingerprint of a record's key (its values in key order).
  static std::uint64_t fingerprint(const std::vector<const Value*>& key);

  // Adds a fingerprint: false if it was there already.
  bool insert(std::uint64_t fingerprint);
  // Adds a single int64 key: false if it was there already. (Keys added
  // this way and by fingerprint() are one set: use one way for a run.)
  bool insert_int(std::int64_t key);
  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const;

 private:
  // A run shorter than this goes into the table when the next one starts:
  // a tree node costs what 3 to 6 keys in the table do.
  static constexpr std::int64_t kMinRun = 32;

  void grow();
  bool in_table(std::uint64_t f) const;
  bool in_runs(std::int64_t key) const;
  void close_run();

  std::map<std::int64_t, std::int64_t> runs_;  // first -> last: disjoint runs of consecutive int keys
  std::int64_t run_first_ = 0, run_last_ = 0;  // the run being extended, when run_open_
  bool run_open_ = false;

  std::vector<std::uint64_t> slots_;  // 0: empty (the fingerprint 0 is kept in has_zero_)
  std::size_t size_ = 0;
  bool has_zero_ = false;
};

}  // namespace sluice::pipeline
