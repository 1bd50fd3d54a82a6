// What the commands that run a job (run, stream, serve) share: options,
// signals, the summary, the metrics page and the exit codes.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <CLI/App.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "log.h"
#include "run.h"
#include "sluice/job.h"

namespace sluice::cli {

// --io-threads, --cpu-threads, --grace; and the file with --set.
void add_threads(CLI::App& cmd, RunCommandOptions& o);
void add_common(CLI::App& cmd, RunCommandOptions& o);

// `files`: a run's summary (rows written to files, dead letters, resumes),
// else a stream's or a server's (records answered).
void print_summary(const JobSummary& s, std::FILE* out, bool files = true);

// This process's run id (8 hex digits), drawn and set for the log; the
// command passes it on in JobOptions::run_id so that the summary names it too.
std::string start_run_log();

// The summary to --summary-json, and as the last JSON log line (unless -q).
void report_summary(const JobSummary& s, const RunCommandOptions& o);

// The job's metrics in Prometheus's text format.
std::string metrics_page(const Job& e);

// What a scheduler that retries failed tasks should do about a job that
// failed with `why` (exit codes: run.h): 1 when trying again may get past
// it, 4 when only a change can (a Kubernetes podFailurePolicy or an AWS
// Batch evaluateOnExit fails the task at once on 2 and 4).
int exit_code_of(const Status& why);

// A job that could not be opened: prints why; the exit code (2: the file,
// its settings or the files it names; else as exit_code_of).
int open_failed(const Status& why);

// Ctrl-C or SIGTERM while a job runs: the first stops reading input (the
// records in flight finish and are committed); a second, or `grace` seconds
// passing, abandons them. Taken by a thread of its own with sigwait.
class Signals {
 public:
  // Blocks SIGINT, SIGTERM and SIGUSR1 (and, `serving`, SIGHUP) in the calling
  // thread, and so in every thread started after (they inherit the mask).
  // REQUIRES: before any thread.
  static void block(bool serving = false) {
    sigset_t s = set(serving);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
  }

  // `serving`: the job is a server, which a first signal drains, and which
  // SIGHUP has read its datasets anew.
  Signals(Job& job, double grace_seconds, bool serving = false)
      : serving_(serving), thread_([this, &job, grace_seconds] { watch(job, grace_seconds); }) {}
  ~Signals() { finish(); }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // Ends the watch (the job has returned): the watcher is woken at once
  // (SIGUSR1, to it alone), rather than at its next look, so that a short
  // command exits without a wait.
  void finish() {
    if (!thread_.joinable()) return;
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  bool aborted() const { return aborted_.load(); }
  // 128 + the first signal's number, as a shell reports a process it ended;
  // 0 without a signal.
  int exit_code() const { return first_.load() == 0 ? 0 : 128 + first_.load(); }

 private:
  static sigset_t set(bool serving) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGUSR1);  // finish() wakes the watcher with it
    if (serving) sigaddset(&s, SIGHUP);
    return s;
  }

  // SIGHUP: the datasets read anew (on this thread), or kept if that fails.
  static void reload(Job& job) {
    log_info("hangup: reading the datasets anew");
    const Status s = job.reload_datasets();
    if (s.ok()) {
      log_info("datasets reloaded");
    } else {
      log_error("the datasets could not be reloaded; the ones loaded before stay: " + s.message());
    }
  }

  void watch(Job& job, double grace_seconds) {
    const sigset_t signals = set(serving_);
    timespec poll{0, 200'000'000};
    int stage = 0;
    auto first_at = std::chrono::steady_clock::now();
    while (!done_.load()) {
      siginfo_t info;
      const int sig = sigtimedwait(&signals, &info, &poll);
      if (done_.load()) break;  // woken by finish(), or the job ended meanwhile
      if (sig == SIGUSR1) continue;
      if (sig == SIGHUP) {
        if (stage == 0) reload(job);
      } else if (sig > 0 && stage == 0) {
        stage = 1;
        first_ = sig;
        first_at = std::chrono::steady_clock::now();
        char said[256];
        std::snprintf(said, sizeof said,
                      serving_ ? "%s: draining: no new connection is taken; answering the requests under way "
                                 "(%.0f s at most; again to close them)"
                               : "%s: no more input is read; finishing the records in flight (%.0f s at most; "
                                 "again to abandon them)",
                      sig == SIGINT ? "interrupted" : "terminated", grace_seconds);
        log_warn(said);
        job.stop();
      } else if (stage == 1 && (sig > 0 || std::chrono::steady_clock::now() - first_at >
                                               std::chrono::duration<double>(grace_seconds))) {
        stage = 2;
        aborted_ = true;
        log_warn("abandoning the records in flight");
        job.abort();
      }
    }
  }

  const bool serving_;
  std::atomic<bool> done_{false}, aborted_{false};
  std::atomic<int> first_{0};
  std::thread thread_;  // last: it starts once the rest is made
};

// The exit code of a job that ran, after its summary: see run.h.
int ended(const JobSummary& s, const RunCommandOptions& o, const Signals& signals, const char* command);

}  // namespace sluice::cli
