// Ctrl-C, SIGTERM and SIGHUP while a job runs (run, stream, serve).
#pragma once

#include <atomic>
#include <thread>

namespace sluice {
class Job;
}

namespace sluice::cli {

// The first Ctrl-C or SIGTERM stops reading input (the records in flight
// finish and are committed), or drains a server; a second, or `grace`
// seconds passing, abandons what is left. SIGHUP has a server read its
// datasets anew. Taken by a thread of its own with sigtimedwait.
class Signals {
 public:
  // Blocks SIGINT, SIGTERM and SIGUSR1 (and, `serving`, SIGHUP) in the calling
  // thread, and so in every thread started after (they inherit the mask).
  // REQUIRES: before any thread.
  static void block(bool serving = false);

  // `serving`: the job is a server, which a first signal drains, and which
  // SIGHUP has read its datasets anew.
  Signals(Job& job, double grace_seconds, bool serving = false);
  ~Signals() { finish(); }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // Ends the watch (the job has returned): the watcher is woken at once
  // (SIGUSR1, to it alone), rather than at its next look, so that a short
  // command exits without a wait.
  void finish();
  bool aborted() const { return aborted_.load(); }
  // 128 + the first signal's number, as a shell reports a process it ended;
  // 0 without a signal.
  int exit_code() const { return first_.load() == 0 ? 0 : 128 + first_.load(); }

 private:
  void watch(Job& job, double grace_seconds);

  const bool serving_;
  std::atomic<bool> done_{false}, aborted_{false};
  std::atomic<int> first_{0};
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace sluice::cli
