#include "sluice/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice {

namespace {

constexpr std::uint64_t kExact = 128;  // durations below have a bucket each
constexpr int kSubBits = 6;            // 64 buckets a power of two
constexpr int kFirstPower = 7;         // 2^7 = kExact
constexpr int kLastPower = 40;         // the last power of two with buckets

}  // namespace

std::size_t LatencyCounts::bucket_of(std::uint64_t us) {
  if (us < kExact) return static_cast<std::size_t>(us);
  const int power = std::bit_width(us) - 1;
  if (power > kLastPower) return kBuckets - 1;
  const int shift = power - kSubBits;
  const std::uint64_t sub = (us >> shift) - (std::uint64_t{1} << kSubBits);  // 0..63
  return static_cast<std::size_t>(kExact + static_cast<std::uint64_t>(power - kFirstPower) * 64 + sub);
}

std::uint64_t LatencyCounts::lower(std::size_t bucket) {
  if (bucket < kExact) return bucket;
  const std::size_t k = bucket - kExact;
  const int power = kFirstPower + static_cast<int>(k / 64);
  return ((std::uint64_t{1} << kSubBits) + k % 64) << (power - kSubBits);
}

std::uint64_t LatencyCounts::width(std::size_t bucket) {
  if (bucket < kExact) return 1;
  const int power = kFirstPower + static_cast<int>((bucket - kExact) / 64);
  return std::uint64_t{1} << (power - kSubBits);
}

void LatencyCounts::add(std::uint64_t us, std::uint64_t n) {
  counts_[bucket_of(us)] += n;
  count_ += n;
  sum_us_ += us * n;
}

void LatencyCounts::merge(const LatencyCounts& other) {
  for (std::size_t b = 0; b < kBuckets; ++b) counts_[b] += other.counts_[b];
  count_ += other.count_;
  sum_us_ += other.sum_us_;
}

std::chrono::microseconds LatencyCounts::quantile(double q) const {
  const std::uint64_t total = count_;
  if (total == 0) return std::chrono::microseconds(0);
  const auto want =
      std::clamp<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))), 1, total);
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= want) return std::chrono::microseconds(static_cast<std::int64_t>(lower(b) + width(b) / 2));
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(lower(kBuckets - 1)));
}

std::uint64_t LatencyCounts::count_at_most(std::chrono::microseconds bound) const {
  if (bound.count() < 0) return 0;
  const auto us = static_cast<std::uint64_t>(bound.count());
  const std::size_t holder = bucket_of(us);
  std::uint64_t n = 0;
  for (std::size_t b = 0; b < holder; ++b) n += counts_[b];
  if (us >= lower(holder) + width(holder) / 2) n += counts_[holder];
  return n;
}

LatencyHistogram::LatencyHistogram()
    : counts_(std::make_unique<std::atomic<std::uint64_t>[]>(LatencyCounts::kBuckets)) {}

void LatencyHistogram::record(std::chrono::microseconds d) {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count()));
  counts_[LatencyCounts::bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

LatencyCounts LatencyHistogram::snapshot() const {
  LatencyCounts c;
  for (std::size_t b = 0; b < LatencyCounts::kBuckets; ++b) {
    c.counts_[b] = counts_[b].load(std::memory_order_relaxed);
    c.count_ += c.counts_[b];
  }
  c.sum_us_ = sum_us_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace sluice
