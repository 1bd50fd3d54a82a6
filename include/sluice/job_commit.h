// The shards of a job as one dataset (`sluice run --shard I/N` writes them;
// docs/pipeline.md, "Past one machine"): where each shard is (`sluice
// status`) and the job commit (`sluice commit`). What `sluice` itself
// calls, for a program that runs the shards of a job on its own; which
// shard a process is: sluice/shards.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice {

// The shards of job `job` (its output.name; empty: the only sharded job
// `store` holds), a line each: committed by which attempt, with its
// records; or its attempts and the records each has done; then the job's.
Result<std::string> describe_shards(ObjectStore& store, const std::string& job);

// `sluice commit`: the job commit. Checks that every shard committed once,
// over one input, and accounted for every record of its shard (done or
// dead-lettered); then writes the job's manifest (_<job>-manifest.json:
// every shard's files and dead letters, the done positions in the input's
// own numbering, as one run of the whole input would have left it),
// removes every file of the job's shards no commit names (losing attempts',
// abandoned ones, and the attempts' manifests) and writes _SUCCESS last, as
// Spark does, for downstream jobs to wait on. Run it after every task of
// the job has ended; it may be run again (after a failure, or to clean up).
// Errors: kUnavailable naming each shard not committed (a retry later may
// pass), kFailedPrecondition when shards disagree on the input, kDataLoss
// when a commit names a file that is not there.
struct JobCommitReport {
  std::uint32_t shards = 0;
  std::size_t files = 0;
  std::uint64_t records = 0;  // in the whole input
  std::uint64_t done = 0;     // written, filtered or not joined
  std::uint64_t dead_lettered = 0;
  std::vector<std::string> removed;  // keys
  bool already = false;              // _SUCCESS was there already
};
Result<JobCommitReport> commit_shards(ObjectStore& store, const std::string& job);

}  // namespace sluice
