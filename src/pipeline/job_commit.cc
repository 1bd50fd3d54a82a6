#include "job_commit.h"

namespace sluice::pipeline {

std::string shard_base(const std::string& job, std::uint32_t index, std::uint32_t count) {
  return job + "-shard-" + std::to_string(index) + "-of-" + std::to_string(count);
}

std::string shard_commit_key(const std::string& job, std::uint32_t index, std::uint32_t count) {
  return "_" + shard_base(job, index, count) + "-commit.json";
}

std::string job_manifest_key(const std::string& job) { return "_" + job + "-manifest.json"; }

}  // namespace sluice::pipeline
