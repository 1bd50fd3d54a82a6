// What a job reports: live counts while it runs (JobProgress), and its
// summary once it has ended (JobSummary), which accounts for every record
// read. sluice::Job (include/sluice/job.h) returns them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/histogram.h"
#include "sluice/http/client.h"
#include "sluice/status.h"

namespace sluice {

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

}  // namespace sluice
