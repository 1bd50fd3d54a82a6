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
#include <string>
#include <vector>

#include "manifest.h"
#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice::pipeline {

// "<job>-shard-I-of-N": what every name of the shard starts with.
std::string shard_base(const std::string& job, std::uint32_t index, std::uint32_t count);
// "_<job>-shard-I-of-N-commit.json".
std::string shard_commit_key(const std::string& job, std::uint32_t index, std::uint32_t count);
// "_<job>-manifest.json": a run's manifest, or a committed job's.
std::string job_manifest_key(const std::string& job);

}  // namespace sluice::pipeline
