#include "sluice/prometheus.h"

#include <cstdio>

namespace sluice {

namespace {

// As the format says: in a label value \, " and a line feed are escaped;
// in a help text \ and a line feed.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ");
  append_escaped(out_, help, /*quote=*/false);
  out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::series(std::string_view name, std::string_view suffix, Labels labels, std::string_view le) {
  out_.append(name).append(suffix);
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [label, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_.append(label).append("=\"");
    append_escaped(out_, value, /*quote=*/true);
    out_ += '"';
  }
  if (!le.empty()) out_.append(first ? "" : ",").append("le=\"").append(le).append("\"");
  out_ += '}';
}

void PrometheusText::sample(std::string_view name, Labels labels, std::string_view value) {
  series(name, "", labels, "");
  out_.append(" ").append(value).append("\n");
}

void PrometheusText::sample(std::string_view name, Labels labels, std::uint64_t value) {
  sample(name, labels, std::string_view(std::to_string(value)));
}

void PrometheusText::seconds(std::string_view name, Labels labels, const LatencyCounts& counts) {
  // Each bound read from the fine buckets: to within one of them, under
  // 1.6 % of the bound.
  constexpr std::pair<const char*, std::int64_t> kBounds[] = {
      {"0.001", 1000},  {"0.0025", 2500}, {"0.005", 5000},  {"0.01", 10000}, {"0.025", 25000},
      {"0.05", 50000},  {"0.1", 100000},  {"0.25", 250000}, {"0.5", 500000}, {"1", 1000000},
      {"2.5", 2500000}, {"5", 5000000},   {"10", 10000000}};
  auto line = [&](std::string_view suffix, std::string_view le, const std::string& value) {
    series(name, suffix, labels, le);
    out_.append(" ").append(value).append("\n");
  };
  for (const auto& [le, us] : kBounds) {
    line("_bucket", le, std::to_string(counts.count_at_most(std::chrono::microseconds(us))));
  }
  line("_bucket", "+Inf", std::to_string(counts.count()));
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(counts.sum_us()) / 1e6);
  line("_sum", "", sum);
  line("_count", "", std::to_string(counts.count()));
}

}  // namespace sluice
