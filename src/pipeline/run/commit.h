// Commit: where a run's output goes and how it becomes visible.
//
//   * One rolling Parquet writer per partition directory. A file appears
//     under its name only once committed, whole (the store's commit: a
//     rename, or the end of a multipart upload).
//   * The dead letters: one JSON line per record that failed.
//   * The manifest (_<name>-manifest.json): the files the run committed and
//     the input positions done. It is written just before each commit
//     (naming the file in `committing`) and again after it, so a run killed
//     at any moment resumes exactly: each record is in a committed file, or
//     is done again.
//
// open() starts from what the output already holds: an earlier run of the
// same name is carried on (--resume, after checking that the input is the
// same), or by output.mode refused, replaced or added to. Files of this
// name that no manifest names are refused in every mode.
//
// Not thread-safe: one writer stage calls write(), then the end of the run
// calls finish().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/output/manifest.h"
#include "pipeline/plan/plan.h"
#include "pipeline/run/columns.h"
#include "sluice/job_summary.h"
#include "sluice/parquet/writer.h"
#include "sluice/store.h"

namespace sluice::pipeline {

class Commit {
 public:
  struct Options {
    std::string file_name;  // output.name
    bool resume = false;
    // Each input file and its size (0 when unknown), as the manifest records them.
    std::vector<std::pair<std::string, std::uint64_t>> inputs;
    // One shard of a job (`sluice run --shard`, count > 1): the attempt
    // writes under names of its own (job_commit.h) and, having read the
    // whole input, commits the shard by creating its commit record, which
    // only the first attempt to finish can do. Without resume it starts
    // afresh; with it, it carries on the attempt of the shard that got
    // furthest. Other attempts' files are never touched: `sluice commit`
    // removes what no commit names.
    std::optional<ShardAttempt> shard;
  };
  static Result<std::unique_ptr<Commit>> open(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options);

  // The positions the runs carried on finished: the input skips them.
  const PositionSet& done_before() const { return done_before_; }

  // A shard another attempt committed, over the same input: nothing to do
  // (the attempt that did it; empty otherwise).
  const std::string& committed_by() const { return committed_by_; }

  // A batch's rows into their partitions' files (a file that fills is
  // committed), its dead letters, and its positions, done once their files
  // are committed.
  Status write(const Chunk& chunk);

  // The end of the run, after its last write(). With `status` ok the open
  // files are committed, then the manifest marks what the run finished as
  // done (and with `whole_input`, the input read to its end and the run not
  // failed, the dead letters of the runs carried on, all done again, go);
  // else they are left uncommitted. Fills the summary's files, bytes, dead
  // letter, manifest and removed-file counts.
  struct RunEnd {
    bool whole_input = false;         // the input was read to its end and the run did not fail
    std::uint64_t input_records = 0;  // then: rows in the whole input
    std::uint64_t dead_lettered = 0;  // records this run dead-lettered
  };
  struct Finished {
    Status status;       // `status`, or the first error of committing
    bool all_committed;  // every open file was committed
    std::uint64_t rows;  // in the files committed, in this run
  };
  Finished finish(Status status, const RunEnd& end, JobSummary& summary);

 private:
  Commit(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options);
  Status start_manifest();
  Status start_shard();
  Status settle_committing(Manifest& m);
  Status commit_shard(const RunEnd& end, JobSummary& summary);
  Status refuse_strays(const std::vector<std::string>& known);
  Status prepare_commit(const std::string& dir, const std::string& name);
  void note_commits(const std::string& dir, const std::vector<std::pair<std::string, parquet::FileSummary>>& files);
  Status finish_manifest(bool whole_input);
  Status save_manifest();
  std::unique_ptr<parquet::RollingParquetWriter> make_writer(const std::string& dir);

  static constexpr std::size_t kMaxPartitions = 1024;

  std::unique_ptr<ObjectStore> store_;
  const Plan& plan_;
  Options options_;
  std::string file_name_;  // options_.file_name, and the run when others came before
  std::string manifest_name_, dead_name_;
  parquet::WriterOptions writer_options_;
  std::map<std::string, std::unique_ptr<parquet::RollingParquetWriter>> writers_;  // by partition directory
  std::unique_ptr<OutputStream> dead_stream_;

  // Files roll only between batches, so when a partition's writer commits a
  // file, that file holds exactly the rows written to it before the batch at
  // hand: their positions wait in `uncommitted_[dir]` until then. Without
  // partitions the positions of records filtered or not joined wait there
  // too, so that the set stays a few ranges however long the file; with
  // partitions they wait in `settled_` until the next manifest.
  Manifest manifest_;
  PositionSet done_before_;
  std::map<std::string, PositionSet> uncommitted_;
  PositionSet settled_;
  std::map<std::string, std::size_t> files_in_manifest_;  // per partition writer
  bool resuming_ = false;                                 // carrying on an earlier run (--resume, and there was one)
  std::size_t abandoned_removed_ = 0;                     // with resume: files a killed run had left open
  std::size_t overwritten_ = 0;                           // with output.mode overwrite: the earlier runs' files removed
  std::string commit_key_;                                // a shard's commit record
  std::uint32_t count_ = 1;   // positions are numbered within the shard: input position / shard count
  std::string committed_by_;  // the attempt that committed the shard before this one
};

}  // namespace sluice::pipeline
