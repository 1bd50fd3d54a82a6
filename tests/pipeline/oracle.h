// An independent oracle of the reference workload ("item features"):
// each output row computed straight from the workload's formulas, with no
// HTTP, no JSON and no code of sluice's. Used to check what the pipeline
// wrote, value by value.
#pragma once

#include <cstdint>
#include <string>

namespace oracle {

inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

enum class Fate { kWritten, kFiltered, kNotJoined };

struct Row {
  std::int64_t id = 0;
  std::string region, segment;
  double weight = 0;
  std::string kind;
  double score = 0;
  std::int64_t n_events = 0;
  double v_sum = 0, v_mean = 0, v_std = 0, v_min = 0, v_max = 0, v_p50 = 0, v_p90 = 0, v_p99 = 0;
  std::int64_t cnt_x = 0, cnt_y = 0, cnt_z = 0;
  double v_ewma = 0;
};

inline bool has_entity(std::uint64_t id) { return mix(id ^ 0xABCDEF) % 10 != 0; }
inline double score_of(std::uint64_t id) { return static_cast<double>(mix(id) % 1000) / 1000.0; }

inline Fate fate(std::uint64_t id) {
  if (score_of(id) < 0.3) return Fate::kFiltered;
  return has_entity(id) ? Fate::kWritten : Fate::kNotJoined;
}

// The row of a record that is written.
Row row(std::uint64_t id);

// records.csv and entities.csv for ids 1..n, written from the formulas.
void write_inputs(const std::string& dir, std::uint64_t n);

}  // namespace oracle
