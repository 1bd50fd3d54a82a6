#include "pipeline/run/commit.h"

#include <algorithm>
#include <optional>

#include "pipeline/output/job_commit.h"

namespace sluice::pipeline {

Commit::Commit(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options)
    : store_(std::move(store)), plan_(plan), options_(std::move(options)), file_name_(options_.file_name) {
  // sluice's own files start with '_', so that readers of the dataset
  // (Spark, Hive, Trino, DuckDB globs of *.parquet) pass them by.
  manifest_name_ = "_" + file_name_ + "-manifest.json";
  if (options_.shard) count_ = options_.shard->count;
  writer_options_.compression = plan.config.output.compression;
  writer_options_.row_group_rows = plan.config.output.row_group_rows;
}

Result<std::unique_ptr<Commit>> Commit::open(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options) {
  std::unique_ptr<Commit> c(new Commit(std::move(store), plan, std::move(options)));
  // Either may rename the files: after the runs before, or the attempt.
  SLUICE_RETURN_IF_ERROR(c->options_.shard ? c->start_shard() : c->start_manifest());
  c->dead_name_ = "_" + c->file_name_ + "-dead-letter.jsonl";
  return c;
}

// Just before partition `dir`'s open file is committed: a manifest naming
// it and its records (those in uncommitted[dir]), so that whether the run
// stops before or after the commit, a resume knows what is done.
Status Commit::prepare_commit(const std::string& dir, const std::string& name) {
  manifest_.committing.emplace(name, uncommitted_[dir]);
  return save_manifest();
}

// Files of partition `dir` committed since the last call go into the
// manifest, and the rows they hold are done (so are the records settled
// without a row since the last commit).
void Commit::note_commits(const std::string& dir,
                          const std::vector<std::pair<std::string, parquet::FileSummary>>& files) {
  std::size_t& seen = files_in_manifest_[dir];
  if (seen == files.size()) return;
  manifest_.committing.reset();
  for (; seen < files.size(); ++seen) manifest_.files.push_back(files[seen].first);
  PositionSet& rows = uncommitted_[dir];
  for (const auto& [first, end] : rows.ranges()) manifest_.done.add(first, end);
  rows = PositionSet();
  for (const auto& [first, end] : settled_.ranges()) manifest_.done.add(first, end);
  settled_ = PositionSet();
}

// A manifest written as its run was about to commit a file: whether the
// commit happened decides whether the file and its records are done.
Status Commit::settle_committing(Manifest& m) {
  if (!m.committing) return Status();
  Result<std::optional<ObjectInfo>> there = store_->head(m.committing->first);
  if (!there.ok()) return there.status();
  if (there->has_value()) {
    m.files.push_back(m.committing->first);
    for (const auto& [first, end] : m.committing->second.ranges()) m.done.add(first, end);
  }
  m.committing.reset();
  return Status();
}

// The manifest this run starts from, by what the output holds:
//  * no earlier run of this name: a fresh one;
//  * with --resume: the last run's, after checking that the input is the
//    same (its records are skipped);
//  * otherwise, by output.mode: refuse (error), remove exactly the files
//    its manifest names (overwrite), or keep them and add (append).
// A run after others names its files <name>-r<N>-…, N counting those runs.
// Files of this name that no manifest names are refused in every mode:
// sluice cannot tell what they hold.
Status Commit::start_manifest() {
  const auto& sizes = options_.inputs;
  const OutputMode mode = plan_.config.output.mode;
  if (options_.resume && sizes.size() == 1 && sizes[0].first == "-") {
    return Status::InvalidArgument("--resume: the input is standard input, which cannot be read again");
  }
  if (options_.resume) {
    // A killed run leaves its open files behind, never under their names:
    // its data files and its own (_-prefixed) ones.
    for (const std::string& name : {file_name_ + "-", "_" + file_name_ + "-"}) {
      auto removed = store_->remove_abandoned(name);
      if (!removed.ok()) return removed.status();
      abandoned_removed_ += removed->size();
    }
  }
  const std::string where = store_->describe(manifest_name_);
  Result<std::string> text = store_->get(manifest_name_);
  if (!text.ok() && text.status().code() != StatusCode::kNotFound) return text.status();
  std::optional<Manifest> earlier;
  if (text.ok()) {
    Result<Manifest> m = Manifest::parse(*text, where);
    if (!m.ok()) return m.status();
    earlier = std::move(*m);
    SLUICE_RETURN_IF_ERROR(settle_committing(*earlier));
  }
  SLUICE_RETURN_IF_ERROR(refuse_strays(earlier ? earlier->files : std::vector<std::string>{}));
  if (earlier && options_.resume) {
    if (earlier->inputs != sizes) {
      std::string was, is;
      for (const auto& [f, n] : earlier->inputs)
        was += (was.empty() ? "" : ", ") + f + " (" + std::to_string(n) + " bytes)";
      for (const auto& [f, n] : sizes) is += (is.empty() ? "" : ", ") + f + " (" + std::to_string(n) + " bytes)";
      return Status::FailedPrecondition("--resume: the input is not the one " + where + " describes: it was " + was +
                                        "; it is " + is);
    }
    manifest_ = std::move(*earlier);
    done_before_ = manifest_.done;
    resuming_ = true;
  } else if (earlier && mode == OutputMode::kError) {
    return Status::FailedPrecondition(
        "the output already holds a run named '" + file_name_ + "' (" + std::to_string(earlier->files.size()) +
        " file(s), see " + where +
        "): --resume carries it on; output.mode: overwrite replaces it, append adds to it; "
        "or write somewhere else");
  } else if (earlier && mode == OutputMode::kOverwrite) {
    std::vector<std::string> old = earlier->files;
    old.insert(old.end(), earlier->dead_letters.begin(), earlier->dead_letters.end());
    for (const auto& key : old) {
      if (Status s = store_->remove(key); !s.ok()) return s.with_context("output.mode: overwrite");
    }
    overwritten_ = old.size();
  } else if (earlier) {  // append: the earlier files stay, a new input starts from nothing
    manifest_.runs = earlier->runs;
    manifest_.files = std::move(earlier->files);
    manifest_.dead_letters = std::move(earlier->dead_letters);
  }
  manifest_.inputs = sizes;
  if (manifest_.runs > 0) file_name_ += "-r" + std::to_string(manifest_.runs);
  ++manifest_.runs;
  return Status();
}

namespace {
std::string describe_inputs(const std::vector<std::pair<std::string, std::uint64_t>>& inputs) {
  std::string out;
  for (const auto& [f, n] : inputs) out += (out.empty() ? "" : ", ") + f + " (" + std::to_string(n) + " bytes)";
  return out;
}
}  // namespace

// A shard's attempt starts (see Options::shard):
//  * the shard committed already, over the same input: nothing to do (an
//    attempt retried after another finished); over another input: refused;
//  * a committed job of this name (or a single run's manifest): refused;
//  * with --resume, the attempt of the shard that got furthest is carried
//    on: its committed files and done positions become this attempt's;
//  * the attempt's manifest is created only if absent, which also finds a
//    store that cannot commit a shard atomically before any work is done.
Status Commit::start_shard() {
  const ShardAttempt& a = *options_.shard;
  const std::string& job = options_.file_name;
  const std::string base = shard_base(job, a.index, a.count);
  const std::string shard_name = "shard " + std::to_string(a.index) + " of " + std::to_string(a.count);
  const OutputConfig& o = plan_.config.output;
  if (o.mode != OutputMode::kError) {
    return Status::InvalidArgument(o.where.str() +
                                   ": output.mode: overwrite and append are for single runs; the shards of a "
                                   "job are committed once each (sluice commit): write each job somewhere new");
  }
  if (options_.resume && options_.inputs.size() == 1 && options_.inputs[0].first == "-") {
    return Status::InvalidArgument("--resume: the input is standard input, which cannot be read again");
  }
  commit_key_ = shard_commit_key(job, a.index, a.count);
  Result<std::string> committed = store_->get(commit_key_);
  if (committed.ok()) {
    Result<Manifest> m = Manifest::parse(*committed, store_->describe(commit_key_));
    if (!m.ok()) return m.status();
    if (m->inputs != options_.inputs || !m->shard) {
      return Status::FailedPrecondition(store_->describe(commit_key_) + ": " + shard_name + " of a job named '" + job +
                                        "' over another input (" + describe_inputs(m->inputs) +
                                        ") is committed there: write this job somewhere else");
    }
    committed_by_ = m->shard->attempt;
    return Status();
  }
  if (committed.status().code() != StatusCode::kNotFound) return committed.status();
  Result<std::optional<ObjectInfo>> run = store_->head(job_manifest_key(job));
  if (!run.ok()) return run.status();
  if (run->has_value()) {
    return Status::FailedPrecondition("the output already holds a job or run named '" + job + "' (see " +
                                      store_->describe(job_manifest_key(job)) + "): write somewhere else");
  }
  if (options_.resume) {
    Result<std::vector<ObjectInfo>> mine = store_->list("_" + base + "-");
    if (!mine.ok()) return mine.status();
    std::optional<Manifest> furthest;
    for (const ObjectInfo& info : *mine) {
      if (!info.key.ends_with("-manifest.json")) continue;
      Result<std::string> text = store_->get(info.key);
      if (!text.ok()) return text.status();
      Result<Manifest> m = Manifest::parse(*text, store_->describe(info.key));
      if (!m.ok()) return m.status();
      if (m->inputs != options_.inputs) {
        return Status::FailedPrecondition("--resume: the input is not the one " + store_->describe(info.key) +
                                          " describes: it was " + describe_inputs(m->inputs) + "; it is " +
                                          describe_inputs(options_.inputs));
      }
      SLUICE_RETURN_IF_ERROR(settle_committing(*m));
      if (!furthest || m->done.size() > furthest->done.size()) furthest = std::move(*m);
    }
    if (furthest) {
      manifest_.files = std::move(furthest->files);
      manifest_.dead_letters = std::move(furthest->dead_letters);
      manifest_.done = std::move(furthest->done);
      manifest_.runs = furthest->runs;
      done_before_ = manifest_.done;
      resuming_ = true;
    }
  }
  ++manifest_.runs;
  manifest_.inputs = options_.inputs;
  manifest_.shard = a;
  file_name_ = base + "-" + a.attempt;
  manifest_name_ = "_" + file_name_ + "-manifest.json";
  Status s = store_->create_exclusive(manifest_name_, manifest_.to_json());
  if (s.code() == StatusCode::kUnimplemented) {
    return Status::Unimplemented(s.message() +
                                 ": a shard's commit must be one atomic create, which this store "
                                 "cannot do; write the job to a local directory or to AWS S3");
  }
  return s.with_context(shard_name + ", attempt " + a.attempt);
}

// The attempt read its shard whole and committed its files: it commits the
// shard, if no other attempt did first. The loser removes its own files
// (never those the winner's commit names: it may have carried them on).
Status Commit::commit_shard(const RunEnd& end, JobSummary& summary) {
  ShardAttempt& a = *manifest_.shard;
  a.input_records = end.input_records;
  a.dead_lettered = end.dead_lettered;
  if (manifest_.done.size() + a.dead_lettered != a.records()) {
    return Status::Internal("shard " + std::to_string(a.index) + " of " + std::to_string(a.count) + ": " +
                            std::to_string(manifest_.done.size()) + " records done and " +
                            std::to_string(a.dead_lettered) + " dead-lettered, of " + std::to_string(a.records()) +
                            ": not committed");
  }
  Status s = store_->create_exclusive(commit_key_, manifest_.to_json());
  if (s.ok()) {
    summary.shard_commit = "committed";
    summary.manifest = store_->describe(commit_key_);
    return store_->remove(manifest_name_);  // the commit supersedes it
  }
  if (s.code() != StatusCode::kAlreadyExists) return s.with_context("committing the shard");
  Result<std::string> text = store_->get(commit_key_);
  if (!text.ok()) return text.status();
  Result<Manifest> winner = Manifest::parse(*text, store_->describe(commit_key_));
  if (!winner.ok()) return winner.status();
  std::vector<std::string> mine = manifest_.files;
  mine.insert(mine.end(), manifest_.dead_letters.begin(), manifest_.dead_letters.end());
  mine.push_back(manifest_name_);
  for (const std::string& key : mine) {
    const bool named =
        std::find(winner->files.begin(), winner->files.end(), key) != winner->files.end() ||
        std::find(winner->dead_letters.begin(), winner->dead_letters.end(), key) != winner->dead_letters.end();
    const std::string base = key.substr(key.rfind('/') + 1);
    const bool ours = base.starts_with(file_name_ + "-") || base.starts_with("_" + file_name_ + "-");
    if (!named && ours) SLUICE_RETURN_IF_ERROR(store_->remove(key), "removing a losing attempt's files");
  }
  summary.files.clear();
  summary.dead_letter.clear();
  summary.shard_commit = "lost to attempt " + (winner->shard ? winner->shard->attempt : std::string("?"));
  summary.manifest = store_->describe(commit_key_);
  return Status();
}

// Files named like this run's (<name>-….parquet) that `known` does not
// hold: an error naming them.
Status Commit::refuse_strays(const std::vector<std::string>& known) {
  Result<std::vector<ObjectInfo>> all = store_->list("");
  if (!all.ok()) return all.status();
  std::vector<std::string> strays;
  for (const ObjectInfo& o : *all) {
    const std::string base = o.key.substr(o.key.rfind('/') + 1);
    if (!base.starts_with(file_name_ + "-") || !base.ends_with(".parquet")) continue;
    if (std::find(known.begin(), known.end(), o.key) == known.end()) strays.push_back(o.key);
  }
  if (strays.empty()) return Status();
  return Status::FailedPrecondition("the output holds " + std::to_string(strays.size()) +
                                    " file(s) named like this run's that no manifest of '" + file_name_ +
                                    "' names (the first: " + store_->describe(strays.front()) +
                                    "): sluice cannot tell what they hold; remove them or write somewhere else");
}

// The end of a run whose files are all committed. A resumed run that read
// its whole input tried again every record the earlier runs dead-lettered:
// their dead-letter files are out of date, and go.
Status Commit::finish_manifest(bool whole_input) {
  if (whole_input && resuming_) {
    std::vector<std::string> keep;
    for (const auto& key : manifest_.dead_letters) {
      if (key == dead_name_) {
        keep.push_back(key);
      } else if (options_.shard) {
        // Another attempt's, which may still be running: left to sluice commit.
      } else if (Status s = store_->remove(key); !s.ok()) {
        return s.with_context("an earlier run's dead letters");
      }
    }
    manifest_.dead_letters = std::move(keep);
  }
  return save_manifest();
}

Status Commit::save_manifest() {
  Status s = store_->put(manifest_name_, manifest_.to_json());
  return s.with_context("the manifest " + store_->describe(manifest_name_));
}

std::unique_ptr<parquet::RollingParquetWriter> Commit::make_writer(const std::string& dir) {
  const OutputConfig& o = plan_.config.output;
  ObjectStore* s = store_.get();
  return std::make_unique<parquet::RollingParquetWriter>(
      *plan_.schema, writer_options_,
      parquet::RollingOptions{
          .file_rows = o.file_rows,
          .prefix = dir + file_name_,
          .split_batches = false,
          .before_commit = [this, dir](const std::string& name) { return prepare_commit(dir, name); }},
      [s](const std::string& name) { return s->open_write(name); });
}

Status Commit::write(const Chunk& chunk) {
  for (auto& [dir, part] : chunk.parts) {
    auto it = writers_.find(dir);
    if (it == writers_.end()) {
      if (writers_.size() >= kMaxPartitions) {
        return Status::ResourceExhausted("output.partition_by: more than " + std::to_string(kMaxPartitions) +
                                         " partitions (each holds an open file); partition by fewer values");
      }
      it = writers_.emplace(dir, make_writer(dir)).first;
    }
    SLUICE_RETURN_IF_ERROR(it->second->write(part.batch));
    // A file committed by this write holds the rows before this batch.
    note_commits(dir, it->second->committed());
    PositionSet& rows = uncommitted_[dir];
    for (std::uint64_t p : part.positions) rows.add(p / count_);
  }
  PositionSet& waiting = plan_.partition_columns.empty() ? uncommitted_[""] : settled_;
  for (std::uint64_t p : chunk.settled) waiting.add(p / count_);
  if (!chunk.dead.empty()) {
    if (!dead_stream_) {
      auto s = store_->open_write(dead_name_);
      if (!s.ok()) return s.status();
      dead_stream_ = std::move(*s);
    }
    for (const auto& line : chunk.dead) {
      SLUICE_RETURN_IF_ERROR(dead_stream_->write(line));
    }
  }
  return Status();
}

Commit::Finished Commit::finish(Status status, const RunEnd& end, JobSummary& summary) {
  const bool whole_input = end.whole_input;
  // The open files: committed if every stage ended normally, else left
  // uncommitted (nothing half-written is ever visible).
  for (auto& [dir, writer] : writers_) {
    if (!status.ok()) {
      writer->abort();
      continue;
    }
    auto files = writer->close();
    if (!files.ok()) {
      status = files.status();
      continue;
    }
    note_commits(dir, *files);
  }
  Finished f{.status = Status(), .all_committed = status.ok(), .rows = 0};
  // What the output holds now: every file committed, as it rolled or at the end.
  for (auto& [dir, writer] : writers_) {
    for (const auto& [name, fs] : writer->committed()) {
      summary.files.push_back({store_->describe(name), fs.rows, fs.bytes});
      summary.bytes_written += fs.bytes;
      f.rows += fs.rows;
    }
  }
  if (dead_stream_) {
    if (Status s = dead_stream_->close(); !s.ok() && status.ok()) status = s;
    summary.dead_letter = store_->describe(dead_name_);
    manifest_.dead_letters.push_back(dead_name_);
  }
  // Every file is committed: what the run finished is done. (After a
  // failure the manifest stays as the last commit left it.)
  if (status.ok()) {
    for (auto& [dir, rows] : uncommitted_) {
      for (const auto& [first, end] : rows.ranges()) manifest_.done.add(first, end);
    }
    for (const auto& [first, end] : settled_.ranges()) manifest_.done.add(first, end);
    status = finish_manifest(whole_input);
  }
  summary.manifest = store_->describe(manifest_name_);
  if (options_.shard) {
    summary.attempt = manifest_.shard->attempt;
    summary.shard_commit = "not committed";
    if (status.ok() && whole_input) status = commit_shard(end, summary);
  }
  summary.abandoned_removed = abandoned_removed_;
  summary.overwritten = overwritten_;
  f.status = status;
  return f;
}

}  // namespace sluice::pipeline
