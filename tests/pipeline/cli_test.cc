// `sluice run` as a user runs it: Ctrl-C stops reading input, finishes the
// records in flight and commits complete files; a second signal abandons
// them and leaves no half-written file; `sluice validate` and the exit codes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "../../src/mockapi/server.h"
#include "child_process.h"
#include "e2e_util.h"
#include "raw_http.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SluiceRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sluice-cli-" +
           std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    oracle::write_inputs(dir_, n_);
    // Slow answers, so that the run is still going when the signal comes.
    auto server = mockapi::Server::start({.latency = std::chrono::milliseconds(20)});
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
  }

  std::vector<std::string> args() const {
    return {"run",
            SLUICE_SOURCE_DIR "/examples/item-features.yaml",
            "--set",
            "input.path=" + dir_ + "/records.csv",
            "--set",
            "datasets.entities.path=" + dir_ + "/entities.csv",
            "--set",
            "http.base_url=" + server_->base_url(),
            "--set",
            "http.max_in_flight=32",
            "--set",
            "records_in_flight=64",
            "--output",
            dir_ + "/out",
            "--summary-json",
            dir_ + "/summary.json",
            "--grace",
            "30"};
  }

  std::uint64_t n_ = 20000;  // about 30 s at 32 requests in flight of 20 ms: far longer than the test waits
  std::string dir_;
  std::unique_ptr<mockapi::Server> server_;
};

TEST_F(SluiceRun, InterruptStopsInputFinishesRecordsInFlightAndCommitsTheFile) {
  Child c = spawn(args(), dir_ + "/log");
  ASSERT_TRUE(eventually([&] { return server_->stats().requests >= 200; })) << slurp(dir_ + "/log");
  ::kill(c.pid, SIGINT);
  const int code = c.wait();
  const std::string log = slurp(dir_ + "/log");
  EXPECT_EQ(code, 130) << "stopped early by SIGINT, after committing: " << log;
  EXPECT_NE(log.find("interrupted: no more input is read"), std::string::npos) << log;
  EXPECT_NE(log.find("(accounted)"), std::string::npos) << log;
  const std::string summary = slurp(dir_ + "/summary.json");
  EXPECT_NE(summary.find("\"stopped_early\":true"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"accounted\":true"), std::string::npos) << summary;
  // What was written is complete, correct, and is every record reported written.
  auto rows = duckdb_rows("SELECT id FROM read_parquet('" + dir_ + "/out/item-features-*.parquet') ORDER BY id");
  ASSERT_FALSE(rows.empty()) << log;
  std::size_t at = summary.find("\"written\":");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(rows.size(), std::stoull(summary.substr(at + 10))) << summary;
  EXPECT_LT(rows.size(), 10000u) << "the input was not read to its end";
  for (const auto& r : rows) {
    auto id = std::stoull(r.substr(r.find(':') + 2));
    EXPECT_EQ(oracle::fate(id), oracle::Fate::kWritten) << id;
  }
}

// Files roll every 50 rows, so some are committed before the second signal
// abandons the rest: the summary counts exactly those as written, names
// them all, and calls the rest unfinished.
TEST_F(SluiceRun, ASecondSignalAbandonsTheRunLeavesNoHalfFileAndCountsWhatWasCommitted) {
  auto a = args();
  a.insert(a.end(), {"--set", "output.file_rows=50"});
  Child c = spawn(a, dir_ + "/log");
  ASSERT_TRUE(eventually([&] { return committed_files(dir_ + "/out") > 0; })) << slurp(dir_ + "/log");
  ::kill(c.pid, SIGTERM);
  // Signals of one kind do not queue: the second is sent once the first was taken.
  ASSERT_TRUE(eventually([&] { return slurp(dir_ + "/log").find("no more input is read") != std::string::npos; }));
  ::kill(c.pid, SIGTERM);
  const int code = c.wait();
  const std::string log = slurp(dir_ + "/log");
  EXPECT_EQ(code, 128 + SIGTERM) << log;
  EXPECT_NE(log.find("abandoning the records in flight"), std::string::npos) << log;
  std::vector<std::string> left;
  for (const auto& f : fs::directory_iterator(dir_ + "/out")) left.push_back(f.path().filename().string());
  for (const auto& f : left) EXPECT_EQ(f.find(".tmp"), std::string::npos) << "a temporary was left: " << f;
  const std::string summary = slurp(dir_ + "/summary.json");
  auto number = [&](const std::string& key) {
    auto at = summary.find("\"" + key + "\":");
    EXPECT_NE(at, std::string::npos) << key << " in " << summary;
    return at == std::string::npos ? 0 : std::stoull(summary.substr(at + key.size() + 3));
  };
  auto rows = duckdb_rows("SELECT count(*) AS n FROM read_parquet('" + dir_ + "/out/item-features-*.parquet')");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GT(number("written"), 0u) << "files were committed before the abandon";
  EXPECT_EQ(rows[0], "{\"n\":\"" + std::to_string(number("written")) + "\"}\n") << summary;
  std::size_t parquet_files = 0;
  for (const auto& f : left) parquet_files += f.ends_with(".parquet");
  std::size_t listed = 0;
  for (auto at = summary.find("\"rows\":"); at != std::string::npos; at = summary.find("\"rows\":", at + 1)) ++listed;
  EXPECT_EQ(listed, parquet_files) << "the summary names every committed file: " << summary;
  EXPECT_GT(number("unfinished"), 0u) << summary;
  EXPECT_EQ(number("input"), number("written") + number("filtered") + number("not_joined") + number("dead_lettered") +
                                 number("unfinished"))
      << summary;
}

// sluice stream: records as JSON lines on standard input, a JSON line each
// on standard output, the summary on standard error; a record asked for
// twice is answered twice; an error line makes the exit code 3.
TEST(SluiceStream, ReadsStandardInputAndWritesALineARecord) {
  const std::string dir = ::testing::TempDir() + "/sluice-stream-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 50);
  auto server = mockapi::Server::start({});
  ASSERT_TRUE(server.ok());
  auto stream = [&](const std::string& input) {
    std::ofstream(dir + "/in.jsonl") << input;
    const std::string cmd =
        std::string(SLUICE_BINARY) +
        " stream " SLUICE_SOURCE_DIR "/examples/item-features.yaml --set datasets.entities.path=" + dir +
        "/entities.csv --set http.base_url=" + (*server)->base_url() + " < " + dir + "/in.jsonl > " + dir +
        "/out.jsonl 2> " + dir + "/err.log";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  auto lines = [&] {
    std::vector<std::string> out;
    std::ifstream in(dir + "/out.jsonl");
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  };
  // Ids 1 (written), 2 (filtered), 1 again.
  ASSERT_EQ(stream("{\"id\":1}\n{\"id\":2}\n{\"id\":1}\n"), 0) << slurp(dir + "/err.log");
  std::vector<std::string> out = lines();
  ASSERT_EQ(out.size(), 3u) << slurp(dir + "/out.jsonl");
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out[0].rfind("{\"line\":1,\"status\":\"ok\",\"features\":{\"id\":1,", 0), 0u) << out[0];
  EXPECT_EQ(out[1], "{\"line\":2,\"status\":\"filtered\",\"key\":{\"id\":2}}");
  EXPECT_EQ(out[2].substr(out[2].find(",\"status\"")), out[0].substr(out[0].find(",\"status\"")))
      << "the same record twice, the same features twice";
  EXPECT_NE(slurp(dir + "/err.log").find("records   3 read = 2 ok + 1 filtered + 0 not joined + 0 errors"),
            std::string::npos)
      << slurp(dir + "/err.log");

  ASSERT_EQ(stream("{\"id\":3}\nnot json\n"), 3) << slurp(dir + "/err.log");
  out = lines();
  ASSERT_EQ(out.size(), 2u);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out[1].rfind("{\"line\":2,\"status\":\"error\",", 0), 0u) << out[1];
}

