// Streams BYTES into one S3 object through sluice's S3 store (multipart,
// PART bytes per part, IN_FLIGHT parts at once) and reports the rate and
// the process's CPU time per MB, for bench/s3_vs_curl.sh.
//
//   s3_benchmark s3://BUCKET/KEY ENDPOINT BYTES PART IN_FLIGHT signed|unsigned
// Credentials and region from the environment (AWS_ACCESS_KEY_ID, ...).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "sluice/store.h"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s s3://BUCKET/KEY ENDPOINT BYTES PART IN_FLIGHT signed|unsigned\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const std::size_t total = std::strtoull(argv[3], nullptr, 10);
  const std::size_t part = std::strtoull(argv[4], nullptr, 10);
  auto slash = url.find('/', 5);
  if (slash == std::string::npos) {
    std::fprintf(stderr, "expected s3://BUCKET/KEY\n");
    return 2;
  }
  auto store = sluice::open_store(url.substr(0, slash), {.s3_endpoint = argv[2],
                                                         .s3_sign_payload = std::string(argv[6]) == "signed",
                                                         .s3_part_bytes = part,
                                                         .s3_parts_in_flight = std::strtoull(argv[5], nullptr, 10)});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  std::string chunk(1 << 20, '\0');
  std::mt19937_64 rng(1);
  for (auto& c : chunk) c = static_cast<char>(rng());

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto out = (*store)->open_write(url.substr(slash + 1));
  sluice::Status s = out.status();
  for (std::size_t done = 0; s.ok() && done < total; done += chunk.size()) {
    s = (*out)->write(std::string_view(chunk).substr(0, std::min(chunk.size(), total - done)));
  }
  if (s.ok()) s = (*out)->close();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const double mb = static_cast<double>(total) / 1e6;
  std::printf("sluice bytes=%zu seconds=%.2f MB_per_s=%.1f cpu_s=%.3f cpu_ms_per_MB=%.3f peak_rss_MiB=%.1f\n", total,
              secs, mb / secs, cpu, cpu * 1e3 / mb, u.ru_maxrss / 1024.0);
  return 0;
}
