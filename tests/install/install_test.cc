// `cmake --install` as a user runs it: the command, the headers and the CMake
// package land under a prefix; examples/cpp, a program of its own, is
// configured and built against that package from a clean directory and run
// against the mock API, its totals checked against the workload's items
// computed here; the bash completion knows every command's options.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "../../src/mockapi/server.h"
#include "../../src/mockapi/workload.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; its exit code, and its output (both streams) in `out`.
int sh(const std::string& command, std::string* out = nullptr) {
  std::string text;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  const int status = ::pclose(p);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class Installed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = ::testing::TempDir() + "/sluice-install-" + std::to_string(::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    prefix_ = root_ + "/prefix";
    install_code_ = sh("'" SLUICE_CMAKE "' --install '" SLUICE_BUILD_DIR "' --prefix '" + prefix_ + "'", &install_log_);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static inline std::string root_, prefix_, install_log_;
  static inline int install_code_ = -1;
};

TEST_F(Installed, TheCommandHeadersPackageAndCompletionAreUnderThePrefix) {
  ASSERT_EQ(install_code_, 0) << install_log_;
  for (const char* f :
       {"bin/sluice", "include/sluice/job.h", "include/sluice/pipeline.h", "include/sluice/http/client.h",
        "include/sluice/detail/flow.h", "lib/libsluice.a", "lib/libsluice_pipeline.a",
        "lib/cmake/sluice/sluiceConfig.cmake", "lib/cmake/sluice/sluiceConfigVersion.cmake",
        "lib/cmake/sluice/sluiceTargets.cmake", "share/bash-completion/completions/sluice"}) {
    EXPECT_TRUE(fs::exists(prefix_ + "/" + f)) << f;
  }
  std::string version;
  EXPECT_EQ(sh("'" + prefix_ + "/bin/sluice' --version", &version), 0);
  EXPECT_EQ(version, "sluice " SLUICE_VERSION "\n");
  // Nothing of the build tree leaks into the package.
  std::ifstream targets(prefix_ + "/lib/cmake/sluice/sluiceTargets.cmake");
  std::stringstream text;
  text << targets.rdbuf();
  EXPECT_EQ(text.str().find(SLUICE_SOURCE_DIR), std::string::npos);
  EXPECT_EQ(text.str().find("sluice_warnings"), std::string::npos);
}

// sluice(1): well-formed roff (groff warns of nothing), every command with
// its usage as the command itself gives it.
TEST_F(Installed, TheManualPageHasEveryCommandAndFormatsWithoutAWarning) {
  ASSERT_EQ(install_code_, 0) << install_log_;
  const std::string page = prefix_ + "/share/man/man1/sluice.1";
  std::string warnings;
  EXPECT_EQ(sh("groff -man -Tutf8 -ww -z '" + page + "'", &warnings), 0);
  EXPECT_EQ(warnings, "");
  std::string text;
  ASSERT_EQ(sh("MANWIDTH=100 man -l '" + page + "'", &text), 0) << text;
  EXPECT_NE(text.find("sluice " SLUICE_VERSION), std::string::npos);
  for (const char* c : {"run", "validate", "stream", "serve", "commit", "status", "inspect", "demo", "mock-api"}) {
    EXPECT_NE(text.find(std::string("Usage: sluice ") + c + " [OPTIONS]"), std::string::npos) << c;
  }
  EXPECT_NE(text.find("--log-format"), std::string::npos);
  EXPECT_NE(text.find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos);
  EXPECT_NE(text.find("EXIT STATUS"), std::string::npos);
}

TEST_F(Installed, TheCppExampleBuildsAgainstThePackageAndItsTotalsAreTheWorkloads) {
  ASSERT_EQ(install_code_, 0) << install_log_;
  const std::string build = root_ + "/example";
  std::string log;
  ASSERT_EQ(sh("'" SLUICE_CMAKE "' -S '" SLUICE_SOURCE_DIR "/examples/cpp' -B '" + build +
                   "' -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER='" SLUICE_CXX
                   "' -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_PREFIX_PATH='" +
                   prefix_ + "'",
               &log),
            0)
      << log;
  ASSERT_EQ(sh("'" SLUICE_CMAKE "' --build '" + build + "'", &log), 0) << log;

  auto server = mockapi::Server::start({});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  constexpr std::uint64_t n = 3000;
  std::string out;
  ASSERT_EQ(sh("'" + build + "/item_scores' " + (*server)->base_url() + " " + std::to_string(n), &out), 0) << out;

  // The same totals from the workload's answers, without HTTP or sluice.
  std::uint64_t kept = 0;
  double sum = 0;
  std::uint64_t by_pages[5] = {};
  simdjson::dom::parser parser;
  for (std::uint64_t id = 1; id <= n; ++id) {
    std::string body;
    mockapi::append_item_json(id, body);
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(body).get(e), simdjson::SUCCESS);
    const double score = e["score"].get_double().value();
    if (score < 0.3) continue;
    ++kept;
    sum += score;
    ++by_pages[e["pages"].get_uint64().value()];
  }
  unsigned long long got_n = 0, got_kept = 0, p[5] = {};
  double got_sum = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "items %llu kept %llu score_sum %lf pages 1:%llu 2:%llu 3:%llu 4:%llu", &got_n,
                        &got_kept, &got_sum, &p[1], &p[2], &p[3], &p[4]),
            7)
      << out;
  EXPECT_EQ(got_n, n);
  EXPECT_EQ(got_kept, kept);
  EXPECT_NEAR(got_sum, sum, 1e-5);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(p[i], by_pages[i]) << "pages " << i;
  EXPECT_EQ((*server)->stats().requests, n);
}

