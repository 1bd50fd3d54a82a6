// Input: the records a run reads. The input is a file, a glob of files (in
// name order) or standard input; each row becomes a Record with its
// position in the whole input from 0, the identity that shards, resumes and
// the manifest go by. Rows are read on a thread of their own, ahead of the
// records under way by at most the flow's queue.
//
//   * With shards, a record is this run's when its position modulo the
//     shard count is the shard's index.
//   * Positions an earlier run finished (a resume) are skipped, and counted.
//   * A row whose key is empty, or (unless input.duplicates is keep) was
//     read before, goes on dead at once, as does a row that does not parse:
//     it is dead-lettered with its file and line, never dropped.
//
// Thread safety: the counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/data/key_set.h"
#include "pipeline/output/manifest.h"
#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"
#include "sluice/pipeline.h"

namespace sluice::pipeline {

class Input {
 public:
  struct Options {
    std::uint64_t limit = 0;  // read at most this many records (0: all)
    std::uint32_t shard_index = 0;
    std::uint32_t shard_count = 1;
    // Called on the reading thread with each record read, before it goes
    // on (and is counted in read()): a stream keeps what it needs to give
    // every record read a line, whatever ends the stream.
    std::function<void(const Record&)> on_read;
  };
  using Stage = Source<Record, detail::UniqueFunction<Stream<Record>(detail::FlowState&)>>;

  // Finds the files and their sizes. Fails naming the input when no file
  // matches or one cannot be read.
  static Result<std::unique_ptr<Input>> open(const Plan& plan, Options options);

  // Each file and its size (0 for standard input or when unknown).
  const std::vector<std::pair<std::string, std::uint64_t>>& files() const { return files_; }
  const std::vector<std::string>& names() const { return names_; }
  std::uint64_t total_bytes() const { return total_bytes_; }  // 0: unknown

  // The flow's first stage. It skips the positions in `done` (a shard's own
  // numbering: position / shard count, see Commit) and ends early
  // once `stopping` is set. A problem with the input as a whole (a file
  // that cannot be opened or read on) is given to `stop_run` and ends the
  // input there, without failing the flow: the records read before it end
  // as usual and what is complete is committed, for --resume to carry on.
  // REQUIRES: `done` and `stopping` outlive the run; one run only.
  Stage source(const PositionSet& done, const std::atomic<bool>& stopping, std::function<void(const Status&)> stop_run);

  std::uint64_t read() const { return read_.load(std::memory_order_relaxed); }
  std::uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }
  std::uint64_t duplicates() const { return duplicates_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }
  bool read_all() const { return read_all_.load(std::memory_order_acquire); }
  // Rows in the whole input, every shard's (set once read_all()).
  std::uint64_t positions() const { return positions_.load(std::memory_order_acquire); }
  std::size_t key_index_bytes() const { return seen_keys_.memory_bytes(); }

 private:
  Input(const Plan& plan, Options options) : plan_(plan), options_(std::move(options)) {}
  Status read_files(Channel<Record>& out, detail::StageCounters& stage, const PositionSet& done,
                    const std::atomic<bool>& stopping);
  bool keys_are_new(const std::vector<Value>& row, const std::string& file, std::uint64_t line, Status& error);

  const Plan& plan_;
  const Options options_;
  std::vector<std::string> names_;
  std::vector<std::pair<std::string, std::uint64_t>> files_;
  std::uint64_t total_bytes_ = 0;
  KeySet seen_keys_;  // the input's keys so far (the reading thread only)
  std::atomic<std::uint64_t> read_{0}, skipped_{0}, duplicates_{0}, bytes_read_{0};
  std::atomic<std::uint64_t> positions_{0};
  std::atomic<bool> read_all_{false};
};

}  // namespace sluice::pipeline
