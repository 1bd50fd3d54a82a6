// The `sluice` command.
#include "demo.h"
#include "inspect.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo [--records N] [--latency-us N] [--in-flight N] [--cpu-threads N]\n"
    "        run a small example pipeline of the reference workload's shape\n"
    "  inspect FILE.parquet [--rows N]\n"
    "        print a Parquet file's schema, row groups, encodings, statistics\n"
    "        and first rows (default 5)\n"
    "  version\n"
    "        print the version\n";

// Parses a whole positive number, or reports which option was wrong.
bool parse_count(std::string_view option, const char* text, std::uint64_t max, std::uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
    std::fprintf(stderr, "sluice: %.*s: expected a whole number from 0 to %llu, got '%s'\n",
                 static_cast<int>(option.size()), option.data(), static_cast<unsigned long long>(max), text);
    return false;
  }
  out = v;
  return true;
}

int demo(int argc, char** argv) {
  sluice::cli::DemoOptions opt;
  for (int i = 0; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sluice demo: %s: %s\n", argv[i],
                   flag.starts_with("--") ? "expected a value after it" : "unknown argument");
      return 2;
    }
    std::uint64_t v = 0;
    const char* value = argv[++i];
    if (flag == "--records") {
      if (!parse_count(flag, value, 100'000'000, v)) return 2;
      opt.records = v;
    } else if (flag == "--latency-us") {
      if (!parse_count(flag, value, 10'000'000, v)) return 2;
      opt.latency = std::chrono::microseconds(v);
    } else if (flag == "--in-flight") {
      if (!parse_count(flag, value, 100'000, v)) return 2;
      if (v == 0) {
        std::fprintf(stderr, "sluice demo: --in-flight: must be at least 1\n");
        return 2;
      }
      opt.in_flight = v;
    } else if (flag == "--cpu-threads") {
      if (!parse_count(flag, value, 1024, v)) return 2;
      opt.cpu_threads = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "sluice demo: unknown option '%s'\n%s", argv[i - 1], kUsage);
      return 2;
    }
  }
  return sluice::cli::run_demo(opt);
}

int inspect(int argc, char** argv) {
  std::string path;
  std::uint64_t rows = 5;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--rows") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sluice inspect: --rows: expected a value after it\n");
        return 2;
      }
      if (!parse_count(arg, argv[++i], 1'000'000, rows)) return 2;
    } else if (path.empty() && !arg.starts_with("--")) {
      path = arg;
    } else {
      std::fprintf(stderr, "sluice inspect: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "sluice inspect: which file? expected FILE.parquet\n%s", kUsage);
    return 2;
  }
  return sluice::cli::run_inspect(path, rows, stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "demo") return demo(argc - 2, argv + 2);
  if (cmd == "inspect") return inspect(argc - 2, argv + 2);
  if (cmd == "version" || cmd == "--version") {
    std::puts("sluice 0.1.0");
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "sluice: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
