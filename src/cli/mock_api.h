// `sluice mock-api`: serve the reference workload's API, or write its data.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>

#include "../mockapi/server.h"

namespace sluice::cli {

struct MockApiOptions {
  mockapi::ServerOptions server;
  double latency_ms = 0;
  double jitter_ms = 0;
  std::int64_t outage_ms = 0;
  std::string write_dir;         // set: write records.csv and entities.csv there, then exit
  std::uint64_t records = 1000;  // for write_dir
};

void add_mock_api_options(CLI::App& cmd, MockApiOptions& o);
int run_mock_api(MockApiOptions& o);

}  // namespace sluice::cli
