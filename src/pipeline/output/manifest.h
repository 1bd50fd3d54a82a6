// A run's manifest: which input records need no more work because their
// outcome is final and, if they were written, the file holding their row is
// committed. It is rewritten (atomically, like every output object) after
// each file commit, so after any interruption it describes only committed
// output, and `sluice run --resume` can carry on without writing a record
// twice or losing one.
//
// Records are named by their position in the input (counted from 0 over
// every input file, in name order), so a manifest also records the input
// files and their sizes: a resume over a changed input is refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice::pipeline {

// A set of positions as disjoint half-open ranges, merged as they touch.
class PositionSet {
 public:
  void add(std::uint64_t position) { add(position, position + 1); }
  void add(std::uint64_t first, std::uint64_t end);
  bool contains(std::uint64_t position) const;
  std::uint64_t size() const { return size_; }
  // first -> end, in order.
  const std::map<std::uint64_t, std::uint64_t>& ranges() const { return ranges_; }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;
  std::uint64_t size_ = 0;
};

// A shard's attempt (sluice run --shard): who wrote a manifest. Its
// positions are the shard's own numbering: input position / count.
struct ShardAttempt {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  std::string attempt;            // sluice's id for the attempt: 8 hex digits
  std::string scheduler_attempt;  // as the scheduler numbers it, when it says
  // Set when the attempt read the whole input (in the shard's commit):
  std::uint64_t input_records = 0;  // rows in the whole input, every shard's
  std::uint64_t dead_lettered = 0;  // the shard's records dead-lettered (not in `done`)

  // The shard's records in an input of `input_records` rows.
  std::uint64_t records() const { return input_records > index ? (input_records - index - 1) / count + 1 : 0; }
};

struct Manifest {
  std::uint64_t runs = 0;                 // runs that have written under this name
  std::vector<std::string> files;         // committed output files of every run, as keys of the store
  std::vector<std::string> dead_letters;  // dead-letter files of the runs, as keys of the store
  std::vector<std::pair<std::string, std::uint64_t>> inputs;  // input files and their sizes
  PositionSet done;
  // The manifest is written just before a file is committed, naming the file
  // and its records: if the file exists when the run is resumed, they are
  // done too (the run stopped after the commit, before the next manifest).
  std::optional<std::pair<std::string, PositionSet>> committing;
  std::optional<ShardAttempt> shard;  // a shard's attempt wrote it

  std::string to_json() const;
  // `where` names the manifest in messages.
  static Result<Manifest> parse(std::string_view json, const std::string& where);
};

// Reads positions in increasing order and says which a PositionSet holds,
// walking its ranges once.
class PositionCursor {
 public:
  explicit PositionCursor(const PositionSet& set) : it_(set.ranges().begin()), end_(set.ranges().end()) {}
  // REQUIRES: positions never decrease from one call to the next.
  bool contains(std::uint64_t position) {
    while (it_ != end_ && it_->second <= position) ++it_;
    return it_ != end_ && it_->first <= position;
  }

 private:
  std::map<std::uint64_t, std::uint64_t>::const_iterator it_, end_;
};

}  // namespace sluice::pipeline