// Once sluice `stream` takes SIGINT itself (its main thread blocks it for
// sigwait: /proc says so). The child must be sluice already: between fork
// and exec a sanitizer's fork interceptor blocks every signal for a moment,
// and a SIGINT sent then kills the child once it unblocks them.
bool takes_signals(pid_t pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  if (args.find(std::string("stream") + '\0') == std::string::npos) return false;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(status, l);) {
    if (l.rfind("SigBlk:", 0) == 0) return (std::stoull(l.substr(7), nullptr, 16) & (1ULL << (SIGINT - 1))) != 0;
  }
  return false;
}

// sluice stream reading `input` (a file) against `api`, its standard output
// to `out` (a file, or a pipe nobody reads), its standard error to `log`.
Child spawn_stream(const std::string& dir, const std::string& api, const std::string& input, const std::string& out,
                   const std::string& log) {
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(::open(input.c_str(), O_RDONLY), 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    const std::string entities = "datasets.entities.path=" + dir + "/entities.csv";
    const std::string base = "http.base_url=" + api;
    ::execl(SLUICE_BINARY, SLUICE_BINARY, "stream", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set",
            entities.c_str(), "--set", base.c_str(), "--grace", "600", nullptr);
    ::_exit(127);
  }
  return c;
}

// Two Ctrl-Cs while records are under way: those that ended have their
// line, and so does each of the others ("unfinished"): a line for every
// record read, each once, whatever the signals.
TEST(SluiceStream, EveryRecordReadHasItsLineWhenTwoSignalsAbandonTheRest) {
  const std::string dir = ::testing::TempDir() + "/sluice-stream-abandon-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 3000);
  {
    std::ofstream in(dir + "/in.jsonl");
    for (int id = 1; id <= 3000; ++id) in << "{\"id\": " << id << "}\n";
  }
  auto api = mockapi::Server::start({.latency = std::chrono::milliseconds(200)});
  ASSERT_TRUE(api.ok());
  Child c = spawn_stream(dir, (*api)->base_url(), dir + "/in.jsonl", dir + "/out.jsonl", dir + "/log");
  ASSERT_TRUE(eventually([&] { return takes_signals(c.pid) && (*api)->stats().ok > 300; }));
  ::kill(c.pid, SIGINT);
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find("interrupted") != std::string::npos; }));
  ::kill(c.pid, SIGINT);
  EXPECT_EQ(c.wait(), 130) << slurp(dir + "/log");
  const std::string log = slurp(dir + "/log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("records   (\\d+) read = .* \\+ (\\d+) unfinished"))) << log;
  const auto read = std::stoull(m[1]), unfinished = std::stoull(m[2]);
  EXPECT_GT(unfinished, 0u) << "the second signal came while records were under way";
  std::set<std::uint64_t> lines;
  std::uint64_t unfinished_lines = 0;
  simdjson::dom::parser parser;
  std::ifstream out(dir + "/out.jsonl");
  for (std::string l; std::getline(out, l);) {
    simdjson::dom::element e;
    ASSERT_FALSE(parser.parse(l).get(e)) << l;
    EXPECT_TRUE(lines.insert(std::uint64_t(e["line"])).second) << "twice: " << l;
    unfinished_lines += std::string_view(e["status"]) == "unfinished";
  }
  EXPECT_EQ(lines.size(), read) << "a line for every record read";
  EXPECT_EQ(unfinished_lines, unfinished);
  if (!lines.empty()) {
    EXPECT_EQ(*lines.begin(), 1u);
    EXPECT_EQ(*lines.rbegin(), read) << "the records read are the first lines of the input";
  }
}

// Standard output is a pipe nobody reads: the stream waits for it (holding
// its records back), but two signals still end it, saying what could not be
// written.
TEST(SluiceStream, TwoSignalsEndItWhileStandardOutputIsNotRead) {
  const std::string dir = ::testing::TempDir() + "/sluice-stream-stalled-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 100);
  {
    std::ofstream in(dir + "/in.jsonl");
    for (int i = 0; i < 20000; ++i) in << "{\"id\": " << i % 100 + 1 << "}\n";
  }
  const std::string fifo = dir + "/out.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // open, never read
  ASSERT_GE(reader, 0);
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  Child c = spawn_stream(dir, (*api)->base_url(), dir + "/in.jsonl", fifo, dir + "/log");
  // The pipe (64 KiB) three quarters full: far fewer lines than records
  // in flight fit, so the stream soon waits for it.
  ASSERT_TRUE(eventually([&] {
    int queued = 0;
    return takes_signals(c.pid) && ::ioctl(reader, FIONREAD, &queued) == 0 && queued > 49152;
  }));
  ::kill(c.pid, SIGINT);
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find("interrupted") != std::string::npos; }));
  ::kill(c.pid, SIGINT);
  bool ended = eventually([&] { return ::waitpid(c.pid, nullptr, WNOHANG) == c.pid || ::kill(c.pid, 0) != 0; });
  if (!ended) ::kill(c.pid, SIGKILL);
  ::close(reader);
  ASSERT_TRUE(ended) << "still waiting on its output after two signals\n" << slurp(dir + "/log");
  EXPECT_NE(slurp(dir + "/log").find("lines could not be written: standard output was not read"), std::string::npos)
      << slurp(dir + "/log");
}

// Ctrl-C while standard input sends nothing (a terminal, an idle producer):
// the stream stops reading at once instead of waiting for a line that may
// never come, and exits as a process the signal stopped.
TEST(SluiceStream, ASignalEndsItWhileStandardInputIsIdle) {
  const std::string dir = ::testing::TempDir() + "/sluice-stream-idle-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 10);
  int in[2];
  ASSERT_EQ(::pipe(in), 0);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(in[0], 0);
    ::close(in[1]);
    std::FILE* f = std::fopen((dir + "/log").c_str(), "w");
    ::dup2(::fileno(f), 1);
    ::dup2(::fileno(f), 2);
    const std::string entities = "datasets.entities.path=" + dir + "/entities.csv";
    ::execl(SLUICE_BINARY, SLUICE_BINARY, "stream", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set",
            entities.c_str(), "--set", "http.base_url=http://127.0.0.1:1", "--grace", "600", nullptr);
    ::_exit(127);
  }
  ::close(in[0]);
  // The write end stays open and silent.
  ASSERT_TRUE(eventually([&] { return takes_signals(c.pid); }));
  ::kill(c.pid, SIGINT);
  EXPECT_EQ(c.wait(), 130) << slurp(dir + "/log");
  EXPECT_NE(slurp(dir + "/log").find("records   0 read"), std::string::npos) << slurp(dir + "/log");
  EXPECT_EQ(slurp(dir + "/log").find("abandoning"), std::string::npos) << "one signal: stopped, not abandoned";
  ::close(in[1]);
}

