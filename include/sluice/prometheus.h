// Prometheus's text exposition format (version 0.0.4), written a metric
// family at a time: its # HELP and # TYPE lines, then its samples.
//
//   PrometheusText page;
//   page.family("sluice_records_total", "counter", "Records read, by how they ended.");
//   page.sample("sluice_records_total", {{"outcome", "written"}}, 1200);
//   page.seconds("sluice_http_request_duration_seconds", {}, latency.snapshot());
//   std::string text = std::move(page).text();
//
// Label values and help texts are escaped as the format says (a backslash,
// a double quote in a label value, a line feed), so a step's name or a
// version string can be anything.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/histogram.h"

namespace sluice {

class PrometheusText {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // # HELP and # TYPE ("counter", "gauge", "histogram"), once a family,
  // before its samples.
  void family(std::string_view name, std::string_view type, std::string_view help);

  // name{labels} value.
  void sample(std::string_view name, Labels labels, std::uint64_t value);
  // `value` as written: a float already formatted, "+Inf", ...
  void sample(std::string_view name, Labels labels, std::string_view value);

  // `counts` as a histogram in seconds, with bounds for HTTP latencies
  // (1 ms to 10 s, and +Inf): name_bucket{labels,le="..."}, name_sum and
  // name_count.
  void seconds(std::string_view name, Labels labels, const LatencyCounts& counts);

  // Another page's families, as they are.
  void append(std::string_view page) { out_ += page; }

  const std::string& text() const& { return out_; }
  std::string text() && { return std::move(out_); }

 private:
  void series(std::string_view name, std::string_view suffix, Labels labels, std::string_view le);

  std::string out_;
};

}  // namespace sluice
