// `sluice demo`: a small runnable pipeline with the reference workload's shape.
#pragma once

#include <CLI/App.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sluice::cli {

struct DemoOptions {
  std::uint64_t records = 5000;
  std::chrono::microseconds latency{2000};  // of each simulated API call
  std::size_t in_flight = 256;
  int cpu_threads = 0;  // 0: automatic (see RuntimeOptions)
};

// Runs the demo, prints its results and counters; the process exit code.
void add_demo_options(CLI::App& cmd, DemoOptions& o);
int run_demo(const DemoOptions& options);

}  // namespace sluice::cli
