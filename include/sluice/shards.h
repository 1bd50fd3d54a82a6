// A job run as N shards (`sluice run --shard I/N`; docs/pipeline.md, "Past
// one machine"): which shard a scheduler started this process as, where
// the shards of a job are (`sluice status`), and the job commit that makes
// them one dataset (`sluice commit`). What `sluice` itself calls, for a
// program that runs the shards of a job on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice {

// Which shard of a job this process is, from the environment the scheduler
// that started it sets (`sluice run --shard auto`). Looked for in order:
//
//   Kubernetes Indexed Job   JOB_COMPLETION_INDEX; the count is not exported:
//                            SLUICE_SHARD_COUNT (the Job's completions, passed in)
//   AWS Batch array job      AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_SIZE
//   Slurm job array          SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,
//                            SLURM_ARRAY_TASK_COUNT
//
// The attempt, where the scheduler says (AWS_BATCH_JOB_ATTEMPT, from 1;
// SLURM_RESTART_COUNT, from 0), is reported with it. Pure: the environment
// is read through `env`.
struct ShardOfJob {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  std::string scheduler;  // "Kubernetes", "AWS Batch", "Slurm"
  std::string attempt;    // as the scheduler numbers it; empty when it does not say
};

// kInvalidArgument naming the variables when no scheduler's are set, or
// when those found do not make a shard (a missing count, not a number, an
// index past the count).
Result<ShardOfJob> shard_from_environment(const std::function<const char*(const char*)>& env);

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
