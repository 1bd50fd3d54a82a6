// What a run shows while it goes on: a progress line (redrawn in place on
// a terminal with text logs, else a log line every 10 s), and the metrics
// exported every --metrics-interval; on a thread of its own.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "sluice/detail/mutex.h"
#include "sluice/job_summary.h"

namespace sluice {
class Job;
}

namespace sluice::cli {

// "1200 of 1500 read done, 950 records/s | records in flight ... | 12% of
// the input, ETA 0m03s": the progress as one line of text.
std::string progress_line(const JobProgress& p);

class ProgressReporter {
 public:
  // `quiet`: no progress, only the exports. `exports` (may be empty): the
  // metrics written out, every `interval_seconds`; it is called on the
  // reporter's thread.
  ProgressReporter(const Job& job, bool quiet, std::function<void()> exports, double interval_seconds);
  ~ProgressReporter() { stop(); }
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // The job has returned: the thread ends (a progress line is cleared).
  void stop();

 private:
  void report();

  const Job& job_;
  const bool quiet_;
  const std::function<void()> exports_;
  const double interval_seconds_;
  Mutex mu_;
  CondVar cv_;
  bool stopped_ SLUICE_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace sluice::cli
