// A record on its way through a run: where it came from in the input, the
// values it has so far (its input columns, then its steps' fields, then its
// joins' columns, by slot), the answers it keeps until its last one is in,
// and, once it ends, its output row or why it has none.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/data/value.h"

namespace sluice::pipeline {

// An answer kept for its arrays until the record's last answer is in.
// Its body is held as it came: gzip or deflate answers stay compressed
// (smaller while the record waits, and inflated on the CPU pool).
struct Answer {
  int step = 0;
  std::int64_t loop = 0;  // the for_each value it answered (over a list: the element's index)
  std::string body;
  std::string encoding;  // its Content-Encoding: "" when not compressed
};

struct Record {
  std::uint64_t position = 0;  // in the whole input, from 0
  std::uint64_t line = 0;
  std::uint32_t input = 0;  // which input file (an index into the engine's list)
  std::vector<Value> slots;
  std::vector<std::vector<Value>> lists;  // list fields of its answers, while its requests go on
  std::vector<Answer> answers;            // while its requests go on
  std::size_t body_bytes = 0;             // of those answers
  std::size_t peak_bytes = 0;             // the most body_bytes has been
  std::vector<Value> row;                 // the output columns, once computed
  // kUnfinished: the run stopped before the record could end (the API was
  // given up on, the run was abandoned): no verdict, --resume does it again.
  enum class Outcome : std::uint8_t {
    kPending,
    kWritten,
    kFiltered,
    kNotJoined,
    kDead,
    kUnfinished
  } outcome = Outcome::kPending;
  std::string dead_step, dead_url, dead_error;
  // Set once nobody waits for the record's outcome any more (`sluice serve`:
  // its request's deadline passed): no further request is sent for it.
  std::shared_ptr<const std::atomic<bool>> given_up;
};

// Records counted by how they ended; read from any thread.
struct EndCounts {
  std::atomic<std::uint64_t> written{0}, filtered{0}, not_joined{0}, dead{0}, unfinished{0};

  // One more that ended so (kPending, which no record ends with, as dead).
  void add(Record::Outcome o) {
    constexpr auto relaxed = std::memory_order_relaxed;
    switch (o) {
      case Record::Outcome::kWritten:
        written.fetch_add(1, relaxed);
        break;
      case Record::Outcome::kFiltered:
        filtered.fetch_add(1, relaxed);
        break;
      case Record::Outcome::kNotJoined:
        not_joined.fetch_add(1, relaxed);
        break;
      case Record::Outcome::kUnfinished:
        unfinished.fetch_add(1, relaxed);
        break;
      case Record::Outcome::kPending:
      case Record::Outcome::kDead:
        dead.fetch_add(1, relaxed);
        break;
    }
  }
};

}  // namespace sluice::pipeline
