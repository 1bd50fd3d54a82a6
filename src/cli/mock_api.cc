#include "mock_api.h"

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "../mockapi/workload.h"
#include "log.h"

namespace sluice::cli {

void add_mock_api_options(CLI::App& cmd, MockApiOptions& o) {
  auto& s = o.server;
  auto& f = s.faults;
  cmd.add_option("--address", s.address, "address to listen on");
  cmd.add_option("--port", s.port, "port to listen on (0: any free port)");
  cmd.add_option("--threads", s.threads, "server threads")->check(CLI::Range(1, 64));
  cmd.add_option("--latency-ms", o.latency_ms, "delay added to every answer")->check(CLI::Range(0.0, 600000.0));
  cmd.add_option("--jitter-ms", o.jitter_ms, "plus a uniform delay up to this")->check(CLI::Range(0.0, 600000.0));
  cmd.add_option("--max-id", s.max_id, "ids above this answer 404 (0: none do)");
  cmd.add_option("--pad-bytes", s.pad_bytes, "make every events answer this many bytes larger (a \"pad\" field)")
      ->check(CLI::Range(0, 1 << 30));
  cmd.add_flag("--gzip", s.gzip, "gzip answers (level 1) to requests that accept it, as a server with gzip on does");
  cmd.add_option("--fault-500", f.error_500, "fraction of answers that are 500")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--fault-429", f.too_many, "fraction that are 429 with Retry-After")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--fault-malformed", f.malformed, "fraction with a body that is not JSON")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--fault-truncated", f.truncated, "fraction whose body is cut short")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--fault-slow", f.slow_body, "fraction whose body is trickled slowly")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--fault-close", f.close, "fraction closed without an answer")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--retry-after", f.retry_after_seconds, "Retry-After of 429 answers, in seconds")
      ->check(CLI::Range(0, 3600));
  cmd.add_option("--max-faults-per-path", f.max_faults_per_path, "faulty answers per path before it answers right")
      ->check(CLI::Range(0, 1000));
  cmd.add_option("--seed", f.seed, "seed of the fault and jitter draws");
  cmd.add_option("--fail-ids-every", f.fail_ids_every, "items whose id is a multiple of N always answer 500 (0: none)");
  cmd.add_option("--outage-after", s.outage.after, "an outage from the N-th request on (0: none)");
  cmd.add_option("--outage-ms", o.outage_ms, "how long the outage lasts")->check(CLI::Range(0, 86'400'000));
  cmd.add_flag("--outage-close", s.outage.close, "during the outage, close connections instead of answering 503");
  cmd.add_option("--write-data", o.write_dir, "write records.csv and entities.csv into this directory, then exit");
  cmd.add_option("--records", o.records, "with --write-data: ids 1..N")->check(CLI::Range(1, 1'000'000'000));
}

int run_mock_api(MockApiOptions& o) {
  if (!o.write_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.write_dir, ec);
    if (ec) {
      log_error("cannot create " + o.write_dir + ": " + ec.message());
      return 1;
    }
    for (auto [name, write] : {std::pair{"records.csv", &mockapi::write_records_csv},
                               std::pair{"entities.csv", &mockapi::write_entities_csv}}) {
      if (Status s = write(o.write_dir + "/" + name, o.records); !s.ok()) {
        log_error(s.message());
        return 1;
      }
    }
    std::printf("wrote %s/records.csv and %s/entities.csv for ids 1..%llu\n", o.write_dir.c_str(), o.write_dir.c_str(),
                static_cast<unsigned long long>(o.records));
    return 0;
  }
  o.server.latency = std::chrono::microseconds(static_cast<std::int64_t>(o.latency_ms * 1000));
  o.server.jitter = std::chrono::microseconds(static_cast<std::int64_t>(o.jitter_ms * 1000));
  o.server.outage.duration = std::chrono::milliseconds(o.outage_ms);
  // Block the stop signals before the server's threads start, so only
  // sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto server = mockapi::Server::start(o.server);
  if (!server.ok()) {
    log_error(server.status().message());
    return 1;
  }
  std::printf("serving the reference workload's API at %s\n", (*server)->base_url().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*server)->stop();
  auto st = (*server)->stats();
  std::printf("stopped: %llu requests on %llu connections (%llu ok, %llu not found, %llu faults)\n",
              static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.connections),
              static_cast<unsigned long long>(st.ok), static_cast<unsigned long long>(st.not_found),
              static_cast<unsigned long long>(st.faults));
  return 0;
}

}  // namespace sluice::cli
