// The Prometheus text writer: families, labels escaped as the exposition
// format says, and latency histograms whose buckets are cumulative.
#include "sluice/prometheus.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace sluice {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(PrometheusText, AFamilyIsItsHelpAndTypeThenItsSamples) {
  PrometheusText page;
  page.family("jobs_total", "counter", "Jobs done.");
  page.sample("jobs_total", {}, std::uint64_t{3});
  page.sample("jobs_total", {{"outcome", "failed"}, {"shard", "2"}}, std::uint64_t{1});
  EXPECT_EQ(page.text(),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 3\n"
            "jobs_total{outcome=\"failed\",shard=\"2\"} 1\n");
}

TEST(PrometheusText, LabelValuesAndHelpAreEscapedAsTheFormatSays) {
  PrometheusText page;
  page.family("x", "gauge", "a \\ and\na line");
  page.sample("x", {{"step", "say \"hi\"\\\n"}}, std::string_view("0.5"));
  EXPECT_EQ(page.text(),
            "# HELP x a \\\\ and\\na line\n"
            "# TYPE x gauge\n"
            "x{step=\"say \\\"hi\\\"\\\\\\n\"} 0.5\n");
}

TEST(PrometheusText, AHistogramsBucketsAreCumulativeAndEndInItsCount) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(800));         // <= 0.001
  h.record(std::chrono::microseconds(40'000));      // <= 0.05
  h.record(std::chrono::microseconds(40'000));      // <= 0.05
  h.record(std::chrono::microseconds(20'000'000));  // past 10 s: +Inf only
  PrometheusText page;
  page.seconds("d_seconds", {{"step", "a"}}, h.snapshot());
  const auto lines = lines_of(page.text());
  ASSERT_EQ(lines.size(), 16u) << page.text();  // 13 bounds, +Inf, _sum, _count
  EXPECT_EQ(lines[0], "d_seconds_bucket{step=\"a\",le=\"0.001\"} 1");
  EXPECT_EQ(lines[4], "d_seconds_bucket{step=\"a\",le=\"0.025\"} 1");
  EXPECT_EQ(lines[5], "d_seconds_bucket{step=\"a\",le=\"0.05\"} 3");
  EXPECT_EQ(lines[12], "d_seconds_bucket{step=\"a\",le=\"10\"} 3");
  EXPECT_EQ(lines[13], "d_seconds_bucket{step=\"a\",le=\"+Inf\"} 4");
  EXPECT_EQ(lines[15], "d_seconds_count{step=\"a\"} 4");
  EXPECT_EQ(lines[14], "d_seconds_sum{step=\"a\"} 20.080800");  // the exact sum, not the buckets'
}

TEST(PrometheusText, AHistogramWithoutLabelsHasOnlyLe) {
  LatencyHistogram h;
  PrometheusText page;
  page.seconds("d_seconds", {}, h.snapshot());
  const auto lines = lines_of(page.text());
  ASSERT_EQ(lines.size(), 16u);
  EXPECT_EQ(lines[0], "d_seconds_bucket{le=\"0.001\"} 0");
  EXPECT_EQ(lines[14], "d_seconds_sum 0.000000");
  EXPECT_EQ(lines[15], "d_seconds_count 0");
}

}  // namespace
}  // namespace sluice
