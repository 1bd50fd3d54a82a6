#include "sluice/runtime.h"

#include <charconv>
#include <cstdlib>
#include <deque>
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

// The CPU pool: worker threads taking functions from one queue in the order
// they came. An idle worker sleeps on a condition variable rather than
// spinning: on a machine whose cores the event loop and the API share, a
// worker that polls for work takes CPU from both. A post wakes a worker only
// when one sleeps; while they are busy a post is a lock and a push.
struct Runtime::Cpu {
  explicit Cpu(int threads) {
    workers.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) workers.emplace_back([this] { work(); });
  }

  // Runs what is queued, then joins the workers.
  ~Cpu() {
    {
      MutexLock lock(mu);
      stopping = true;
    }
    wake.notify_all();
    for (auto& w : workers) w.join();
  }

  void post(detail::UniqueFunction<void()> fn) {
    bool sleeper = false;
    {
      MutexLock lock(mu);
      queue.push_back(std::move(fn));
      sleeper = sleeping > 0;
    }
    if (sleeper) wake.notify_one();
  }

  void work() {
    detail::ThreadRoleScope role(detail::ThreadRole::kCpu);
    for (;;) {
      detail::UniqueFunction<void()> fn;
      {
        MutexLock lock(mu);
        while (queue.empty() && !stopping) {
          ++sleeping;
          wake.wait(lock);
          --sleeping;
        }
        if (queue.empty()) return;  // stopping, and nothing left to run
        fn = std::move(queue.front());
        queue.pop_front();
      }
      fn();  // it, and what it holds, goes before the next is taken
    }
  }

  Mutex mu;
  CondVar wake;
  std::deque<detail::UniqueFunction<void()>> queue SLUICE_GUARDED_BY(mu);
  int sleeping SLUICE_GUARDED_BY(mu) = 0;
  bool stopping SLUICE_GUARDED_BY(mu) = false;
  std::vector<std::thread> workers;
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
