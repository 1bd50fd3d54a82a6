#include "oracle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

namespace oracle {

Row row(std::uint64_t id) {
  const std::uint64_t h = mix(id), e = mix(id ^ 0xABCDEF);
  Row r;
  r.id = static_cast<std::int64_t>(id);
  r.region = "r" + std::to_string((e >> 8) % 16);
  r.segment = "s" + std::to_string((e >> 16) % 100);
  r.weight = static_cast<double>((e >> 24) % 10000) / 100.0;
  r.kind = std::string(1, static_cast<char>('a' + (h >> 32) % 3));
  r.score = static_cast<double>(h % 1000) / 1000.0;
  const std::uint64_t n = 200 * (1 + (h >> 16) % 4);
  std::vector<double> v(n);
  std::vector<std::int64_t> t(n);
  for (std::uint64_t j = 0; j < n; ++j) {
    const std::uint64_t m = mix((id << 10) | j);
    t[j] = 1700000000000LL + 1000 * static_cast<std::int64_t>((j * 337) % 800);
    v[j] = static_cast<double>(m % 1000000) / 1000.0;
    const int c = static_cast<int>((m >> 20) % 3);
    (c == 0 ? r.cnt_x : c == 1 ? r.cnt_y : r.cnt_z) += 1;
  }
  r.n_events = static_cast<std::int64_t>(n);
  for (double x : v) r.v_sum += x;
  r.v_mean = r.v_sum / static_cast<double>(n);
  double sq = 0;
  for (double x : v) sq += (x - r.v_mean) * (x - r.v_mean);
  r.v_std = std::sqrt(sq / static_cast<double>(n));
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  r.v_min = sorted.front();
  r.v_max = sorted.back();
  auto q = [&](double p) { return sorted[static_cast<std::size_t>(std::floor(p * static_cast<double>(n - 1)))]; };
  r.v_p50 = q(0.5);
  r.v_p90 = q(0.9);
  r.v_p99 = q(0.99);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return t[a] < t[b]; });
  r.v_ewma = v[order[0]];
  for (std::size_t k = 1; k < n; ++k) r.v_ewma = 0.1 * v[order[k]] + 0.9 * r.v_ewma;
  return r;
}

void write_inputs(const std::string& dir, std::uint64_t n) {
  std::FILE* rec = std::fopen((dir + "/records.csv").c_str(), "w");
  std::FILE* ent = std::fopen((dir + "/entities.csv").c_str(), "w");
  std::fputs("id\n", rec);
  std::fputs("id,region,segment,weight\n", ent);
  for (std::uint64_t id = 1; id <= n; ++id) {
    std::fprintf(rec, "%llu\n", static_cast<unsigned long long>(id));
    if (!has_entity(id)) continue;
    const std::uint64_t e = mix(id ^ 0xABCDEF);
    std::fprintf(ent, "%llu,r%llu,s%llu,%.2f\n", static_cast<unsigned long long>(id),
                 static_cast<unsigned long long>((e >> 8) % 16), static_cast<unsigned long long>((e >> 16) % 100),
                 static_cast<double>((e >> 24) % 10000) / 100.0);
  }
  std::fclose(rec);
  std::fclose(ent);
}

}  // namespace oracle
