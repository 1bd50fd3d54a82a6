#include "signals.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include "log.h"
#include "sluice/job.h"

namespace sluice::cli {

namespace {

sigset_t watched(bool serving) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGUSR1);  // finish() wakes the watcher with it
  if (serving) sigaddset(&s, SIGHUP);
  return s;
}

// SIGHUP: the datasets read anew (on the watcher's thread), or kept if that
// fails.
void reload(Job& job) {
  log_info("hangup: reading the datasets anew");
  const Status s = job.reload_datasets();
  if (s.ok()) {
    log_info("datasets reloaded");
  } else {
    log_error("the datasets could not be reloaded; the ones loaded before stay: " + s.message());
  }
}

void say_stopping(int sig, bool serving, double grace_seconds) {
  char said[256];
  std::snprintf(said, sizeof said,
                serving ? "%s: draining: no new connection is taken; answering the requests under way "
                          "(%.0f s at most; again to close them)"
                        : "%s: no more input is read; finishing the records in flight (%.0f s at most; "
                          "again to abandon them)",
                sig == SIGINT ? "interrupted" : "terminated", grace_seconds);
  log_warn(said);
}

}  // namespace

void Signals::block(bool serving) {
  const sigset_t s = watched(serving);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

Signals::Signals(Job& job, double grace_seconds, bool serving)
    : serving_(serving), thread_([this, &job, grace_seconds] { watch(job, grace_seconds); }) {}

void Signals::finish() {
  if (!thread_.joinable()) return;
  done_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

void Signals::watch(Job& job, double grace_seconds) {
  const sigset_t signals = watched(serving_);
  const timespec poll{0, 200'000'000};
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
      say_stopping(sig, serving_, grace_seconds);
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

}  // namespace sluice::cli
