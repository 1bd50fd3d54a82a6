// The fixture of the reference workload's end-to-end tests: fresh inputs,
// examples/item-features.yaml (or a variant of it) run as a sluice::Job against
// the mock API (or another server) on loopback, and what the run wrote.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../src/mockapi/server.h"
#include "e2e_util.h"
#include "sluice/job.h"

namespace sluice::pipeline {

namespace fs = std::filesystem;

inline std::string scratch(const std::string& name) {
  std::string d = ::testing::TempDir() + "/sluice-e2e-" + name + "-" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

class ItemFeatures : public ::testing::Test {
 protected:
  // Runs examples/item-features.yaml, or with `pipeline`, that text as the
  // pipeline file, on fresh inputs (`fresh` false: those of the last run,
  // and into its output).
  JobSummary run(const std::string& name, mockapi::ServerOptions server_options, std::vector<std::string> sets = {},
                 const std::string& pipeline = "", JobOptions options = {}, bool fresh = true) {
    auto server = mockapi::Server::start(server_options);
    EXPECT_TRUE(server.ok()) << server.status().to_string();
    if (!server.ok()) return {};
    JobSummary s = run_against((*server)->base_url(), name, std::move(sets), pipeline, options, fresh);
    server_stats_ = (*server)->stats();
    return s;
  }

  // The same against an API at `base_url`.
  JobSummary run_against(const std::string& base_url, const std::string& name, std::vector<std::string> sets = {},
                         const std::string& pipeline = "", JobOptions options = {}, bool fresh = true) {
    auto job = job_for(base_url, name, std::move(sets), pipeline, options, fresh);
    EXPECT_TRUE(job.ok()) << job.status().to_string();
    if (!job.ok()) return {};
    return (*job)->run();
  }

  // The job run_against runs, or why it could not be opened.
  Result<std::unique_ptr<Job>> job_for(const std::string& base_url, const std::string& name,
                                       std::vector<std::string> sets = {}, const std::string& pipeline = "",
                                       JobOptions options = {}, bool fresh = true) {
    if (fresh) {
      data_ = scratch(name);
      oracle::write_inputs(data_, n_);
    }
    std::string file = SLUICE_SOURCE_DIR "/examples/item-features.yaml";
    if (!pipeline.empty()) {
      file = data_ + "/pipeline.yaml";
      std::ofstream(file) << pipeline;
    }
    out_ = data_ + "/out";
    sets.push_back("input.path=" + data_ + "/records.csv");
    sets.push_back("datasets.entities.path=" + data_ + "/entities.csv");
    sets.push_back("http.base_url=" + base_url);
    sets.push_back("output.path=" + out_);
    options.sets.insert(options.sets.end(), sets.begin(), sets.end());
    options.io_threads = 1;
    options.cpu_threads = 1;
    return Job::open(file, std::move(options));
  }

  std::vector<std::string> dead_letters() const {
    std::vector<std::string> lines;
    std::ifstream in(out_ + "/_item-features-dead-letter.jsonl");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }

  std::uint64_t n_ = 1500;
  std::string data_, out_;
  mockapi::ServerStats server_stats_;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace sluice::pipeline
