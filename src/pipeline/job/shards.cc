#include "sluice/shards.h"

#include <charconv>
#include <string_view>

namespace sluice {

namespace {

// A whole number in [0, 2^32), or an error naming the variable.
Result<std::uint32_t> number(const char* name, const char* value) {
  const std::string_view v(value);
  std::uint32_t n = 0;
  const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || err != std::errc() || end != v.data() + v.size()) {
    return Status::InvalidArgument(std::string(name) + "='" + std::string(v.substr(0, 32)) +
                                   "': expected a whole number");
  }
  return n;
}

}  // namespace

Result<ShardOfJob> shard_from_environment(const std::function<const char*(const char*)>& env) {
  ShardOfJob s;
  auto need = [&](const char* name, const char* why) -> Result<std::uint32_t> {
    const char* v = env(name);
    if (v == nullptr) return Status::InvalidArgument(std::string(name) + " is not set: " + why);
    return number(name, v);
  };
  if (const char* k8s = env("JOB_COMPLETION_INDEX")) {
    s.scheduler = "Kubernetes";
    SLUICE_ASSIGN_OR_RETURN(s.index, number("JOB_COMPLETION_INDEX", k8s));
    SLUICE_ASSIGN_OR_RETURN(s.count, need("SLUICE_SHARD_COUNT",
                                          "a Kubernetes Indexed Job does not export its completions; pass them "
                                          "in as SLUICE_SHARD_COUNT"));
  } else if (const char* batch = env("AWS_BATCH_JOB_ARRAY_INDEX")) {
    s.scheduler = "AWS Batch";
    SLUICE_ASSIGN_OR_RETURN(s.index, number("AWS_BATCH_JOB_ARRAY_INDEX", batch));
    SLUICE_ASSIGN_OR_RETURN(s.count, need("AWS_BATCH_JOB_ARRAY_SIZE", "AWS Batch sets it for array jobs"));
    if (const char* a = env("AWS_BATCH_JOB_ATTEMPT")) s.attempt = a;
  } else if (const char* slurm = env("SLURM_ARRAY_TASK_ID")) {
    s.scheduler = "Slurm";
    SLUICE_ASSIGN_OR_RETURN(const std::uint32_t id, number("SLURM_ARRAY_TASK_ID", slurm));
    SLUICE_ASSIGN_OR_RETURN(const std::uint32_t min, need("SLURM_ARRAY_TASK_MIN", "Slurm sets it for job arrays"));
    SLUICE_ASSIGN_OR_RETURN(s.count, need("SLURM_ARRAY_TASK_COUNT", "Slurm sets it for job arrays"));
    if (id < min) {
      return Status::InvalidArgument("SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
                                     " is below SLURM_ARRAY_TASK_MIN=" + std::to_string(min));
    }
    // --array=0-3 numbers tasks 0..3; a sparse array (--array=1,5,9) cannot
    // be told apart from here, and is caught below when an index passes the count.
    s.index = id - min;
    if (const char* a = env("SLURM_RESTART_COUNT")) s.attempt = a;
  } else {
    return Status::InvalidArgument(
        "--shard auto: no scheduler's shard in the environment (JOB_COMPLETION_INDEX with SLUICE_SHARD_COUNT for "
        "a Kubernetes Indexed Job, AWS_BATCH_JOB_ARRAY_INDEX for an AWS Batch array job, SLURM_ARRAY_TASK_ID for a "
        "Slurm job array); or give --shard INDEX/COUNT");
  }
  if (s.count == 0 || s.index >= s.count) {
    return Status::InvalidArgument("--shard auto: " + s.scheduler + " gives shard " + std::to_string(s.index) + " of " +
                                   std::to_string(s.count) + ": the index must be below the count");
  }
  return s;
}

}  // namespace sluice
