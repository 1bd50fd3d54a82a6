// Helpers of the end-to-end tests: DuckDB reading what a run wrote, and the
// comparison with the oracle.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "oracle.h"

namespace sluice::pipeline {

// Rows of a query, by DuckDB: one JSON object a line.
inline std::vector<std::string> duckdb_rows(const std::string& sql) {
  std::string cmd = "cd '" SLUICE_INTEROP_DIR "' && node duckdb_rows.mjs \"" + sql + "\" 2>&1";
  std::vector<std::string> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char* line = nullptr;
  std::size_t cap = 0;
  while (getline(&line, &cap, p) > 0) out.emplace_back(line);
  free(line);
  pclose(p);
  return out;
}

// Waits until `happened()` (looking every 5 ms, for at most two minutes:
// the bound is for a hung run, not a measure of speed). The tests wait for
// what they need to have happened, never for a guess of how long it takes,
// so that a loaded machine or a sanitizer build only makes them slower.
template <class F>
inline bool eventually(F happened) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (!happened()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline bool close_enough(double got, double want) {
  return got == want || std::fabs(got - want) <= 1e-9 * std::max(std::fabs(got), std::fabs(want));
}

// Compares one row (a JSON object of the output columns: as DuckDB prints
// them, integers as strings, or as sluice stream writes them) with the
// oracle's row of `id`, adding a failure for each difference.
inline void check_row(simdjson::dom::element row, std::uint64_t id) {
  const oracle::Row o = oracle::row(id);
  auto num = [&](const char* k) -> std::int64_t {
    if (row[k].is_string()) return std::stoll(std::string(std::string_view(row[k].get_string())));
    return std::int64_t(row[k]);
  };
  auto dbl = [&](const char* k) { return double(row[k]); };
  auto str = [&](const char* k) { return std::string(std::string_view(row[k].get_string())); };
  const std::string where = " (id " + std::to_string(o.id) + ")";
  EXPECT_EQ(num("id"), o.id) << where;
  EXPECT_EQ(str("region"), o.region) << where;
  EXPECT_EQ(str("segment"), o.segment) << where;
  EXPECT_TRUE(close_enough(dbl("weight"), o.weight)) << where;
  EXPECT_EQ(str("kind"), o.kind) << where;
  EXPECT_TRUE(close_enough(dbl("score"), o.score)) << where;
  EXPECT_EQ(num("n_events"), o.n_events) << where;
  const std::pair<const char*, double> doubles[] = {{"v_sum", o.v_sum}, {"v_mean", o.v_mean}, {"v_std", o.v_std},
                                                    {"v_min", o.v_min}, {"v_max", o.v_max},   {"v_p50", o.v_p50},
                                                    {"v_p90", o.v_p90}, {"v_p99", o.v_p99},   {"v_ewma", o.v_ewma}};
  for (auto [k, v] : doubles) EXPECT_TRUE(close_enough(dbl(k), v)) << k << " " << dbl(k) << " != " << v << where;
  EXPECT_EQ(num("cnt_x"), o.cnt_x) << where;
  EXPECT_EQ(num("cnt_y"), o.cnt_y) << where;
  EXPECT_EQ(num("cnt_z"), o.cnt_z) << where;
}

// Compares every row DuckDB reads in `dir` with the oracle; returns the
// number of rows checked and adds a failure for each difference.
// `source`: what DuckDB reads, by default every item-features file of `dir`.
// `lost`: ids the run could not write (their rows must be absent).
inline std::size_t check_output(const std::string& dir, std::uint64_t n, std::string source = "",
                                const std::function<bool(std::uint64_t)>& lost = nullptr) {
  if (source.empty()) source = "read_parquet('" + dir + "/item-features-*.parquet')";
  auto lines = duckdb_rows("SELECT * FROM " + source + " ORDER BY id");
  std::vector<std::uint64_t> want;
  for (std::uint64_t id = 1; id <= n; ++id) {
    if (oracle::fate(id) == oracle::Fate::kWritten && !(lost && lost(id))) want.push_back(id);
  }
  EXPECT_EQ(lines.size(), want.size()) << (lines.empty() ? "no rows" : lines[0]);
  simdjson::dom::parser parser;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < lines.size() && i < want.size(); ++i) {
    simdjson::dom::element row;
    if (parser.parse(lines[i]).get(row)) {
      ADD_FAILURE() << "not JSON: " << lines[i];
      return checked;
    }
    check_row(row, want[i]);
    ++checked;
  }
  return checked;
}

struct Expected {
  std::uint64_t written = 0, filtered = 0, not_joined = 0;
  std::uint64_t requests = 0;  // the item, and for a kept one each page of events
};
inline Expected expected_counts(std::uint64_t n) {
  Expected e;
  for (std::uint64_t id = 1; id <= n; ++id) {
    e.requests += oracle::fate(id) == oracle::Fate::kFiltered ? 1 : 2 + (oracle::mix(id) >> 16) % 4;
    switch (oracle::fate(id)) {
      case oracle::Fate::kWritten:
        ++e.written;
        break;
      case oracle::Fate::kFiltered:
        ++e.filtered;
        break;
      case oracle::Fate::kNotJoined:
        ++e.not_joined;
        break;
    }
  }
  return e;
}

}  // namespace sluice::pipeline