// sluice serve reads its datasets anew on SIGHUP, and drains on SIGTERM: a
// request under way when the signal comes is answered whole, then the
// server exits 0 with its summary.
TEST(SluiceServe, TermDrainsAnsweringTheRequestsUnderWay) {
  const std::string dir = ::testing::TempDir() + "/sluice-serve-drain-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 50);
  auto api = mockapi::Server::start({.latency = std::chrono::milliseconds(100)});
  ASSERT_TRUE(api.ok());
  Child c = spawn({"serve", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set",
                   "datasets.entities.path=" + dir + "/entities.csv", "--set", "http.base_url=" + (*api)->base_url(),
                   "--set", "serve.deadline_ms=600000", "--listen", "127.0.0.1:0"},
                  dir + "/log");
  const std::string listening = "listening on http://127.0.0.1:";
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find(listening) != std::string::npos; }))
      << slurp(dir + "/log");
  const std::string log = slurp(dir + "/log");
  const auto port = static_cast<std::uint16_t>(std::stoi(log.substr(log.find(listening) + listening.size())));
  ::kill(c.pid, SIGHUP);  // the datasets read anew, the server going on
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find("datasets reloaded") != std::string::npos; }))
      << slurp(dir + "/log");
  std::string body = "{\"records\":[";
  for (int id = 1; id <= 20; ++id) body += (id > 1 ? ",{\"id\":" : "{\"id\":") + std::to_string(id) + "}";
  body += "]}";
  HttpReply reply;
  std::thread client([&] { reply = request(port, "POST", "/v1/features", body); });
  ASSERT_TRUE(eventually([&] { return (*api)->stats().requests >= 1; }));  // the request is under way
  ::kill(c.pid, SIGTERM);
  client.join();
  EXPECT_EQ(c.wait(), 0) << slurp(dir + "/log");
  ASSERT_EQ(reply.status, 200) << reply.head << reply.body;
  EXPECT_NE(reply.head.find("Connection: close"), std::string::npos) << reply.head;
  EXPECT_EQ(reply.body.find("error"), std::string::npos) << reply.body;
  std::size_t answers = 0;
  for (auto at = reply.body.find("\"status\""); at != std::string::npos; at = reply.body.find("\"status\"", at + 1))
    ++answers;
  EXPECT_EQ(answers, 20u);
  EXPECT_NE(slurp(dir + "/log").find("draining"), std::string::npos);
  EXPECT_NE(slurp(dir + "/log").find("records   20 read = "), std::string::npos) << slurp(dir + "/log");
  EXPECT_EQ(connect_to(port), -1) << "no longer listening";
}

// At its open-file limit (64 here), with more idle connections open than
// it can hold: the server pauses accepting instead of spinning on a failed
// accept, says so, and closes idle keep-alive connections, so that a
// health check still gets its answer; SIGTERM still drains it.
TEST(SluiceServe, AtTheOpenFileLimitItPausesClosesIdleConnectionsAndStillAnswers) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  // The sanitizers' runtime needs descriptors of its own (UBSan's type
  // checks look at memory through a pipe): at the limit, it fails where
  // sluice does not. The release build runs this.
  GTEST_SKIP() << "not under a sanitizer: it needs file descriptors the test takes away";
#endif
#endif
  const std::string dir = ::testing::TempDir() + "/sluice-serve-emfile-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 50);
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    const rlimit files{64, 64};
    ::setrlimit(RLIMIT_NOFILE, &files);
    ::dup2(::open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(1, 2);
    const std::string entities = "datasets.entities.path=" + dir + "/entities.csv";
    const std::string base = "http.base_url=" + (*api)->base_url();
    ::execl(SLUICE_BINARY, SLUICE_BINARY, "serve", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set",
            entities.c_str(), "--set", base.c_str(), "--listen", "127.0.0.1:0", nullptr);
    ::_exit(127);
  }
  const std::string listening = "listening on http://127.0.0.1:";
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find(listening) != std::string::npos; }))
      << slurp(dir + "/log");
  const std::string log = slurp(dir + "/log");
  const auto port = static_cast<std::uint16_t>(std::stoi(log.substr(log.find(listening) + listening.size())));
  std::vector<int> idle;  // connected, and silent
  for (int i = 0; i < 120; ++i) {
    const int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  ASSERT_TRUE(eventually([&] { return slurp(dir + "/log").find("cannot take a connection") != std::string::npos; }))
      << slurp(dir + "/log");
  EXPECT_NE(slurp(dir + "/log").find("closing idle keep-alive connections, pausing accepts"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return request(port, "GET", "/healthz").status == 200; })) << slurp(dir + "/log");
  for (int fd : idle) ::close(fd);
  ::kill(c.pid, SIGTERM);
  EXPECT_EQ(c.wait(), 0) << slurp(dir + "/log");
  EXPECT_NE(slurp(dir + "/log").find("accepting paused"), std::string::npos) << slurp(dir + "/log");
}

