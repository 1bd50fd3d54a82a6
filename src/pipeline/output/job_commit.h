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
Result<JobCommitReport> commit_job(ObjectStore& store, const std::string& job);

}  // namespace sluice::pipeline
