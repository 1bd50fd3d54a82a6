#include "pipeline/output/job_commit.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>

namespace sluice::pipeline {

std::string shard_base(const std::string& job, std::uint32_t index, std::uint32_t count) {
  return job + "-shard-" + std::to_string(index) + "-of-" + std::to_string(count);
}

std::string shard_commit_key(const std::string& job, std::uint32_t index, std::uint32_t count) {
  return "_" + shard_base(job, index, count) + "-commit.json";
}

std::string job_manifest_key(const std::string& job) { return "_" + job + "-manifest.json"; }

namespace {

constexpr std::string_view kSuccess = "_SUCCESS";

// A shard's record, named as job_commit.h shows: a commit, or an attempt's
// manifest.
struct ShardKey {
  std::string job;
  std::uint32_t index = 0, count = 0;
  std::string attempt;  // empty: the shard's commit
};

bool parse_u32(std::string_view text, std::uint32_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::optional<ShardKey> parse_shard_key(std::string_view key) {
  constexpr std::string_view kCommit = "-commit.json", kManifest = "-manifest.json";
  const bool commit = key.ends_with(kCommit);
  if (!key.starts_with('_') || key.find('/') != std::string_view::npos || (!commit && !key.ends_with(kManifest))) {
    return std::nullopt;
  }
  std::string_view rest = key.substr(1, key.size() - 1 - (commit ? kCommit.size() : kManifest.size()));
  ShardKey k;
  if (!commit) {
    if (rest.size() < 9 || rest[rest.size() - 9] != '-') return std::nullopt;
    k.attempt = rest.substr(rest.size() - 8);
    if (k.attempt.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
    rest.remove_suffix(9);
  }
  const auto at = rest.rfind("-shard-");
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  k.job = rest.substr(0, at);
  std::string_view numbers = rest.substr(at + 7);
  const auto of = numbers.find("-of-");
  if (of == std::string_view::npos || !parse_u32(numbers.substr(0, of), k.index) ||
      !parse_u32(numbers.substr(of + 4), k.count) || k.index >= k.count) {
    return std::nullopt;
  }
  return k;
}

Result<Manifest> read_manifest(ObjectStore& store, const std::string& key) {
  Result<std::string> text = store.get(key);
  if (!text.ok()) return text.status();
  return Manifest::parse(*text, store.describe(key));
}

std::string count_of(std::uint64_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

// "attempt 1a2b3c4d: 120 records done, ..." or "no attempt has started".
std::string attempts_text(const ShardState& s) {
  if (s.attempts.empty()) return "no attempt has started";
  std::string out;
  for (const Manifest& m : s.attempts) {
    out += (out.empty() ? "" : ", ") + std::string("attempt ") + (m.shard ? m.shard->attempt : "?") + ": " +
           std::to_string(m.done.size()) + " records done";
  }
  return out;
}

}  // namespace

Result<JobState> read_job(ObjectStore& store, const std::string& job) {
  Result<std::vector<ObjectInfo>> all = store.list("");
  if (!all.ok()) return all.status();
  std::map<std::string, std::set<std::uint32_t>> jobs;  // job -> the counts it was run with
  std::vector<std::pair<std::string, ShardKey>> mine;
  std::set<std::string> there;
  bool success = false;
  for (const ObjectInfo& o : *all) {
    there.insert(o.key);
    success = success || o.key == kSuccess;
    std::optional<ShardKey> k = parse_shard_key(o.key);
    if (!k) continue;
    jobs[k->job].insert(k->count);
    if (job.empty() || k->job == job) mine.emplace_back(o.key, std::move(*k));
  }
  std::string name = job;
  if (name.empty()) {
    if (jobs.empty()) return Status::NotFound(store.describe("") + ": holds no shard of any job");
    if (jobs.size() > 1) {
      std::string names;
      for (const auto& [j, counts] : jobs) names += (names.empty() ? "" : ", ") + j;
      return Status::InvalidArgument(store.describe("") + ": holds the shards of several jobs (" + names +
                                     "): name one with --name");
    }
    name = jobs.begin()->first;
  }
  auto it = jobs.find(name);
  if (it == jobs.end()) return Status::NotFound(store.describe("") + ": holds no shard of a job named '" + name + "'");
  if (it->second.size() > 1) {
    std::string counts;
    for (std::uint32_t c : it->second) counts += (counts.empty() ? "" : ", ") + std::to_string(c);
    return Status::FailedPrecondition("the shards of job '" + name + "' in " + store.describe("") +
                                      " were run with different counts (" + counts + "): one job, one count");
  }
  JobState st{.job = name, .count = *it->second.begin(), .shards = {}, .success = success, .keys = {}};
  st.shards.resize(st.count);
  for (std::uint32_t i = 0; i < st.count; ++i) st.shards[i].index = i;
  for (const auto& [key, k] : mine) {
    Result<Manifest> m = read_manifest(store, key);
    if (!m.ok() && m.status().code() == StatusCode::kNotFound) continue;  // an attempt that just ended
    if (!m.ok()) return m.status();
    ShardState& s = st.shards[k.index];
    if (k.attempt.empty()) {
      s.committed = std::move(*m);
      continue;
    }
    // Saved as it was about to commit a file: if the file is there, its
    // records are done too.
    if (m->committing && there.contains(m->committing->first)) {
      m->files.push_back(m->committing->first);
      for (const auto& [first, end] : m->committing->second.ranges()) m->done.add(first, end);
    }
    m->committing.reset();
    s.attempts.push_back(std::move(*m));
  }
  st.keys = std::move(there);
  return st;
}

std::string describe_job(const JobState& st) {
  std::uint32_t committed = 0;
  std::string missing, lines;
  for (const ShardState& s : st.shards) {
    const std::string name = "shard " + std::to_string(s.index) + " of " + std::to_string(st.count);
    if (s.committed && s.committed->shard) {
      ++committed;
      const ShardAttempt& a = *s.committed->shard;
      lines += name + ": committed by attempt " + a.attempt +
               (a.scheduler_attempt.empty() ? "" : " (the scheduler's attempt " + a.scheduler_attempt + ")") + ": " +
               count_of(a.records(), "record") + ", " + std::to_string(s.committed->done.size()) + " done, " +
               std::to_string(a.dead_lettered) + " dead-lettered, in " + count_of(s.committed->files.size(), "file");
      if (!s.attempts.empty()) lines += "; not committed: " + attempts_text(s);
      lines += "\n";
    } else {
      missing += (missing.empty() ? "" : ", ") + std::to_string(s.index);
      lines += name + ": not committed; " + attempts_text(s) + "\n";
    }
  }
  std::string head =
      "job " + st.job + ": " + std::to_string(committed) + " of " + count_of(st.count, "shard") + " committed";
  if (st.success && missing.empty()) {
    head += "; the job is committed (_SUCCESS)";
  } else if (!missing.empty()) {
    head += "; waiting for shard" + std::string(missing.find(',') == std::string::npos ? " " : "s ") + missing;
  } else {
    head += "; sluice commit makes them one dataset";
  }
  return head + "\n" + lines;
}

namespace {

// Every shard committed once, over the same input, accounting for each of
// its records: counted into `report`.
Status check_commits(ObjectStore& store, const JobState& st, JobCommitReport& report) {
  std::string missing;
  for (const ShardState& s : st.shards) {
    if (!s.committed) {
      missing += (missing.empty() ? "" : "; ") + std::string("shard ") + std::to_string(s.index) + " (" +
                 attempts_text(s) + ")";
    }
  }
  if (!missing.empty()) {
    return Status::Unavailable("job '" + st.job + "' in " + store.describe("") +
                               " is not complete: not committed: " + missing);
  }
  const Manifest& first = *st.shards[0].committed;
  for (const ShardState& s : st.shards) {
    const Manifest& m = *s.committed;
    const std::string name = "shard " + std::to_string(s.index) + " of " + std::to_string(st.count);
    if (!m.shard || m.shard->index != s.index || m.shard->count != st.count) {
      return Status::DataLoss(store.describe(shard_commit_key(st.job, s.index, st.count)) + ": is not " + name +
                              "'s commit");
    }
    if (m.inputs != first.inputs || m.shard->input_records != first.shard->input_records) {
      return Status::FailedPrecondition("job '" + st.job + "': " + name + " and shard 0 read different inputs (" +
                                        std::to_string(m.shard->input_records) + " and " +
                                        std::to_string(first.shard->input_records) + " records): they are not one job");
    }
    if (m.done.size() + m.shard->dead_lettered != m.shard->records()) {
      return Status::FailedPrecondition("job '" + st.job + "': " + name + " accounts for " +
                                        std::to_string(m.done.size() + m.shard->dead_lettered) + " of its " +
                                        std::to_string(m.shard->records()) + " records");
    }
    report.done += m.done.size();
    report.dead_lettered += m.shard->dead_lettered;
  }
  report.records = first.shard->input_records;
  return Status();
}

// The shards' commits as one run's manifest: every file (each must be
// there), the dead letters there are, the done positions in the input's
// own numbering.
Result<Manifest> merge_commits(ObjectStore& store, const JobState& st, std::uint64_t records) {
  // What the output held when the shards were read (no shard is running by
  // now, see job_commit.h): listed once, not again here.
  const std::set<std::string>& there = st.keys;
  Manifest merged;
  merged.runs = 1;
  merged.inputs = st.shards[0].committed->inputs;
  std::vector<PositionCursor> cursors;
  for (const ShardState& s : st.shards) {
    for (const std::string& f : s.committed->files) {
      if (!there.contains(f)) {
        return Status::DataLoss(store.describe(shard_commit_key(st.job, s.index, st.count)) + " names " +
                                store.describe(f) + ", which is not there");
      }
      merged.files.push_back(f);
    }
    for (const std::string& f : s.committed->dead_letters) {
      if (there.contains(f)) merged.dead_letters.push_back(f);
    }
    cursors.emplace_back(s.committed->done);
  }
  std::sort(merged.files.begin(), merged.files.end());
  // Walked in order so that the set stays a few ranges as it grows.
  for (std::uint64_t p = 0; p < records; ++p) {
    if (cursors[p % st.count].contains(p / st.count)) merged.done.add(p);
  }
  return merged;
}

// Every file of the job's shards that `merged` does not name (losing
// attempts', abandoned ones, the attempts' manifests); not the shards'
// commits.
Status remove_unnamed(ObjectStore& store, const JobState& st, const Manifest& merged, JobCommitReport& report) {
  std::set<std::string> named(merged.files.begin(), merged.files.end());
  named.insert(merged.dead_letters.begin(), merged.dead_letters.end());
  const std::string data = st.job + "-shard-", own = "_" + st.job + "-shard-";
  for (const std::string& key : st.keys) {
    const std::string base = key.substr(key.rfind('/') + 1);
    if (!base.starts_with(data) && !base.starts_with(own)) continue;
    std::optional<ShardKey> k = parse_shard_key(key);
    if (named.contains(key) || (k && k->attempt.empty())) continue;  // a commit names it, or is one
    SLUICE_RETURN_IF_ERROR(store.remove(key), "removing what no commit names");
    report.removed.push_back(key);
  }
  for (const std::string& prefix : {data, own}) {
    Result<std::vector<std::string>> gone = store.remove_abandoned(prefix);
    if (!gone.ok()) return gone.status();
    report.removed.insert(report.removed.end(), gone->begin(), gone->end());
  }
  return Status();
}

}  // namespace

Result<JobCommitReport> commit_job(ObjectStore& store, const std::string& job) {
  SLUICE_ASSIGN_OR_RETURN(const JobState st, read_job(store, job));
  JobCommitReport report{.shards = st.count, .already = st.success};
  SLUICE_RETURN_IF_ERROR(check_commits(store, st, report));
  SLUICE_ASSIGN_OR_RETURN(const Manifest merged, merge_commits(store, st, report.records));
  report.files = merged.files.size();
  SLUICE_RETURN_IF_ERROR(store.put(job_manifest_key(st.job), merged.to_json()), "the job's manifest");
  SLUICE_RETURN_IF_ERROR(remove_unnamed(store, st, merged, report));
  SLUICE_RETURN_IF_ERROR(store.put(std::string(kSuccess), ""), "the _SUCCESS marker");
  return report;
}

}  // namespace sluice::pipeline

namespace sluice {

Result<std::string> describe_shards(ObjectStore& store, const std::string& job) {
  SLUICE_ASSIGN_OR_RETURN(const pipeline::JobState state, pipeline::read_job(store, job));
  return pipeline::describe_job(state);
}

Result<JobCommitReport> commit_shards(ObjectStore& store, const std::string& job) {
  return pipeline::commit_job(store, job);
}

}  // namespace sluice
