// What a job is opened and served with: the settings of a run, a stream
// or a server (sluice::Job, include/sluice/job.h, takes them), as plain
// structs with their defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sluice/store.h"

namespace sluice {

struct JobOptions {
  // Settings of the file replaced, "http.max_in_flight=512", as --set does.
  std::vector<std::string> sets;
  std::string output;       // instead of output.path: a directory or s3://bucket/prefix/
  std::uint64_t limit = 0;  // read at most this many records (0: all)
  // One shard of N: the records whose position in the input (counted over
  // every input file, from 0) is shard_index modulo shard_count. With a
  // count above 1 the run is one attempt at one shard of a job: its files
  // are named <name>-shard-I-of-N-<attempt>-..., it commits the shard once
  // it has read all of it (the first attempt to finish wins), and
  // `sluice commit` (docs/pipeline.md, "Past one machine") makes the shards one
  // dataset.
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  // With shard_count > 1: the attempt as the scheduler numbers it (for the
  // summary and the shard's records; sluice gives each attempt an id of its
  // own whatever this says).
  std::string scheduler_attempt;
  // This process's id for the run (8 hex digits, as its logs show it): a
  // shard attempt it starts is named by it. Empty: one is drawn at random.
  std::string run_id;
  // Carry on from the manifest an earlier run left in the output (if any):
  // the records it finished are skipped, files are named <name>-r<N>-....
  bool resume = false;
  StoreOptions store;  // S3 settings
  int io_threads = 1;
  int cpu_threads = 0;  // 0: the runtime's default
};

// `sluice serve`: the pipeline's records asked for over HTTP/1.1
// (docs/pipeline.md, "Serving": the endpoints, fields and status codes).
struct ServeOptions {
  std::string address = "127.0.0.1";  // an IP address
  std::uint16_t port = 8080;          // 0: any free port (see `listening`)
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::size_t max_records = 1000;  // in one request
  // A connection's next request must be read whole within this (a client
  // that sends slowly, or not at all, is closed: 408 if it had begun).
  std::chrono::milliseconds read_timeout{30000};
  // Called once, when the server listens, with its port.
  std::function<void(std::uint16_t port)> listening;
  // More metrics (Prometheus's text format) for GET /metrics, after the
  // server's own. Called on the event loop.
  std::function<std::string()> metrics;
  // What an operator should know as it happens (the open-file limit
  // reached: accepting paused, idle connections closed), at most once a
  // second. Called on the event loop.
  std::function<void(const std::string&)> on_warning;
};

}  // namespace sluice