// Past a few files, the summary says how many, their rows and bytes and
// where, in one line, rather than one line a file.
TEST_F(SluiceRun, ManyFilesAreSummedUpInOneLine) {
  auto a = args();
  a.insert(a.end(), {"--limit", "300", "--set", "output.file_rows=20", "--set", "batch.size=10", "-q"});
  ASSERT_EQ(spawn(a, dir_ + "/log").wait(), 0) << slurp(dir_ + "/log");
  const std::string log = slurp(dir_ + "/log");
  const std::size_t files = committed_files(dir_ + "/out");
  ASSERT_GT(files, 4u) << log;
  EXPECT_NE(log.find("output    " + std::to_string(files) + " files, "), std::string::npos) << log;
  EXPECT_NE(log.find(" rows, "), std::string::npos) << log;
  EXPECT_NE(log.find(", under " + dir_ + "/out/ (" + dir_ + "/out/_item-features-manifest.json names them)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("-00000.parquet"), std::string::npos) << "no line a file: " << log;
}

// --metrics-file: rewritten while the run goes on and once more at its
// end (here after a SIGINT), whole each time, for node_exporter's textfile
// collector: without process_* metrics, which node_exporter has its own of.
TEST_F(SluiceRun, MetricsFileIsRewrittenWhileItRunsAndAtTheEnd) {
  const std::string file = dir_ + "/sluice.prom";
  auto a = args();
  a.insert(a.end(), {"-q", "--metrics-file", file, "--metrics-interval", "0.1"});
  Child c = spawn(a, dir_ + "/log");
  auto read_total = [&] {
    const std::string text = slurp(file);
    const auto at = text.find("\nsluice_records_read_total ");
    return at == std::string::npos ? std::uint64_t{0} : std::stoull(text.substr(at + 27));
  };
  ASSERT_TRUE(eventually([&] { return read_total() >= 100; })) << slurp(dir_ + "/log");
  EXPECT_FALSE(fs::exists(dir_ + "/summary.json")) << "written while the run goes on";
  ::kill(c.pid, SIGINT);
  EXPECT_EQ(c.wait(), 130) << slurp(dir_ + "/log");
  const std::string summary = slurp(dir_ + "/summary.json");
  const auto input = summary.find("\"input\":");
  ASSERT_NE(input, std::string::npos) << summary;
  EXPECT_EQ(read_total(), std::stoull(summary.substr(input + 8))) << "the last write is the run's end";
  const std::string text = slurp(file);
  EXPECT_EQ(text.find("process_"), std::string::npos) << text;
  EXPECT_NE(text.find("\nsluice_build_info{version=\""), std::string::npos) << text;
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

// --metrics-push: the metrics PUT to a real Prometheus Pushgateway (Debian's
// prometheus-pushgateway on loopback), grouped by job and host; the last
// push is the run's end. A URL that is neither http:// nor https:// is a usage
// error; https:// to a server that does not speak it is a failed push.
TEST_F(SluiceRun, MetricsArePushedToAPushgateway) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);  // a free port for the gateway
  sockaddr_in free_port{};
  free_port.sin_family = AF_INET;
  free_port.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof free_port;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&free_port), sizeof free_port), 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&free_port), &len);
  ::close(listener);
  const std::string gateway = "127.0.0.1:" + std::to_string(ntohs(free_port.sin_port));
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* f = std::fopen((dir_ + "/gateway.log").c_str(), "w");
    ::dup2(::fileno(f), 2);
    ::execl("/usr/bin/prometheus-pushgateway", "prometheus-pushgateway", ("--web.listen-address=" + gateway).c_str(),
            "--persistence.file=", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto scrape = [&] {
    std::string page;
    if (FILE* p = popen(("curl -s http://" + gateway + "/metrics").c_str(), "r")) {
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) page.append(buf, n);
      pclose(p);
    }
    return page;
  };
  ASSERT_TRUE(eventually([&] { return scrape().find("pushgateway_build_info") != std::string::npos; }))
      << slurp(dir_ + "/gateway.log");
  auto a = args();
  a.insert(a.end(), {"-q", "--limit", "50", "--metrics-push", "http://" + gateway});
  const int code = spawn(a, dir_ + "/log").wait();
  const std::string page = scrape();
  // https:// to the gateway, which speaks plain HTTP: the push fails, is
  // said once, and the run goes on to its end.
  auto again = args();
  again.insert(again.end(),
               {"-q", "--limit", "50", "--set", "output.mode=overwrite", "--metrics-push", "https://" + gateway});
  const int https_code = spawn(again, dir_ + "/https.log").wait();
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ASSERT_EQ(code, 0) << slurp(dir_ + "/log");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_NE(page.find("\nsluice_records_read_total{instance=\"" + std::string(host) + "\",job=\"sluice\"} 50\n"),
            std::string::npos)
      << page;
  EXPECT_EQ(page.find("process_cpu_seconds_total{instance=\"" + std::string(host)), std::string::npos)
      << "the gateway has its own process_*: " << page;
  ASSERT_EQ(https_code, 0) << slurp(dir_ + "/https.log");
  const std::string said = slurp(dir_ + "/https.log");
  const auto first = said.find("--metrics-push https://" + gateway + "/metrics/job/sluice/instance/");
  EXPECT_NE(first, std::string::npos) << said;
  EXPECT_EQ(said.find("--metrics-push https://", first + 1), std::string::npos) << "said once: " << said;
  a.back() = "ftp://" + gateway;
  EXPECT_EQ(spawn(a, dir_ + "/ftp.log").wait(), 2);
  EXPECT_NE(slurp(dir_ + "/ftp.log").find("expected the http:// or https:// URL of a Pushgateway"), std::string::npos)
      << slurp(dir_ + "/ftp.log");
}

// On a terminal, the progress line is rewritten in place; one wider than
// the terminal would wrap, and leave rows behind that cannot be cleared. Run
// on a pseudo-terminal 60 columns wide (script(1)), no line passes 59.
TEST_F(SluiceRun, TheProgressLineFitsTheTerminal) {
  std::string command = "stty cols 60; " SLUICE_BINARY;
  auto a = args();
  a.insert(a.end(), {"--limit", "300", "--set", "records_in_flight=4"});
  for (const auto& arg : a) command += " '" + arg + "'";
  const std::string typescript = dir_ + "/typescript";
  // Its standard input from /dev/null: with none at all, script(1) runs the
  // command without a terminal.
  ASSERT_EQ(std::system(("script -qec \"" + command + "\" " + typescript + " < /dev/null > /dev/null").c_str()), 0)
      << slurp(typescript);
  const std::string text = slurp(typescript);
  std::size_t lines = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find_first_of("\r\n", at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.find(" read done") == std::string::npos) continue;
    if (line.starts_with("\033[K")) line.erase(0, 3);
    ++lines;
    EXPECT_LE(line.size(), 59u) << line;
  }
  EXPECT_GT(lines, 0u) << "the run showed its progress: " << text;
}

// The port the run says its metrics are on ("sluice: metrics on http://HOST:PORT/metrics"), or "".
std::string metrics_port(const std::string& log) {
  const std::string text = slurp(log);
  const auto at = text.find("/metrics\n");
  if (at == std::string::npos) return "";
  const auto colon = text.rfind(':', at);
  return text.substr(colon + 1, at - colon - 1);
}

// --metrics-addr takes an IPv6 address in brackets; an unbracketed one, or
// a name that does not resolve, is a usage error that says what was wrong.
TEST_F(SluiceRun, MetricsAddressesAreNamesOrAddressesOfEitherFamily) {
  auto with = [&](const std::string& addr) {
    auto a = args();
    a.insert(a.end(), {"--metrics-addr", addr, "--limit", "20"});
    return a;
  };
  ASSERT_EQ(spawn(with("[::1]:0"), dir_ + "/v6.log").wait(), 0) << slurp(dir_ + "/v6.log");
  const std::string port = metrics_port(dir_ + "/v6.log");
  EXPECT_NE(port, "0");
  EXPECT_NE(slurp(dir_ + "/v6.log").find("metrics on http://[::1]:" + port + "/metrics"), std::string::npos)
      << slurp(dir_ + "/v6.log");
  fs::remove_all(dir_ + "/out");
  EXPECT_EQ(spawn(with("::1:9464"), dir_ + "/bare.log").wait(), 2);
  EXPECT_NE(slurp(dir_ + "/bare.log").find("--metrics-addr '::1:9464': an IPv6 address goes in brackets"),
            std::string::npos)
      << slurp(dir_ + "/bare.log");
  EXPECT_EQ(spawn(with("no-such-host.invalid:9464"), dir_ + "/name.log").wait(), 2);
  EXPECT_NE(slurp(dir_ + "/name.log").find("--metrics-addr 'no-such-host.invalid:9464': 'no-such-host.invalid': "),
            std::string::npos)
      << slurp(dir_ + "/name.log");
}

