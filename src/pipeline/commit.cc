#include "commit.h"

#include <algorithm>
#include <optional>

namespace sluice::pipeline {

Commit::Commit(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options)
    : store_(std::move(store)), plan_(plan), options_(std::move(options)), file_name_(options_.file_name) {
  // sluice's own files start with '_', so that readers of the dataset
  // (Spark, Hive, Trino, DuckDB globs of *.parquet) pass them by.
  manifest_name_ = "_" + file_name_ + "-manifest.json";
  writer_options_.compression = plan.config.output.compression;
  writer_options_.row_group_rows = plan.config.output.row_group_rows;
}

Result<std::unique_ptr<Commit>> Commit::open(std::unique_ptr<ObjectStore> store, const Plan& plan, Options options) {
  std::unique_ptr<Commit> c(new Commit(std::move(store), plan, std::move(options)));
  SLUICE_RETURN_IF_ERROR(c->start_manifest());  // may name the files after the runs before
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
    if (earlier->committing) {  // the last run stopped about a commit: did it happen?
      Result<std::optional<ObjectInfo>> there = store_->head(earlier->committing->first);
      if (!there.ok()) return there.status();
      if (there->has_value()) {
        earlier->files.push_back(earlier->committing->first);
        for (const auto& [first, end] : earlier->committing->second.ranges()) earlier->done.add(first, end);
      }
      earlier->committing.reset();
    }
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
    for (std::uint64_t p : part.positions) rows.add(p);
  }
  PositionSet& waiting = plan_.partition_columns.empty() ? uncommitted_[""] : settled_;
  for (std::uint64_t p : chunk.settled) waiting.add(p);
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

Commit::Finished Commit::finish(Status status, bool whole_input, JobSummary& summary) {
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
  summary.abandoned_removed = abandoned_removed_;
  summary.overwritten = overwritten_;
  f.status = status;
  return f;
}

}  // namespace sluice::pipeline
