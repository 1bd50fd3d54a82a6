// Job: a pipeline file run from C++, as `sluice run FILE` runs it.
//
//   sluice::Result<std::unique_ptr<sluice::Job>> job =
//       sluice::Job::open("item-features.yaml", {.sets = {"http.max_in_flight=512"}});
//   if (!job.ok()) { /* job.status() names the file, line and field */ }
//   sluice::JobSummary s = (*job)->run();   // blocks; (*job)->progress() meanwhile
//   if (!s.status.ok() || s.counts.dead_lettered > 0) { ... }
//
// open() reads the file (with `sets` applied as --set does), checks all of
// it, looks at the input's and datasets' files and the cloud credentials,
// loads the datasets and opens the output: what would stop the run as it
// starts is found here, before any record is read. run() then reads every
// record and ends each in exactly one of: written, filtered, not joined (an
// inner join found no row), dead-lettered (a request failed after its
// retries, an answer could not be read, an input row was malformed), or,
// when the run stops before it ends, unfinished (left for `resume`).
// docs/pipeline.md describes the file; docs/architecture.md how a run works.
//
// Thread safety: progress(), http_stats(), stop() and abort() may be called
// from any thread while run() goes on (a signal handler's thread, a metrics
// endpoint); run() once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/histogram.h"
#include "sluice/http/client.h"
#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice {

namespace pipeline {
class Engine;
}

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

// Live counters, readable while the run goes on.
struct JobProgress {
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
  std::uint64_t failures = 0;           // requests that failed after their retries
  std::uint64_t answer_retries = 0;     // 2xx answers that could not be read, asked for again
  std::uint64_t cpu_batches = 0;        // batches of records evaluated on the CPU pool
  std::uint64_t cpu_batch_records = 0;  // the records in them
  double seconds = 0;
  std::uint64_t input_bytes = 0;        // consumed so far
  std::uint64_t input_bytes_total = 0;  // of every input file; 0: unknown (standard input)
  std::uint64_t done() const { return written + filtered + not_joined + dead_lettered; }
};

// A step's requests by how they ended, after their retries: by the class
// of the last answer's status (one that failed on 503 after its retries is
// 5xx), or with no answer at all.
struct StepAnswers {
  std::string step;
  std::uint64_t answered[4] = {};  // 2xx, 3xx, 4xx, 5xx
  std::uint64_t no_answer = 0;     // a timeout, a connection that failed, the run stopping
};

struct OutputFile {
  std::string name;  // where it is: a path or an s3:// URL
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
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

// What a server did (in JobSummary; zero for other jobs).
struct ServeStats {
  std::uint64_t requests = 0;           // answered, whatever their status
  std::uint64_t bad_requests = 0;       // answered 4xx
  std::uint64_t shed = 0;               // answered 503 at once: too many records under way
  std::uint64_t deadline_exceeded = 0;  // records answered "deadline" (counted dead-lettered too)
  // Connections the server could not take at once for want of a file
  // descriptor (the open-file limit): accepting paused, idle ones closed.
  std::uint64_t accept_pauses = 0;
  std::uint64_t idle_closed = 0;  // idle keep-alive connections closed to make room
  // POST /v1/features from its last byte read to its answer sent: those
  // answered (200), and those shed (503).
  LatencyCounts latency, shed_latency;
};

struct JobSummary {
  JobProgress counts;
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
  std::string run_id;               // JobOptions::run_id, or the one drawn for the run
  std::uint32_t shard_index = 0, shard_count = 1;
  // A shard of a job: this attempt's id, and what became of the shard's
  // commit: "committed", "lost to attempt <id>" (another attempt committed
  // first; this one's files were removed), "already committed by attempt
  // <id>" (nothing was done), or "not committed" (the run failed or stopped).
  std::string attempt, shard_commit;
  double seconds = 0;
  double cpu_seconds = 0;
  std::uint64_t peak_rss_bytes = 0;  // of the whole process, so far
  Status status;                     // OK, or what ended the run
  ServeStats serve;                  // serve(): its requests
  std::string to_json() const;
};

// What a pipeline file holds, checked (`sluice validate`).
struct JobShape {
  std::size_t steps = 0;
  std::size_t joins = 0;
  std::size_t output_columns = 0;
};

class Job {
 public:
  // Errors: kInvalidArgument for what is wrong in the file, the settings or
  // the files they name (every problem of the file at once, each with its
  // line and field); others for what trying again may get past (the output's
  // store unreachable).
  static Result<std::unique_ptr<Job>> open(const std::string& file, JobOptions options = {});