// Lines of a file.
std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// --log-format json: every line on standard error is one JSON object with
// the time (UTC, ms), the level, the run's id (the shard attempt's, as the
// summary names it), the shard, the command and the message; the end of
// the run is a line holding the summary.
TEST_F(SluiceRun, JsonLogsCarryTimeLevelRunAndShardOnEveryLine) {
  auto a = args();
  a.insert(a.end(), {"--log-format", "json", "--shard", "1/2", "--limit", "40", "--metrics-addr", "127.0.0.1:0"});
  ASSERT_EQ(spawn(a, dir_ + "/out.log", dir_ + "/err.log").wait(), 0) << slurp(dir_ + "/err.log");
  const std::string summary = slurp(dir_ + "/summary.json");
  const auto at = summary.find("\"attempt\":\"");
  ASSERT_NE(at, std::string::npos) << summary;
  const std::string attempt = summary.substr(at + 11, 8);

  const std::regex time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  simdjson::dom::parser parser;
  std::vector<std::string> messages;
  std::uint64_t summary_read = 0;
  const auto lines = lines_of(dir_ + "/err.log");
  ASSERT_GE(lines.size(), 2u);
  for (const std::string& line : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << "not JSON: " << line;
    std::string_view t, level, run, shard, command, msg;
    ASSERT_EQ(e["time"].get(t), simdjson::SUCCESS) << line;
    EXPECT_TRUE(std::regex_match(std::string(t), time)) << line;
    ASSERT_EQ(e["level"].get(level), simdjson::SUCCESS) << line;
    EXPECT_EQ(level, "info") << line;
    ASSERT_EQ(e["run"].get(run), simdjson::SUCCESS) << line;
    EXPECT_EQ(run, attempt) << line;
    ASSERT_EQ(e["shard"].get(shard), simdjson::SUCCESS) << line;
    EXPECT_EQ(shard, "1/2");
    ASSERT_EQ(e["command"].get(command), simdjson::SUCCESS) << line;
    EXPECT_EQ(command, "run");
    ASSERT_EQ(e["msg"].get(msg), simdjson::SUCCESS) << line;
    messages.emplace_back(msg);
    if (msg == "summary") ASSERT_EQ(e["summary"]["records"]["input"].get(summary_read), simdjson::SUCCESS) << line;
  }
  EXPECT_TRUE(messages.front().starts_with("metrics on http://127.0.0.1:")) << messages.front();
  EXPECT_EQ(messages.back(), "summary");
  EXPECT_EQ(summary_read, 40u) << "--limit counts the shard's records";
}

