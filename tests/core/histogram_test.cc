// The latency histogram: buckets that tile the durations, percentiles within
// 1% of the exact ones, Prometheus counts within one bucket, and recording
// from several threads at once.
#include "sluice/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace sluice {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, BucketsTileTheDurationsAndNoneIsWiderThanASixtyFourthOfItsStart) {
  for (std::size_t b = 0; b + 1 < LatencyCounts::kBuckets; ++b) {
    ASSERT_EQ(LatencyCounts::lower(b) + LatencyCounts::width(b), LatencyCounts::lower(b + 1)) << b;
    if (LatencyCounts::lower(b) >= 128) {
      ASSERT_LE(LatencyCounts::width(b) * 64, LatencyCounts::lower(b)) << b;
    } else {
      ASSERT_EQ(LatencyCounts::width(b), 1u);
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t us = rng() >> (23 + rng() % 40);  // every magnitude below 2^41
    const std::size_t b = LatencyCounts::bucket_of(us);
    ASSERT_LE(LatencyCounts::lower(b), us);
    ASSERT_LT(us, LatencyCounts::lower(b) + LatencyCounts::width(b));
  }
  // Past the last power of two with buckets: the last bucket.
  EXPECT_EQ(LatencyCounts::bucket_of(std::uint64_t{1} << 50), LatencyCounts::kBuckets - 1);
}

TEST(LatencyHistogram, PercentilesAreWithinOnePercentOfTheExactOnes) {
  // Durations spread over six orders of magnitude (50 us to 60 s), as an
  // API's answers and its timeouts are.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log_us(std::log(50.0), std::log(60e6));
  std::vector<std::uint64_t> all;
  LatencyHistogram h;
  for (int i = 0; i < 200000; ++i) {
    const auto us = static_cast<std::uint64_t>(std::exp(log_us(rng)));
    all.push_back(us);
    h.record(microseconds(us));
  }
  std::sort(all.begin(), all.end());
  const LatencyCounts c = h.snapshot();
  EXPECT_EQ(c.count(), all.size());
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto exact = static_cast<double>(all[static_cast<std::size_t>(std::ceil(q * all.size())) - 1]);
    const auto got = static_cast<double>(c.quantile(q).count());
    EXPECT_LE(std::abs(got - exact) / exact, 0.01) << "q " << q << ": " << got << " for " << exact;
  }
  // Exact below 128 us.
  LatencyCounts small;
  for (std::uint64_t us = 1; us <= 100; ++us) small.add(us);
  EXPECT_EQ(small.quantile(0.5).count(), 50);
  EXPECT_EQ(small.quantile(1.0).count(), 100);
  EXPECT_EQ(LatencyCounts().quantile(0.5).count(), 0) << "nothing counted";
}

TEST(LatencyHistogram, CountsAtMostABoundAreRightToWithinTheBucketThatHoldsIt) {
  LatencyCounts c;
  std::vector<std::uint64_t> all;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50000; ++i) {
    const std::uint64_t us = 100 + rng() % 2000000;
    all.push_back(us);
    c.add(us);
  }
  for (std::uint64_t bound : {1000u, 2500u, 5000u, 10000u, 250000u, 1000000u}) {
    const auto exact =
        static_cast<std::uint64_t>(std::count_if(all.begin(), all.end(), [&](auto v) { return v <= bound; }));
    const std::size_t b = LatencyCounts::bucket_of(bound);
    const auto in_bucket = static_cast<std::uint64_t>(
        std::count_if(all.begin(), all.end(), [&](auto v) { return LatencyCounts::bucket_of(v) == b; }));
    const std::uint64_t got = c.count_at_most(microseconds(bound));
    EXPECT_LE(got, exact + in_bucket) << bound;
    EXPECT_GE(got + in_bucket, exact) << bound;
  }
  EXPECT_EQ(c.count_at_most(microseconds(5000000)), c.count());
  EXPECT_EQ(c.count_at_most(microseconds(-1)), 0u);
}

TEST(LatencyHistogram, ThreadsRecordAtOnceAndMergedCountsAddUp) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 50000; ++i) h.record(microseconds(1000 * (t + 1)));
    });
  }
  for (auto& t : threads) t.join();
  const LatencyCounts c = h.snapshot();
  EXPECT_EQ(c.count(), 200000u);
  EXPECT_EQ(c.sum_us(), 50000u * (1000 + 2000 + 3000 + 4000));
  LatencyCounts twice = c;
  twice.merge(c);
  EXPECT_EQ(twice.count(), 400000u);
  EXPECT_EQ(twice.quantile(0.5), c.quantile(0.5));
  h.record(microseconds(-5));
  EXPECT_EQ(h.snapshot().count_at_most(microseconds(0)), 1u) << "a negative duration counts as 0";
}

}  // namespace
}  // namespace sluice
