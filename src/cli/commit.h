// `sluice commit OUTPUT` and `sluice status OUTPUT`: a sharded job's
// commit, and where its shards are (sluice/job_commit.h).
#pragma once

#include <CLI/App.hpp>
#include <string>

namespace sluice::cli {

struct ShardedJobOptions {
  std::string output;  // a directory or s3://bucket/prefix
  std::string name;    // the job (output.name); empty: the only one there
};

void add_sharded_job_options(CLI::App& cmd, ShardedJobOptions& o);

// Exit codes: 0 committed (or, for status, read); 1 shards are missing or
// the store could not be reached: try again later; 2 no such output or
// job; 4 the shards cannot make one dataset (different inputs, a commit
// naming a file that is gone).
int commit_command(const ShardedJobOptions& o);
int status_command(const ShardedJobOptions& o);

}  // namespace sluice::cli