  // For stream() (`sluice stream`): as open(), but the output is neither
  // looked at nor opened: each record's outcome goes to the caller instead.
  static Result<std::unique_ptr<Job>> open_stream(const std::string& file, JobOptions options = {});

  // For serve() (`sluice serve`): as open_stream(), and the input is not
  // looked at either: records come in requests. The datasets are loaded
  // here, so a server is ready once serve() listens.
  static Result<std::unique_ptr<Job>> open_serve(const std::string& file, JobOptions options = {});

  // Reads and checks the file as open() does, without loading the datasets
  // or opening the output; with `look_at_files` false, not the input's and
  // datasets' files or the cloud credentials either (they are elsewhere, or
  // made later).
  static Result<JobShape> check(const std::string& file, const JobOptions& options, bool look_at_files = true);

  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Runs to the end (blocking). The summary is returned even when the run
  // fails: its status says why, and its counts say what was done.
  // (A job from open_stream(): kFailedPrecondition.)
  JobSummary run();
  // A job from open_stream(): runs to the end of the input (blocking), and
  // gives each record's outcome, as it ends, to `emit` as one JSON object
  // (no newline; src/pipeline/lines.h shows them):
  //   {"line":3,"status":"ok","features":{...the output columns...}}
  //   {"line":4,"status":"filtered","key":{"id":4}}   (also not_joined, unfinished)
  //   {"line":6,"status":"error","key":{...},"step":"item","url":"...","error":"..."}
  // Lines come in the order records end, or with `ordered` in the input's
  // (a record that ends early waits for those before it, and
  // records_in_flight bounds the records under way and waiting together).
  // `emit` runs on the event loop: while it waits, no answer is read.
  // Nothing is written under the output, so there is no resume.
  JobSummary stream(const std::function<void(std::string_view line)>& emit, bool ordered = false);
  // A job from open_serve(): answers POST /v1/features (and /healthz,
  // /readyz, /metrics) until stop(), which drains: no new connection is
  // taken, /readyz answers 503, requests under way are answered, then it
  // returns. abort() closes every connection at once. Fails (in the
  // summary's status) when it cannot listen.
  JobSummary serve(const ServeOptions& options);
  // Reads the datasets' files anew and swaps them in whole (`sluice serve`
  // on SIGHUP): records being evaluated finish with the set they began
  // with, later ones join against the new; both sets are in memory while
  // the old is in use. On failure (kInvalidArgument naming the file and
  // line) the old set stays. For any job, from any thread.
  Status reload_datasets();
  JobProgress progress() const;
  // Each step's name and the latency of its requests that were answered,
  // from their in-flight slot to their answer (retries included).
  std::vector<std::pair<std::string, LatencyCounts>> step_latencies() const;
  std::vector<StepAnswers> step_answers() const;
  http::ClientStats http_stats() const;
  // Stops reading input; records already read finish and files are
  // committed.
  void stop();
  // Abandons the run: nothing more is committed. Records waiting for a
  // request slot give up at once; requests already sent end by their
  // deadline at the latest, and run() returns after them.
  void abort();

 private:
  enum class Kind : std::uint8_t { kRun, kStream, kServe };  // what it was opened for
  Job(std::unique_ptr<pipeline::Engine> engine, Kind kind);
  std::unique_ptr<pipeline::Engine> engine_;
  Kind kind_;
};

}  // namespace sluice