// What the completion offers for a command line typed so far (the last
// word: the one being completed, maybe empty).
std::set<std::string> completions(const std::vector<std::string>& words) {
  std::string command = "bash -c 'source \"" SLUICE_SOURCE_DIR
                        "/completions/sluice.bash\"; COMP_WORDS=(\"$@\"); "
                        "COMP_CWORD=$(($# - 1)); _sluice; printf \"%s\\n\" \"${COMPREPLY[@]}\"' _";
  for (const std::string& w : words) command += " \"" + w + "\"";
  std::string out;
  sh(command, &out);
  std::set<std::string> s;
  std::istringstream in(out);
  for (std::string w; in >> w;) s.insert(w);
  return s;
}

TEST(Completion, OffersEveryCommandAndEachCommandsOptionsAsItsHelpLists) {
  EXPECT_EQ(completions({"sluice", "r"}), (std::set<std::string>{"run"}));
  EXPECT_EQ(completions({"sluice", "--log-format", ""}), (std::set<std::string>{"text", "json"}));
  EXPECT_EQ(completions({"sluice", "run", "x.yaml", "--shard", ""}), (std::set<std::string>{"auto"}));
  const std::set<std::string> all = completions({"sluice", ""});
  for (const char* c : {"run", "validate", "stream", "serve", "commit", "status", "inspect", "demo", "mock-api"}) {
    EXPECT_TRUE(all.contains(c)) << c;
    // Every option `sluice CMD --help` lists is offered, and no other.
    std::string help;
    ASSERT_EQ(sh(std::string("'" SLUICE_BINARY "' ") + c + " --help", &help), 0);
    std::set<std::string> listed{"--log-format", "--log-level", "--help", "--version"};
    std::istringstream in(help);
    for (std::string line; std::getline(in, line);) {
      const auto at = line.find_first_not_of(' ');
      if (at != 2 || line.compare(2, 1, "-") != 0) continue;
      std::string flags = line.substr(2, line.find(' ', 2) - 2);
      if (flags.starts_with("-h,") || flags.starts_with("-q,")) flags = flags.substr(3);
      listed.insert(flags);
    }
    EXPECT_EQ(completions({"sluice", c, "--"}), listed) << c;
  }
}

}  // namespace
}  // namespace sluice
