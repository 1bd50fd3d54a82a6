// Parquet writer throughput on the reference workload's output schema.
//
//   build/release/bench/parquet_benchmark ROWS OUT_DIR [stream]
//
// Writes ROWS rows with zstd and with snappy on one thread, best of three,
// and prints one line per codec: rows/s, MB/s of values, file size. Also
// writes OUT_DIR/input.parquet (uncompressed) for DuckDB to load the very
// same rows (bench/parquet_vs_duckdb.sh). With `stream`, rows are made in
// batches of 10,000 as they are written, and the peak RSS is printed: it
// should not grow with ROWS (the writer holds one row group, not the file).
//
// The values follow the workload's definitions where they are cheap (id,
// region, segment, weight, kind, score, n_events) and its distributions where
// computing them exactly would cost minutes (the event aggregates: full
// precision doubles for sums, means, deviations and ewma; 3-decimal event
// values for min, max and quantiles; counts near n_events / 3).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../src/mockapi/workload.h"
#include "sluice/parquet/writer.h"

using namespace sluice::parquet;

namespace {

using sluice::mockapi::mix;

Schema workload_schema() {
  auto d = [](const char* n) { return Column{.name = n, .type = ColumnType::kDouble}; };
  auto i = [](const char* n) { return Column{.name = n, .type = ColumnType::kInt64}; };
  auto s = [](const char* n) { return Column{.name = n, .type = ColumnType::kString}; };
  return *Schema::make({i("id"), s("region"), s("segment"), d("weight"), s("kind"), d("score"), i("n_events"),
                        d("v_sum"), d("v_mean"), d("v_std"), d("v_min"), d("v_max"), d("v_p50"), d("v_p90"), d("v_p99"),
                        i("cnt_x"), i("cnt_y"), i("cnt_z"), d("v_ewma")});
}

double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }
double event_value(std::uint64_t h) { return static_cast<double>(h % 1000000) / 1000.0; }

ColumnBatch make_rows(std::uint64_t first_id, std::size_t n) {
  ColumnBatch b;
  b.rows = n;
  b.columns.resize(19);
  for (auto& c : b.columns) {
    c.f64.reserve(n);
    c.i64.reserve(n);
  }
  static const char* const kKinds[] = {"a", "b", "c"};
  for (std::uint64_t id = first_id; id < first_id + n; ++id) {
    std::uint64_t e = mix(id ^ 0xABCDEF), h = mix(id), g = mix(id * 31 + 7);
    std::int64_t n_events = static_cast<std::int64_t>(200 * (1 + (h >> 16) % 4));
    double mean = 500 + (unit(g) - 0.5) * 40;
    b.columns[0].i64.push_back(static_cast<std::int64_t>(id));
    b.columns[1].append_string("r" + std::to_string((e >> 8) % 16));
    b.columns[2].append_string("s" + std::to_string((e >> 16) % 100));
    b.columns[3].f64.push_back(static_cast<double>((e >> 24) % 10000) / 100.0);
    b.columns[4].append_string(kKinds[(h >> 32) % 3]);
    b.columns[5].f64.push_back(static_cast<double>(h % 1000) / 1000.0);
    b.columns[6].i64.push_back(n_events);
    b.columns[7].f64.push_back(mean * static_cast<double>(n_events));
    b.columns[8].f64.push_back(mean);
    b.columns[9].f64.push_back(288 + (unit(mix(g)) - 0.5) * 20);
    b.columns[10].f64.push_back(event_value(mix(g + 1)) / 200);
    b.columns[11].f64.push_back(1000 - event_value(mix(g + 2)) / 200);
    b.columns[12].f64.push_back(event_value(mix(g + 3)));
    b.columns[13].f64.push_back(event_value(mix(g + 4)));
    b.columns[14].f64.push_back(event_value(mix(g + 5)));
    std::int64_t x = n_events / 3 + static_cast<std::int64_t>(mix(g + 6) % 21) - 10;
    std::int64_t y = n_events / 3 + static_cast<std::int64_t>(mix(g + 7) % 21) - 10;
    b.columns[15].i64.push_back(x);
    b.columns[16].i64.push_back(y);
    b.columns[17].i64.push_back(n_events - x - y);
    b.columns[18].f64.push_back(mean + (unit(mix(g + 8)) - 0.5) * 100);
  }
  return b;
}

std::uint64_t value_bytes(const ColumnBatch& b) {
  std::uint64_t n = 0;
  for (const auto& c : b.columns) n += 8 * (c.f64.size() + c.i64.size()) + c.bytes.size();
  return n;
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

FileSummary write(const std::string& path, const std::vector<ColumnBatch>& batches, Compression c) {
  auto w = *ParquetWriter::open(workload_schema(), {.compression = c}, *sluice::open_local_file(path));
  for (const auto& b : batches) {
    if (auto s = w->write(b); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      std::exit(1);
    }
  }
  return *w->close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: parquet_benchmark ROWS OUT_DIR [stream]\n");
    return 2;
  }
  const std::size_t rows = std::strtoull(argv[1], nullptr, 10);
  const std::string dir = argv[2];
  constexpr std::size_t kBatch = 10'000;

  if (argc > 3 && std::string(argv[3]) == "stream") {
    auto w = *ParquetWriter::open(workload_schema(), {}, *sluice::open_local_file(dir + "/stream.parquet"));
    for (std::size_t r = 0; r < rows; r += kBatch) {
      if (auto s = w->write(make_rows(r + 1, std::min(kBatch, rows - r))); !s.ok()) return 1;
    }
    auto sum = *w->close();
    std::printf("stream rows=%zu file_mb=%.1f peak_rss_mib=%.1f\n", rows, static_cast<double>(sum.bytes) / 1e6,
                static_cast<double>(peak_rss_kib()) / 1024.0);
    return 0;
  }

  std::vector<ColumnBatch> batches;
  std::uint64_t bytes = 0;
  for (std::size_t r = 0; r < rows; r += kBatch) {
    batches.push_back(make_rows(r + 1, std::min(kBatch, rows - r)));
    bytes += value_bytes(batches.back());
  }
  write(dir + "/input.parquet", batches, Compression::kNone);
  for (Compression c : {Compression::kZstd, Compression::kSnappy}) {
    double best = 1e9;
    FileSummary sum;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      sum = write(dir + "/sluice-" + std::string(to_string(c)) + ".parquet", batches, c);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("sluice %-6s rows=%zu seconds=%.3f rows_per_s=%.0f values_mb_per_s=%.1f file_bytes=%llu\n",
                std::string(to_string(c)).c_str(), rows, best, static_cast<double>(rows) / best,
                static_cast<double>(bytes) / 1e6 / best, static_cast<unsigned long long>(sum.bytes));
  }
  return 0;
}
