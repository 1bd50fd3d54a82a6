#include "commit.h"

#include <cstdio>
#include <memory>

#include "job_command.h"
#include "log.h"
#include "sluice/job_commit.h"
#include "sluice/store.h"

namespace sluice::cli {

void add_sharded_job_options(CLI::App& cmd, ShardedJobOptions& o) {
  cmd.add_option("output", o.output, "where the shards wrote: a directory or s3://bucket/prefix")->required();
  cmd.add_option("--name", o.name, "the job (its output.name), when the output holds the shards of several");
}

namespace {

int failed(const char* command, const Status& why) {
  log_error(std::string(command) + ": " + why.message());
  switch (why.code()) {
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
      return 2;
    case StatusCode::kDataLoss:
      return 4;
    default:
      return exit_code_of(why);
  }
}

Result<std::unique_ptr<ObjectStore>> open_output(const std::string& output) {
  if (output.find("://") == std::string::npos || output.starts_with("file://")) {
    // A directory that is not there holds no job: say so rather than make it.
    const std::string path = output.starts_with("file://") ? output.substr(7) : output;
    if (std::FILE* f = std::fopen(path.c_str(), "r"); f != nullptr) {
      std::fclose(f);
    } else {
      return Status::NotFound(path + ": no such directory");
    }
  }
  return open_store(output);
}

}  // namespace

int status_command(const ShardedJobOptions& o) {
  auto store = open_output(o.output);
  if (!store.ok()) return failed("status", store.status());
  auto lines = describe_shards(**store, o.name);
  if (!lines.ok()) return failed("status", lines.status());
  std::fputs(lines->c_str(), stdout);
  return 0;
}

int commit_command(const ShardedJobOptions& o) {
  auto store = open_output(o.output);
  if (!store.ok()) return failed("commit", store.status());
  auto report = commit_shards(**store, o.name);
  if (!report.ok()) return failed("commit", report.status());
  const JobCommitReport& r = *report;
  std::printf("job committed%s: %u shards, %llu records: %llu done, %llu dead-lettered; %zu file(s)\n",
              r.already ? " (again)" : "", r.shards, static_cast<unsigned long long>(r.records),
              static_cast<unsigned long long>(r.done), static_cast<unsigned long long>(r.dead_lettered), r.files);
  if (!r.removed.empty()) {
    std::printf("removed   %zu file(s) no commit names (losing or abandoned attempts), the first: %s\n",
                r.removed.size(), (*store)->describe(r.removed.front()).c_str());
  }
  std::printf("marker    %s\n", (*store)->describe("_SUCCESS").c_str());
  return 0;
}

}  // namespace sluice::cli