// Text logs: each line begins with the time and the level, then the run;
// --log-level leaves out what is below it; SLUICE_LOG_FORMAT stands for the
// flag; an unknown format is a usage error.
TEST_F(SluiceRun, LogLevelsAndFormatsAreChosenByFlagOrEnvironment) {
  auto with = [&](std::vector<std::string> more) {
    auto a = args();
    a.insert(a.end(), {"--limit", "20", "--metrics-addr", "127.0.0.1:0"});
    a.insert(a.end(), more.begin(), more.end());
    fs::remove_all(dir_ + "/out");
    return a;
  };
  ASSERT_EQ(spawn(with({}), dir_ + "/out.log", dir_ + "/text.log").wait(), 0) << slurp(dir_ + "/text.log");
  const auto text = lines_of(dir_ + "/text.log");
  ASSERT_EQ(text.size(), 1u) << slurp(dir_ + "/text.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      text[0], m,
      std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  \[run ([0-9a-f]{8})\] metrics on http://.*)")))
      << text[0];
  EXPECT_NE(slurp(dir_ + "/summary.json").find("\"run\":\"" + m[1].str() + "\""), std::string::npos)
      << "the summary names the run the log does: " << slurp(dir_ + "/summary.json");

  ASSERT_EQ(spawn(with({"--log-level", "warn"}), dir_ + "/out.log", dir_ + "/warn.log").wait(), 0);
  EXPECT_EQ(slurp(dir_ + "/warn.log"), "") << "no warning, and info is below warn";

  ASSERT_EQ(
      spawn(with({"--log-level", "debug", "--metrics-file", dir_ + "/m.prom"}), dir_ + "/out.log", dir_ + "/debug.log")
          .wait(),
      0);
  const std::string debug = slurp(dir_ + "/debug.log");
  EXPECT_NE(debug.find(" debug [run "), std::string::npos) << debug;
  EXPECT_NE(debug.find("] metrics written to " + dir_ + "/m.prom"), std::string::npos) << debug;

  ::setenv("SLUICE_LOG_FORMAT", "json", 1);
  const int code = spawn(with({}), dir_ + "/out.log", dir_ + "/env.log").wait();
  ::unsetenv("SLUICE_LOG_FORMAT");
  ASSERT_EQ(code, 0);
  EXPECT_TRUE(slurp(dir_ + "/env.log").starts_with("{\"time\":\"")) << slurp(dir_ + "/env.log");

  EXPECT_EQ(spawn(with({"--log-format", "yaml"}), dir_ + "/bad.log").wait(), 2);
  EXPECT_NE(slurp(dir_ + "/bad.log").find("--log-format: log format 'yaml': expected text or json"), std::string::npos)
      << slurp(dir_ + "/bad.log");
}

// A run that fails logs an error line, in JSON too, and nothing else on
// standard error is not JSON.
TEST_F(SluiceRun, AFailureIsAnErrorLogLine) {
  auto a = args();
  a.insert(a.end(), {"--log-format", "json", "--set", "input.path=" + dir_ + "/missing.csv"});
  EXPECT_EQ(spawn(a, dir_ + "/out.log", dir_ + "/err.log").wait(), 2);
  const auto lines = lines_of(dir_ + "/err.log");
  ASSERT_EQ(lines.size(), 1u) << slurp(dir_ + "/err.log");
  EXPECT_NE(lines[0].find("\"level\":\"error\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("missing.csv"), std::string::npos) << lines[0];
}

TEST_F(SluiceRun, MetricsAreServedInPrometheusFormatWhileItRuns) {
  auto a = args();
  a.push_back("--metrics-addr");
  a.push_back("localhost:0");  // a name, and any free port: the run says which
  Child c = spawn(a, dir_ + "/log");
  ASSERT_TRUE(eventually([&] { return server_->stats().requests >= 200; })) << slurp(dir_ + "/log");
  const std::string port = metrics_port(dir_ + "/log");
  ASSERT_FALSE(port.empty()) << slurp(dir_ + "/log");
  EXPECT_NE(slurp(dir_ + "/log").find("metrics on http://localhost:" + port + "/metrics"), std::string::npos);
  std::string page;
  if (FILE* p = popen(("curl -s http://localhost:" + port + "/metrics").c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) page.append(buf, n);
    pclose(p);
  }
  ::kill(c.pid, SIGINT);
  EXPECT_EQ(c.wait(), 130) << slurp(dir_ + "/log");
  // A sample's value ("name value" on a line of its own), or -1.
  auto value = [&](const std::string& name) {
    const auto v = page.find("\n" + name + " ");
    return v == std::string::npos ? -1.0 : std::stod(page.substr(v + name.size() + 2));
  };
  // The records read are a counter of their own; the outcomes add up to no
  // more than them (the rest are in flight), so sum() does not count twice.
  EXPECT_EQ(page.find("outcome=\"read\""), std::string::npos) << page;
  const double read = value("sluice_records_read_total");
  EXPECT_GT(read, 0) << page;
  double ended = 0;
  for (const char* o : {"written", "filtered", "not_joined", "dead_lettered", "unfinished"}) {
    const double n = value(std::string("sluice_records_total{outcome=\"") + o + "\"}");
    EXPECT_GE(n, 0) << o << page;
    ended += n;
  }
  EXPECT_LE(ended + value("sluice_records_in_flight"), read) << page;
  // The process's own, as Prometheus's client libraries name them.
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20) << page;
  EXPECT_GT(value("process_open_fds"), 3) << page;
  EXPECT_GE(value("process_max_fds"), value("process_open_fds")) << page;
  EXPECT_GE(value("process_cpu_seconds_total"), 0) << page;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(value("process_start_time_seconds"), now, 600) << page;
  EXPECT_NE(page.find("\nsluice_build_info{version=\""), std::string::npos) << page;
  // Each step's requests by how they ended: the API answers 200 to all.
  EXPECT_GT(value("sluice_step_requests_total{step=\"item\",class=\"2xx\"}"), 0) << page;
  EXPECT_EQ(value("sluice_step_requests_total{step=\"item\",class=\"5xx\"}"), 0) << page;
  EXPECT_GE(value("sluice_step_requests_total{step=\"event_pages\",class=\"none\"}"), 0) << page;
  EXPECT_LE(value("sluice_step_requests_total{step=\"item\",class=\"2xx\"}") +
                value("sluice_step_requests_total{step=\"event_pages\",class=\"2xx\"}"),
            value("sluice_http_requests_total"))
      << page;
  EXPECT_NE(page.find("# TYPE sluice_http_request_duration_seconds histogram"), std::string::npos) << page;
  EXPECT_NE(page.find("sluice_step_request_duration_seconds_bucket{step=\"item\",le=\"+Inf\"} "), std::string::npos)
      << page;
  EXPECT_NE(page.find("sluice_step_request_duration_seconds_count{step=\"event_pages\"} "), std::string::npos) << page;
  EXPECT_NE(page.find("\nsluice_cpu_batches_total "), std::string::npos) << page;
  EXPECT_NE(page.find("sluice_http_request_duration_seconds_bucket{le=\"+Inf\"} "), std::string::npos) << page;
  // Bounds for HTTP latencies, cumulative: none counts fewer than the one
  // before it, and the API's answers (a few ms on loopback) are under 10 s.
  std::uint64_t previous = 0, last = 0;
  for (const char* le :
       {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    const std::string key = std::string("sluice_http_request_duration_seconds_bucket{le=\"") + le + "\"} ";
    const auto b = page.find(key);
    ASSERT_NE(b, std::string::npos) << key << page;
    const std::uint64_t n = std::stoull(page.substr(b + key.size()));
    EXPECT_GE(n, previous) << key;
    previous = n;
    if (std::string(le) == "10") last = n;
  }
  EXPECT_GT(last, 0u);
  EXPECT_EQ(last, previous) << "every answer took under 10 s";
  auto at = page.find("\nsluice_http_requests_total ");
  ASSERT_NE(at, std::string::npos) << page;
  EXPECT_GT(std::stoull(page.substr(at + 28)), 0u) << "requests were made by then";
}

// A run killed outright (no chance to clean up) and resumed: together the
// two runs wrote every record once, and their rows are the oracle's.
// `partitioned`: into Hive partitions by region, each with files of its own.
void kill_and_resume(bool partitioned) {
  const std::uint64_t n = 3000;
  const std::string dir =
      ::testing::TempDir() + "/sluice-resume-" + std::to_string(partitioned) + "-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, n);
  auto server = mockapi::Server::start({.latency = std::chrono::milliseconds(5)});
  ASSERT_TRUE(server.ok());
  auto args = [&](std::vector<std::string> more) {
    std::vector<std::string> a{"run",
                               SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                               "-q",
                               "--set",
                               "input.path=" + dir + "/records.csv",
                               "--set",
                               "datasets.entities.path=" + dir + "/entities.csv",
                               "--set",
                               "http.base_url=" + (*server)->base_url(),
                               "--set",
                               "output.file_rows=150",
                               "--output",
                               dir + "/out",
                               "--summary-json",
                               dir + "/summary.json"};
    if (partitioned) a.insert(a.end(), {"--set", "output.partition_by=region", "--set", "output.file_rows=20"});
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  // Slowly (16 requests in flight), and killed once a file or two are committed.
  Child first = spawn(args({"--set", "http.max_in_flight=16", "--set", "records_in_flight=16"}), dir + "/log1");
  const std::string manifest = dir + "/out/_item-features-manifest.json";
  auto temporaries = [&] {
    std::error_code ec;
    std::size_t n = 0;
    for (fs::recursive_directory_iterator it(dir + "/out", ec), end; !ec && it != end; it.increment(ec))
      n += it->path().filename().string().find(".tmp-") != std::string::npos;
    return n;
  };
  // Killed once a file is committed and the next one is open, while the run goes on.
  eventually(
      [&] { return (committed_files(dir + "/out") > 0 && temporaries() > 0) || fs::exists(dir + "/summary.json"); });
  ::kill(first.pid, SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(manifest)) << slurp(dir + "/log1");
  EXPECT_EQ(fs::exists(dir + "/summary.json"), false) << "the first run never ended";
  const std::size_t left = temporaries();
  EXPECT_GT(left, 0u) << "the killed run had a file open";

  Child second = spawn(args({"--resume"}), dir + "/log2");
  ASSERT_EQ(second.wait(), 0) << slurp(dir + "/log2");
  const std::string summary = slurp(dir + "/summary.json");
  auto number = [&](const std::string& key) {
    auto at = summary.find("\"" + key + "\":");
    EXPECT_NE(at, std::string::npos) << key;
    return at == std::string::npos ? 0 : std::stoull(summary.substr(at + key.size() + 3));
  };
  EXPECT_GT(number("skipped_done_earlier"), 0u) << summary;
  EXPECT_LT(number("skipped_done_earlier"), n) << summary;
  EXPECT_EQ(number("skipped_done_earlier") + number("input"), n) << summary;
  EXPECT_NE(slurp(dir + "/log2").find("records skipped: an earlier run finished them"), std::string::npos);
  EXPECT_EQ(number("abandoned_files_removed"), left);
  EXPECT_EQ(temporaries(), 0u) << "the resumed run removed what the killed one left, and left nothing";
  EXPECT_NE(slurp(manifest).find("\"runs\":2"), std::string::npos);

  // Both runs' files: no id twice, every row the oracle's.
  const std::string files =
      partitioned
          ? "(SELECT id, region, segment, weight, kind, score, n_events, v_sum, v_mean, v_std, v_min, v_max, v_p50, "
            "v_p90, v_p99, cnt_x, cnt_y, cnt_z, v_ewma FROM read_parquet('" +
                dir + "/out/**/*.parquet', hive_partitioning = true))"
          : "read_parquet('" + dir + "/out/item-features-*.parquet')";
  auto counts = duckdb_rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM " + files);
  ASSERT_EQ(counts.size(), 1u);
  const std::string written = std::to_string(expected_counts(n).written);
  EXPECT_NE(counts[0].find("\"n\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_NE(counts[0].find("\"d\":\"" + written + "\""), std::string::npos) << counts[0];
  EXPECT_EQ(check_output(dir + "/out", n, files), expected_counts(n).written);

  // A changed input cannot be resumed: the positions would name other records.
  std::ofstream(dir + "/records.csv", std::ios::app) << "3001\n";
  EXPECT_EQ(spawn(args({"--resume"}), dir + "/log3").wait(), 4) << "a retry cannot fix it";
  EXPECT_NE(slurp(dir + "/log3").find("--resume: the input is not the one"), std::string::npos) << slurp(dir + "/log3");
}

TEST(SluiceResume, AKilledRunResumedWritesEveryRecordExactlyOnce) { kill_and_resume(false); }
TEST(SluiceResume, AKilledPartitionedRunResumedWritesEveryRecordExactlyOnce) { kill_and_resume(true); }

TEST(SluiceValidate, ExitCodesSayWhatHappened) {
  const std::string dir = ::testing::TempDir() + "/sluice-validate-" + std::to_string(::getpid());
  fs::create_directories(dir);
  EXPECT_EQ(spawn({"validate", "--offline", SLUICE_SOURCE_DIR "/examples/item-features.yaml"}, dir + "/ok").wait(), 0)
      << slurp(dir + "/ok");
  std::ofstream(dir + "/bad.yaml")
      << "input:\n  path: x.csv\n  columns: {id: int64}\noutput:\n  path: out\n  columns:\n"
         "    id: {type: int64, expr: idd}\n";
  EXPECT_EQ(spawn({"validate", dir + "/bad.yaml"}, dir + "/bad").wait(), 2);
  EXPECT_NE(slurp(dir + "/bad")
                .find("bad.yaml:7:29: output.columns.id 'idd': column 1: unknown name 'idd' (did you mean 'id'?)"),
            std::string::npos)
      << slurp(dir + "/bad");
  EXPECT_EQ(spawn({"run", dir + "/missing.yaml"}, dir + "/missing").wait(), 2);
  EXPECT_NE(slurp(dir + "/missing").find("cannot read the pipeline file"), std::string::npos);
}

// What `sluice run` would find wrong as it starts, `sluice validate` finds:
// files missing or unlike their declaration, a base_url that is not one, a
// key written twice, a bad environment variable.
TEST(SluiceValidate, FindsWhatARunWouldFailOnAtItsStart) {
  const std::string dir = ::testing::TempDir() + "/sluice-preflight-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/records.csv") << "ident\n1\n";
  std::ofstream(dir + "/entities.csv") << "id,region,segment,weight\n1,r1,s1,1.5\n";
  auto validate = [&](std::vector<std::string> more) {
    std::vector<std::string> a{"validate", SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                               "--set",    "input.path=" + dir + "/records.csv",
                               "--set",    "datasets.entities.path=" + dir + "/entities.csv"};
    a.insert(a.end(), more.begin(), more.end());
    const int code = spawn(a, dir + "/log").wait();
    return std::pair{code, slurp(dir + "/log")};
  };
  auto [code, log] = validate({});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find("records.csv:1: no column 'id' in the header"), std::string::npos) << log;
  std::tie(code, log) = validate({"--offline"});
  EXPECT_EQ(code, 0) << "the files are not looked at: " << log;
  std::tie(code, log) = validate({"--set", "input.path=" + dir + "/none.csv"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find("none.csv: No such file or directory"), std::string::npos) << log;
  std::tie(code, log) = validate({"--offline", "--set", "http.base_url=localhost:8080"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find("http: base_url 'localhost:8080': the scheme must be http or https"), std::string::npos) << log;
  // An output path that is a file, or under one: no run could write there.
  std::ofstream(dir + "/a-file") << "x";
  std::ofstream(dir + "/rec.csv") << "id\n1\n";
  std::tie(code, log) =
      validate({"--set", "input.path=" + dir + "/rec.csv", "--set", "output.path=" + dir + "/a-file"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find("output.path '" + dir + "/a-file': a file, not a directory"), std::string::npos) << log;
  std::tie(code, log) =
      validate({"--set", "input.path=" + dir + "/rec.csv", "--set", "output.path=" + dir + "/a-file/out"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find(dir + "/a-file is a file, not a directory"), std::string::npos) << log;
  const int run_into_a_file =
      spawn({"run", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set", "input.path=" + dir + "/rec.csv",
             "--set", "datasets.entities.path=" + dir + "/entities.csv", "--set", "output.path=" + dir + "/a-file"},
            dir + "/run-file-log")
          .wait();
  EXPECT_EQ(run_into_a_file, 2) << "a setting to fix, not a failure to retry: " << slurp(dir + "/run-file-log");

  std::ofstream(dir + "/dup.yaml")
      << "input: {path: r.csv, columns: {id: int64}}\noutput:\n  path: out\n  columns: {id: int64}\n"
         "  name: a\n  name: b\n";
  EXPECT_EQ(spawn({"validate", "--offline", dir + "/dup.yaml"}, dir + "/log").wait(), 2);
  EXPECT_NE(slurp(dir + "/log").find("dup.yaml:6:3: duplicate key 'output.name' (first at line 5)"), std::string::npos)
      << slurp(dir + "/log");

  ::setenv("SLUICE_CPU_THREADS", "abc", 1);
  std::tie(code, log) = validate({"--offline"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(log.find("SLUICE_CPU_THREADS: expected a whole number from 1 to 1024, got 'abc'"), std::string::npos)
      << log;
  const int run_code =
      spawn({"run", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set", "input.path=" + dir + "/records.csv"},
            dir + "/run-log")
          .wait();
  ::unsetenv("SLUICE_CPU_THREADS");
  EXPECT_EQ(run_code, 2) << "an error, not an exception: " << slurp(dir + "/run-log");
  EXPECT_NE(slurp(dir + "/run-log").find("SLUICE_CPU_THREADS"), std::string::npos) << slurp(dir + "/run-log");
}

// Every environment variable sluice reads, set to a bad value: `validate`
// and `run` name the variable and its value and exit 2 before any work (no
// request, no output), never with an exception; no secret is shown.
TEST(SluiceEnvironment, ABadValueOfEveryVariableSluiceReadsIsNamedAndExitsTwo) {
  const std::string dir = ::testing::TempDir() + "/sluice-env-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/records.csv") << "id\n1\n";
  std::ofstream(dir + "/entities.csv") << "id,region,segment,weight\n1,r1,s1,1.5\n";
  struct Case {
    std::vector<std::pair<std::string, std::string>> vars;
    std::string said;
  };
  const std::string creds = dir + "/credentials";
  std::ofstream(creds) << "[default]\naws_access_key_id = K\naws_secret_access_key = SECRET-NOT-SHOWN\n";
  const std::vector<std::pair<std::string, std::string>> good{{"AWS_SHARED_CREDENTIALS_FILE", creds}};
  auto with_good = [&](std::vector<std::pair<std::string, std::string>> v) {
    v.insert(v.begin(), good.begin(), good.end());
    return v;
  };
  const std::vector<Case> cases{
      {{{"SLUICE_CPU_THREADS", "abc"}}, "SLUICE_CPU_THREADS: expected a whole number from 1 to 1024, got 'abc'"},
      {{{"SLUICE_CPU_THREADS", "0"}}, "SLUICE_CPU_THREADS: expected a whole number from 1 to 1024, got '0'"},
      {{{"SLUICE_DATA", dir + "/nowhere"}}, dir + "/nowhere/records.csv"},
      {with_good({{"AWS_ENDPOINT_URL", "localhost:9000"}}), "AWS_ENDPOINT_URL 'localhost:9000': expected an http://"},
      {with_good({{"AWS_ENDPOINT_URL_S3", "ftp://x"}}), "AWS_ENDPOINT_URL_S3 'ftp://x': expected an http://"},
      {{{"AWS_ACCESS_KEY_ID", "K"}}, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"},
      {{{"AWS_SECRET_ACCESS_KEY", "SECRET-NOT-SHOWN"}}, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"},
      {{{"AWS_SHARED_CREDENTIALS_FILE", dir + "/none"}, {"AWS_EC2_METADATA_DISABLED", "true"}},
       "no AWS credentials: nothing in the environment"},
      {with_good({{"AWS_PROFILE", "nosuch"}}), "profile 'nosuch' is in neither " + creds},
      {{{"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}}, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"},
      {{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://203.0.113.9/c"}},
       "AWS_CONTAINER_CREDENTIALS_FULL_URI 'http://203.0.113.9/c': over http only a loopback address"},
      {with_good({{"AWS_REGION", "us east 1"}}), "AWS_REGION='us east 1': expected a region name"},
      {with_good({{"AWS_DEFAULT_REGION", "EU_WEST"}}), "AWS_DEFAULT_REGION='EU_WEST': expected a region name"},
      {with_good({{"SLUICE_UPLOAD_JOURNAL", "relative/dir"}}), "SLUICE_UPLOAD_JOURNAL='relative/dir': expected an"},
  };
  // What this process was given is not what the cases test.
  for (const char* v :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE", "SLUICE_UPLOAD_JOURNAL",
        "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_DISABLED"}) {
    ::unsetenv(v);
  }
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir + "/none").c_str(), 1);
  for (const auto& c : cases) {
    for (const auto& [k, v] : c.vars) ::setenv(k.c_str(), v.c_str(), 1);
    if (std::getenv("SLUICE_DATA") == nullptr) ::setenv("SLUICE_DATA", dir.c_str(), 1);
    for (const std::string command : {"validate", "run"}) {
      const std::string log = dir + "/log-" + command;
      const int code = spawn({command, SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--set",
                              "output.path=s3://sluice-env-test/out", "--set", "http.base_url=http://127.0.0.1:9"},
                             log)
                           .wait();
      const std::string said = slurp(log);
      EXPECT_EQ(code, 2) << command << " with " << c.vars.back().first << ": " << said;
      EXPECT_NE(said.find(c.said), std::string::npos) << command << ": expected '" << c.said << "' in: " << said;
      EXPECT_EQ(said.find("SECRET-NOT-SHOWN"), std::string::npos) << said;
      EXPECT_EQ(said.find("terminate called"), std::string::npos) << said;
    }
    for (const auto& [k, v] : c.vars) ::unsetenv(k.c_str());
    ::unsetenv("SLUICE_DATA");
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir + "/none").c_str(), 1);
  }
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

TEST(SluiceRunOptions, ABadShardIsNamedBeforeAnythingRuns) {
  const std::string dir = ::testing::TempDir() + "/sluice-shard-" + std::to_string(::getpid());
  fs::create_directories(dir);
  for (std::string bad : {"3/3", "1", "a/2", "1/0", "-1/2", "1/2/3"}) {
    EXPECT_EQ(spawn({"run", SLUICE_SOURCE_DIR "/examples/item-features.yaml", "--shard", bad}, dir + "/log").wait(), 2)
        << bad;
    EXPECT_NE(slurp(dir + "/log").find("--shard '" + bad + "': expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4"),
              std::string::npos)
        << slurp(dir + "/log");
  }
}

// --shard auto takes the shard an AWS Batch array job's environment names
// (the other schedulers' variables: shards_test.cc), and says so; with no
// scheduler's variables it is a usage error.
TEST(SluiceRunOptions, ShardAutoTakesTheSchedulersShard) {
  const std::string dir = ::testing::TempDir() + "/sluice-shard-auto-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 100);
  auto api = mockapi::Server::start({});
  ASSERT_TRUE(api.ok());
  const std::vector<std::string> args = {"run",
                                         SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                                         "--set",
                                         "input.path=" + dir + "/records.csv",
                                         "--set",
                                         "datasets.entities.path=" + dir + "/entities.csv",
                                         "--set",
                                         "http.base_url=" + (*api)->base_url(),
                                         "--output",
                                         dir + "/out",
                                         "--summary-json",
                                         dir + "/summary.json",
                                         "--shard",
                                         "auto"};
  EXPECT_EQ(spawn(args, dir + "/log").wait(), 2);
  EXPECT_NE(slurp(dir + "/log").find("no scheduler's shard in the environment"), std::string::npos)
      << slurp(dir + "/log");
  ::setenv("AWS_BATCH_JOB_ARRAY_INDEX", "1", 1);
  ::setenv("AWS_BATCH_JOB_ARRAY_SIZE", "2", 1);
  ::setenv("AWS_BATCH_JOB_ATTEMPT", "1", 1);
  const int code = spawn(args, dir + "/log").wait();
  const std::string first = slurp(dir + "/summary.json");
  // The same task again (a retry after the shard was committed): nothing to
  // do, and it says so; exit 0, so that the scheduler counts the task done.
  const int again = spawn(args, dir + "/log2").wait();
  ::unsetenv("AWS_BATCH_JOB_ARRAY_INDEX");
  ::unsetenv("AWS_BATCH_JOB_ARRAY_SIZE");
  ::unsetenv("AWS_BATCH_JOB_ATTEMPT");
  EXPECT_EQ(code, 0) << slurp(dir + "/log");
  EXPECT_NE(slurp(dir + "/log").find("shard 1 of 2, from AWS Batch, attempt 1"), std::string::npos)
      << slurp(dir + "/log");
  const std::string shard = "\"shard\":{\"index\":1,\"count\":2,\"attempt\":\"";
  const auto at = first.find(shard);
  ASSERT_NE(at, std::string::npos) << first;
  const std::string attempt = first.substr(at + shard.size(), 8);
  EXPECT_NE(first.find("\"commit\":\"committed\""), std::string::npos) << first;
  EXPECT_TRUE(fs::exists(dir + "/out/item-features-shard-1-of-2-" + attempt + "-00000.parquet"));
  EXPECT_EQ(first.find("\"input\":100,"), std::string::npos) << "half the records, not all";
  EXPECT_EQ(again, 0) << slurp(dir + "/log2");
  EXPECT_NE(slurp(dir + "/log2").find("already committed by attempt " + attempt), std::string::npos)
      << slurp(dir + "/log2");
  std::size_t parquet = 0;
  for (const auto& e : fs::directory_iterator(dir + "/out")) parquet += e.path().extension() == ".parquet";
  EXPECT_EQ(parquet, 1u) << "the second attempt wrote nothing";
}

}  // namespace
}  // namespace sluice::pipeline
