// The shards of one job and their commits (`sluice run --shard`,
// `sluice commit`, `sluice status`). A job named <job> in N shards writes:
//
//   <job>-shard-I-of-N-<attempt>-NNNNN.parquet        an attempt's data files
//   _<job>-shard-I-of-N-<attempt>-manifest.json        its progress (as a run's manifest)
//   _<job>-shard-I-of-N-<attempt>-dead-letter.jsonl    its dead letters
//   _<job>-shard-I-of-N-commit.json                    the shard's commit: the final manifest of
//                                                      the first attempt to finish, created only
//                                                      if absent
//   _<job>-manifest.json, _SUCCESS                     the job's commit (sluice commit)
//
// An attempt id is eight hex digits, new for every process, so attempts of
// one shard running at once (a node lost, a pod rescheduled) never write the
// same name, and once one has committed the shard the others' files are
// recognisably garbage: no commit names them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/output/manifest.h"
#include "sluice/job_commit.h"
#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice::pipeline {

// "<job>-shard-I-of-N": what every name of the shard starts with.
std::string shard_base(const std::string& job, std::uint32_t index, std::uint32_t count);
// "_<job>-shard-I-of-N-commit.json".
std::string shard_commit_key(const std::string& job, std::uint32_t index, std::uint32_t count);
// "_<job>-manifest.json": a run's manifest, or a committed job's.
std::string job_manifest_key(const std::string& job);

// What the output holds of one sharded job.
struct ShardState {
  std::uint32_t index = 0;
  std::optional<Manifest> committed;  // the shard's commit record
  std::vector<Manifest> attempts;     // attempts not (or not yet) committed, by their manifests
};
struct JobState {
  std::string job;
  std::uint32_t count = 0;
  std::vector<ShardState> shards;  // one per index, in order
  bool success = false;            // _SUCCESS is there: the job was committed
  std::set<std::string> keys;      // every key the output held when it was read
};

// Reads the shards' records of job `job` (empty: the only sharded job the
// output holds; an error naming them when there are several).
Result<JobState> read_job(ObjectStore& store, const std::string& job);

// `sluice status`: a line per shard (committed by which attempt, with its
// records; or its attempts and the records each has done) and one for the
// job.
std::string describe_job(const JobState& state);

// `sluice commit`: see commit_shards (sluice/job_commit.h).
Result<JobCommitReport> commit_job(ObjectStore& store, const std::string& job);

}  // namespace sluice::pipeline
