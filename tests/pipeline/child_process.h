// The sluice binary run as a child process, as a user or a scheduler runs
// it, for the tests of its commands.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sluice::pipeline {

struct Child {
  pid_t pid = -1;
  int wait() const {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

// Runs the sluice binary with `args`, its output into `log` (its standard
// error into `errors` instead, if given).
inline Child spawn(const std::vector<std::string>& args, const std::string& log, const std::string& errors = "") {
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    std::FILE* f = std::fopen(log.c_str(), "w");
    ::dup2(::fileno(f), 1);
    ::dup2(errors.empty() ? ::fileno(f) : ::fileno(std::fopen(errors.c_str(), "w")), 2);
    std::vector<char*> argv{const_cast<char*>(SLUICE_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(SLUICE_BINARY, argv.data());
    ::_exit(127);
  }
  return c;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Committed Parquet files of the run in `dir` and its partitions (not its
// temporaries).
inline std::size_t committed_files(const std::string& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    n += name.ends_with(".parquet") && name.front() != '.';
  }
  return n;
}

}  // namespace sluice::pipeline
