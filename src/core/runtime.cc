#include "sluice/runtime.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/detail/mutex.h"

namespace sluice {

namespace detail {
namespace {
thread_local ThreadRole t_role = ThreadRole::kOther;
}  // namespace

ThreadRole this_thread_role() { return t_role; }
ThreadRoleScope::ThreadRoleScope(ThreadRole role) : previous_(t_role) { t_role = role; }
ThreadRoleScope::~ThreadRoleScope() { t_role = previous_; }
}  // namespace detail

// The CPU pool: a oneTBB arena whose every slot is for worker threads, so no
// event-loop thread ever runs CPU work, plus a count of tasks in flight that
// the destructor waits on.
struct Runtime::Cpu {
  explicit Cpu(int threads)
      // oneTBB 2021.8 caps its workers at cores - 1 unless told otherwise; the
      // +1 is the slot oneTBB keeps for a thread that is not its worker.
      : parallelism(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads) + 1),
        arena(threads, /*reserved_for_masters=*/0) {}

  ~Cpu() {
    MutexLock lock(mu);
    while (in_flight != 0) idle.wait(lock);
  }

  // oneTBB calls the functor through a const reference; the function itself
  // is called once, so it is kept mutable.
  struct Task {
    Cpu* cpu;
    mutable detail::UniqueFunction<void()> fn;
    void operator()() const {
      {
        detail::ThreadRoleScope role(detail::ThreadRole::kCpu);
        fn();
      }
      cpu->finished();
    }
  };

  void post(detail::UniqueFunction<void()> fn) {
    {
      MutexLock lock(mu);
      ++in_flight;
    }
    arena.enqueue(Task{this, std::move(fn)});
  }

  void finished() {
    MutexLock lock(mu);
    if (--in_flight == 0) idle.notify_all();
  }

  tbb::global_control parallelism;
  tbb::task_arena arena;
  Mutex mu;
  CondVar idle;
  std::size_t in_flight SLUICE_GUARDED_BY(mu) = 0;
};

namespace {

Result<int> parse_thread_count(std::string_view text, std::string_view what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 1024) {
    return Status::InvalidArgument(std::string(what) + ": expected a whole number from 1 to 1024, got '" +
                                   std::string(text) + "'");
  }
  return value;
}

}  // namespace

Result<RuntimeOptions> Runtime::resolve(RuntimeOptions options) {
  if (options.io_threads < 1 || options.io_threads > 64) {
    return Status::InvalidArgument("io_threads: expected 1 to 64, got " + std::to_string(options.io_threads));
  }
  if (options.cpu_threads < 0 || options.cpu_threads > 1024) {
    return Status::InvalidArgument("cpu_threads: expected 0 (automatic) to 1024, got " +
                                   std::to_string(options.cpu_threads));
  }
  if (options.cpu_threads == 0) {
    if (const char* env = std::getenv("SLUICE_CPU_THREADS"); env != nullptr && *env != '\0') {
      Result<int> n = parse_thread_count(env, "SLUICE_CPU_THREADS");
      if (!n.ok()) return n.status();
      options.cpu_threads = *n;
    } else {
      int cores = static_cast<int>(std::thread::hardware_concurrency());
      options.cpu_threads = std::max(1, cores - options.io_threads);
    }
  }
  return options;
}

namespace {
RuntimeOptions resolve_or_throw(RuntimeOptions options) {
  Result<RuntimeOptions> r = Runtime::resolve(options);
  if (!r.ok()) throw std::invalid_argument(r.status().to_string());
  return *r;
}
}  // namespace

Runtime::Runtime(RuntimeOptions options)
    : options_(resolve_or_throw(options)),
      io_(options_.io_threads),
      keep_running_(io_.get_executor()),
      cpu_(std::make_unique<Cpu>(options_.cpu_threads)) {
  io_threads_.reserve(static_cast<std::size_t>(options_.io_threads));
  for (int i = 0; i < options_.io_threads; ++i) {
    io_threads_.emplace_back([this] {
      detail::ThreadRoleScope role(detail::ThreadRole::kIo);
      io_.run();
    });
  }
}

Runtime::~Runtime() {
  cpu_.reset();  // CPU work in flight posts its results to the loop: let it finish first
  keep_running_.reset();
  io_.stop();
  for (auto& t : io_threads_) t.join();
}

std::vector<std::thread::id> Runtime::io_thread_ids() const {
  std::vector<std::thread::id> ids;
  for (const auto& t : io_threads_) ids.push_back(t.get_id());
  return ids;
}

void Runtime::post_cpu(detail::UniqueFunction<void()> fn) { cpu_->post(std::move(fn)); }

}  // namespace sluice
