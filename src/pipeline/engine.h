// The engine: runs a plan by joining the rooms of a record's life into one
// flow (docs/architecture.md draws it):
//   input.h      rows read on a thread of their own into records;
//   fetch.h      each record admitted (admission.h: the byte bound), its
//                requests made as coroutines on the event loop, then its
//                row evaluated on the CPU pool (evaluate.h), in batches
//                (evaluations.h);
//   columns.h    batches of ended records into Parquet column batches and
//                dead letters, on the CPU pool;
//   commit.h     one writer stage: files, dead letters, the manifest.
// The engine builds them, runs the flow, and sums the run up.
//
// Every record ends in exactly one of: written, filtered, not joined (an
// inner join found no row), dead-lettered (a request failed after its
// retries, an answer could not be read, an input row was malformed), or,
// when the run stops before it ends, unfinished (left for --resume).
// `written` counts rows in committed files only.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plan.h"
#include "sluice/runtime.h"
#include "sluice/store.h"

namespace sluice::pipeline {

struct RunOptions {
  std::uint64_t limit = 0;  // read at most this many records (0: all)
  // One shard of N: the records whose position in the input (counted over
  // every input file, from 0) is shard_index modulo shard_count. Files are
  // named <name>-shard-I-of-N-…, so N shards can write to one place and
  // together hold what one run would.
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  // Carry on from the manifest an earlier run left in the output (if any):
  // the records it finished are skipped, files are named <name>-r<N>-….
  bool resume = false;
  std::string output;  // instead of output.path
  StoreOptions store;  // S3 settings
  int io_threads = 1;
  int cpu_threads = 0;  // 0: the runtime's default
};

// Live counters, readable while the run goes on.
struct Progress {
  std::uint64_t read = 0;
  std::uint64_t written = 0;
  std::uint64_t filtered = 0;
  std::uint64_t not_joined = 0;
  std::uint64_t dead_lettered = 0;
  // Read but not ended: the run stopped first (the API was given up on, the
  // run was abandoned, a file could not be committed). Not in the manifest:
  // --resume does them again.
  std::uint64_t unfinished = 0;
  std::uint64_t skipped = 0;  // with resume: records an earlier run finished (not counted in read)
  std::uint64_t records_in_flight = 0;
  std::uint64_t bytes_in_flight = 0;  // answers held until their record's last answer is in
  std::uint64_t peak_bytes_in_flight = 0;
  std::uint64_t records_held = 0;        // waiting to start because bytes_in_flight > max_bytes_in_flight
  std::uint64_t records_held_total = 0;  // that ever waited so
  std::uint64_t requests_in_flight = 0;
  std::uint64_t requests_waiting = 0;  // for a slot under http.max_in_flight
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t failures = 0;        // requests that failed after their retries
  std::uint64_t answer_retries = 0;  // 2xx answers that could not be read, asked for again
  double seconds = 0;
  std::uint64_t input_bytes = 0;        // consumed so far
  std::uint64_t input_bytes_total = 0;  // of every input file; 0: unknown (standard input)
  std::uint64_t done() const { return written + filtered + not_joined + dead_lettered; }
};

struct OutputFile {
  std::string name;  // where it is: a path or an s3:// URL
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
};

struct RunSummary {
  Progress counts;
  bool accounted = false;      // read == written + filtered + not joined + dead-lettered + unfinished
  bool stopped_early = false;  // a stop() before the input's end
  http::ClientStats http;
  std::vector<OutputFile> files;
  std::string dead_letter;            // where the dead letters are, if any
  std::string manifest;               // where the manifest is
  std::size_t abandoned_removed = 0;  // with resume: unfinished files of a killed run, removed
  std::size_t overwritten = 0;        // with output.mode overwrite: the earlier runs' files, removed
  std::uint64_t bytes_written = 0;
  std::size_t dataset_bytes = 0;
  std::size_t key_index_bytes = 0;  // the input's keys, kept to find duplicates
  std::uint64_t duplicates = 0;     // records dead-lettered because an earlier one had their key
  std::uint32_t shard_index = 0, shard_count = 1;
  double seconds = 0;
  double cpu_seconds = 0;
  std::uint64_t peak_rss_bytes = 0;  // of the whole process, so far
  Status status;                     // OK, or what ended the run
  std::string to_json() const;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<Plan> plan, RunOptions options);
  ~Engine();

  // Runs to the end (blocking). The summary is returned even when the run
  // fails: its status says why, and its counts say what was done.
  RunSummary run();
  Progress progress() const;
  http::ClientStats http_stats() const;
  // Stops reading input; records already read finish and files are
  // committed. Safe from a signal-handling thread.
  void stop();
  // Abandons the run: nothing more is committed. Records waiting for a
  // request slot give up at once; requests already sent end by their
  // deadline at the latest, and run() returns after them.
  void abort();

 private:
  struct State;
  explicit Engine(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::pipeline
