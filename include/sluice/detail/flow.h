// FlowState: the shared state of one pipeline run. Internal to sluice; users
// see it through Run (pipeline.h).
//
// It owns the run's channels (so it can cancel them all), counts its tasks
// (coroutines on the event loop and blocking threads) and wakes wait() when
// the last one ends, and keeps the first error. fail() and cancel() stop the
// whole run: every channel is cancelled, which wakes every stage, and every
// coroutine's cancellation slot is signalled, which aborts the timer or
// socket operation it waits on.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sluice/channel.h"
#include "sluice/detail/mutex.h"
#include "sluice/detail/unique_function.h"
#include "sluice/runtime.h"
#include "sluice/status.h"

namespace sluice {

// A snapshot of one stage's counters.
struct StageStats {
  std::string name;
  std::uint64_t items_in = 0;
  std::uint64_t items_out = 0;
  std::chrono::nanoseconds busy{0};  // summed over the stage's workers
  std::size_t queue_depth = 0;       // items waiting in the stage's output channel
  std::size_t queue_capacity = 0;
};

namespace detail {

// Counters of one stage. Written by the stage's workers with relaxed atomics,
// read at any time by stats().
struct StageCounters {
  explicit StageCounters(std::string n) : name(std::move(n)) {}
  const std::string name;
  std::atomic<std::uint64_t> in{0};
  std::atomic<std::uint64_t> out{0};
  std::atomic<std::int64_t> busy_ns{0};
  std::function<std::size_t()> queue_depth;  // set once, before the run starts
  std::size_t queue_capacity = 0;

  void add_busy(std::chrono::steady_clock::duration d) {
    busy_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(), std::memory_order_relaxed);
  }
  void count_in() { in.fetch_add(1, std::memory_order_relaxed); }
  void count_out() { out.fetch_add(1, std::memory_order_relaxed); }
};

class FlowState : public std::enable_shared_from_this<FlowState> {
 public:
  explicit FlowState(Runtime& rt);
  ~FlowState();
  FlowState(const FlowState&) = delete;
  FlowState& operator=(const FlowState&) = delete;

  Runtime& runtime() const { return rt_; }

  // A channel that the run cancels when it stops.
  template <class T>
  std::shared_ptr<Channel<T>> make_channel(std::size_t capacity) {
    auto ch = std::make_shared<Channel<T>>(capacity);
    add_canceller([ch] { ch->cancel(); });
    return ch;
  }

  // A stage named `name`, or "<kind>#<index>" when name is empty.
  StageCounters& add_stage(const std::string& name, const char* kind);

  // Records that `ch` is the output of `stage`, for stats().
  template <class T>
  void set_output(StageCounters& stage, const std::shared_ptr<Channel<T>>& ch) {
    stage.queue_capacity = ch->capacity();
    stage.queue_depth = [weak = std::weak_ptr<Channel<T>>(ch)] {
      auto c = weak.lock();
      return c ? c->size() : std::size_t{0};
    };
  }

  // Runs `task` on its own strand of the event loop. A non-OK result or an
  // exception fails the run, named after `stage`.
  void spawn(StageCounters& stage, boost::asio::awaitable<Status> task);
  // Runs `body` on a thread of its own (for blocking sources such as files).
  void spawn_thread(StageCounters& stage, UniqueFunction<Status()> body);

  // Stops the run with `status` (the first one wins), naming the stage.
  void fail(const StageCounters& stage, const Status& status);
  // Stops the run; it ends with kCancelled unless it already failed.
  void cancel();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Blocks until every task has ended; the run's outcome.
  Status wait();
  bool done() const;
  std::vector<StageStats> stats() const;
  std::size_t live_tasks() const;

 private:
  struct Task;
  void add_canceller(std::function<void()> f);
  void stop(Status reason);
  // Emits a task's terminal cancellation on the executor it runs on.
  void cancel_on_its_executor(Task& t);
  void task_done();

  Runtime& rt_;
  mutable Mutex mu_;
  CondVar all_done_;
  std::size_t live_ SLUICE_GUARDED_BY(mu_) = 0;
  std::atomic<bool> stopping_{false};
  Status outcome_ SLUICE_GUARDED_BY(mu_);
  std::vector<std::function<void()>> cancellers_ SLUICE_GUARDED_BY(mu_);
  std::deque<StageCounters> stages_ SLUICE_GUARDED_BY(mu_);
  std::list<Task> tasks_ SLUICE_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace detail
}  // namespace sluice
