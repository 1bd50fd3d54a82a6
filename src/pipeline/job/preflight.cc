#include "pipeline/job/preflight.h"

#include <unistd.h>

#include <boost/url/parse.hpp>
#include <cstdlib>
#include <filesystem>

#include "pipeline/table/reader.h"
#include "sluice/http/client.h"
#include "sluice/runtime.h"
#include "sluice/store.h"

namespace sluice::pipeline {

namespace {

// A table's files can be opened and hold its columns (a CSV's header, a
// Parquet file's schema; JSON Lines has none to check).
void check_table(const TableConfig& t, const std::string& what, std::vector<std::string>& problems) {
  Result<std::vector<std::string>> files = input_files(t);
  if (!files.ok()) {
    problems.push_back(files.status().message());
    return;
  }
  for (const auto& f : *files) {
    // Standard input, or a pipe (`<(zcat records.csv.gz)`): nothing to look
    // at before the run, as what is read of it is gone.
    std::error_code ec;
    const auto type = std::filesystem::status(f, ec).type();
    if (f == "-" || type == std::filesystem::file_type::fifo || type == std::filesystem::file_type::character ||
        type == std::filesystem::file_type::socket) {
      continue;
    }
    TableConfig one = t;
    one.path = f;
    if (auto r = TableReader::open(one); !r.ok())
      problems.push_back(t.where.str() + ": " + what + ": " + r.status().message());
  }
}

// A local output: a directory, or somewhere one can be made. The nearest
// part of the path that exists must be a directory (a file there is a
// mistake no retry fixes), and one this process may write in.
void check_local_output(const OutputConfig& o, std::vector<std::string>& problems) {
  namespace fs = std::filesystem;
  fs::path path = o.path.starts_with("file://") ? fs::path(o.path.substr(7)) : fs::path(o.path);
  if (path.empty()) return;
  fs::path at = fs::absolute(path);
  std::error_code ec;
  while (!fs::exists(fs::symlink_status(at, ec)) && at.has_parent_path() && at != at.parent_path()) {
    at = at.parent_path();
  }
  const std::string where = o.where.str() + ": output.path '" + o.path + "': ";
  if (!fs::is_directory(at, ec)) {
    problems.push_back(where + (at == fs::absolute(path) ? std::string("a file, not a directory")
                                                         : at.string() + " is a file, not a directory"));
  } else if (::access(at.c_str(), W_OK | X_OK) != 0) {
    problems.push_back(where + "cannot write in " + at.string() + ": " + errno_text(errno));
  }
}

}  // namespace

Status preflight(const PipelineConfig& c, FileChecks files) {
  std::vector<std::string> problems;
  if (Result<RuntimeOptions> r = Runtime::resolve({}); !r.ok()) problems.push_back(r.status().message());
  if (!c.steps.empty()) {
    if (Status s = http::check_options(client_options(c.http)); !s.ok())
      problems.push_back(c.http.where.str() + ": http: " + s.message());
  }
  if (files == FileChecks::kCheck) {
    check_table(c.input, "input", problems);
    for (const auto& [name, t] : c.datasets) check_table(t, "dataset '" + name + "'", problems);
  }
  if (c.output.path.starts_with("s3://")) {
    // The credentials are this machine's, like the files: not looked at offline.
    if (files == FileChecks::kCheck) {
      if (Status s = check_store_environment(c.output.path); !s.ok()) problems.push_back(s.message());
    }
  } else if (c.output.path.find("://") != std::string::npos && !c.output.path.starts_with("file://")) {
    problems.push_back(c.output.where.str() + ": output.path '" + c.output.path +
                       "': expected a directory, file://path or s3://bucket/prefix");
  } else if (files == FileChecks::kCheck) {
    check_local_output(c.output, problems);
  }
  if (problems.empty()) return Status();
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p;
  return Status::InvalidArgument(all);
}

}  // namespace sluice::pipeline
