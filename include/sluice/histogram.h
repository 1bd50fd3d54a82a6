// Latency histograms whose percentiles are true to within 1%.
//
// Durations are counted in microseconds in log-linear buckets (the scheme of
// HdrHistogram): below 128 us one bucket per microsecond; above, every power
// of two cut into 64 buckets of equal width, so that no bucket is wider than
// 1/64 of its lower bound. A percentile is reported as the middle of its
// bucket: within 0.8% of the duration it stands for. Durations up to 2^41 us
// (25 days) have buckets of their own; longer ones count in the last.
// 2,304 buckets: 18 KiB a histogram.
//
//   LatencyHistogram h;                    // shared: record() from any thread
//   h.record(std::chrono::microseconds(2350));
//   LatencyCounts c = h.snapshot();        // a copy, read at leisure
//   c.quantile(0.99);                      // p99, in microseconds
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sluice {

// The counts of a histogram at one time: a value, freely copied and merged.
class LatencyCounts {
 public:
  static constexpr std::size_t kBuckets = 128 + 34 * 64;

  LatencyCounts() : counts_(kBuckets, 0) {}

  void add(std::uint64_t us, std::uint64_t n = 1);
  void merge(const LatencyCounts& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t sum_us() const { return sum_us_; }
  // The duration under which a share q (0 < q <= 1) of those counted ended,
  // as the middle of its bucket; 0 when nothing was counted.
  std::chrono::microseconds quantile(double q) const;
  // How many were at most `bound`, to within the one bucket that holds
  // `bound` (counted when `bound` reaches its middle): cumulative buckets of
  // a Prometheus histogram.
  std::uint64_t count_at_most(std::chrono::microseconds bound) const;

  // The bucket of a duration, and the durations a bucket holds:
  // [lower(b), lower(b) + width(b)).
  static std::size_t bucket_of(std::uint64_t us);
  static std::uint64_t lower(std::size_t bucket);
  static std::uint64_t width(std::size_t bucket);

 private:
  friend class LatencyHistogram;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_us_ = 0;
};

// A histogram that threads record into at once (relaxed atomic counts).
class LatencyHistogram {
 public:
  LatencyHistogram();
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // A negative duration counts as 0.
  void record(std::chrono::microseconds d);
  // The counts so far: count() is the buckets' total; taken while others
  // record, the sum may include a few durations the buckets do not yet.
  LatencyCounts snapshot() const;

 private:
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace sluice
