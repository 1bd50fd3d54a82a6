// A job run as N shards (`sluice run --shard I/N`; docs/pipeline.md, "Past
// one machine"): which shard a scheduler started this process as (`--shard
// auto`). Where the shards are and the job commit that makes them one
// dataset: sluice/job_commit.h. What `sluice` itself calls, for a program
// that runs the shards of a job on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sluice/status.h"

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

}  // namespace sluice
