// --shard auto: the shard a scheduler's environment names, as each of the
// three sets it, and the errors when it names none or a wrong one.
#include "sluice/shards.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sluice {
namespace {

Result<ShardOfJob> from(const std::map<std::string, std::string>& vars) {
  return shard_from_environment([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(ShardFromEnvironment, EachSchedulerAsItSetsIt) {
  auto k8s = from({{"JOB_COMPLETION_INDEX", "3"}, {"SLUICE_SHARD_COUNT", "4"}});
  ASSERT_TRUE(k8s.ok()) << k8s.status().to_string();
  EXPECT_EQ(k8s->index, 3u);
  EXPECT_EQ(k8s->count, 4u);
  EXPECT_EQ(k8s->scheduler, "Kubernetes");
  EXPECT_EQ(k8s->attempt, "");

  auto batch =
      from({{"AWS_BATCH_JOB_ARRAY_INDEX", "0"}, {"AWS_BATCH_JOB_ARRAY_SIZE", "2"}, {"AWS_BATCH_JOB_ATTEMPT", "2"}});
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_EQ(batch->index, 0u);
  EXPECT_EQ(batch->count, 2u);
  EXPECT_EQ(batch->scheduler, "AWS Batch");
  EXPECT_EQ(batch->attempt, "2");

  // sbatch --array=1-4: ids 1..4 are shards 0..3.
  auto slurm = from({{"SLURM_ARRAY_TASK_ID", "4"},
                     {"SLURM_ARRAY_TASK_MIN", "1"},
                     {"SLURM_ARRAY_TASK_COUNT", "4"},
                     {"SLURM_RESTART_COUNT", "1"}});
  ASSERT_TRUE(slurm.ok()) << slurm.status().to_string();
  EXPECT_EQ(slurm->index, 3u);
  EXPECT_EQ(slurm->count, 4u);
  EXPECT_EQ(slurm->scheduler, "Slurm");
  EXPECT_EQ(slurm->attempt, "1");
}

TEST(ShardFromEnvironment, NoneOrAWrongOneIsAnErrorThatSaysWhich) {
  auto expect = [](const Result<ShardOfJob>& r, const std::string& says) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status().message();
  };
  expect(from({}), "no scheduler's shard in the environment");
  expect(from({{"JOB_COMPLETION_INDEX", "1"}}), "SLUICE_SHARD_COUNT is not set");
  expect(from({{"JOB_COMPLETION_INDEX", "x"}, {"SLUICE_SHARD_COUNT", "4"}}), "JOB_COMPLETION_INDEX='x'");
  expect(from({{"AWS_BATCH_JOB_ARRAY_INDEX", "2"}, {"AWS_BATCH_JOB_ARRAY_SIZE", "2"}}),
         "AWS Batch gives shard 2 of 2: the index must be below the count");
  expect(from({{"AWS_BATCH_JOB_ARRAY_INDEX", "0"}}), "AWS_BATCH_JOB_ARRAY_SIZE is not set");
  expect(from({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}),
         "below SLURM_ARRAY_TASK_MIN");
  // A sparse array (--array=1,5): id 5 past a count of 2.
  expect(from({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}),
         "Slurm gives shard 4 of 2");
  expect(from({{"AWS_BATCH_JOB_ARRAY_INDEX", "-1"}, {"AWS_BATCH_JOB_ARRAY_SIZE", "2"}}), "expected a whole number");
}

}  // namespace
}  // namespace sluice
