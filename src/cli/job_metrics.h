// A job's metrics in Prometheus's text format, and where a run sends them
// besides its endpoint: a file for node_exporter, a Pushgateway.
#pragma once

#include <memory>
#include <string>

#include "metrics.h"

namespace sluice {
class Job;
}

namespace sluice::cli {

// The job's counters, gauges and histograms, then the process's
// (process_metrics).
std::string metrics_page(const Job& job);

// --metrics-file and --metrics-push: each write() makes the page and
// writes it to the file and pushes it. A write or push that fails is said
// once; the run goes on.
class MetricsExports {
 public:
  MetricsExports(const Job& job, std::string file, std::unique_ptr<MetricsPusher> push)
      : job_(job), file_(std::move(file)), push_(std::move(push)) {}
  bool any() const { return !file_.empty() || push_ != nullptr; }
  void write();

 private:
  const Job& job_;
  const std::string file_;
  const std::unique_ptr<MetricsPusher> push_;
  bool file_failed_ = false, push_failed_ = false;
};

}  // namespace sluice::cli
