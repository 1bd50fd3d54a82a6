// Runtime: the threads a pipeline runs on.
//
// I/O and CPU never share a thread. The Runtime owns
//   * io_threads event-loop threads running one boost::asio::io_context, where
//     every coroutine of a pipeline runs (network, timers, channel hand-offs);
//   * a CPU pool of cpu_threads worker threads on one queue, where
//     CPU-heavy work runs; run_on_cpu() moves a function there and resumes the
//     calling coroutine with its result.
//
// Thread safety: all members may be called from any thread.
// Lifetime: destroy the Runtime only after every RunHandle on it has ended; the
// destructor waits for CPU work in progress, stops the event loop and joins
// its threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "sluice/detail/thread_role.h"
#include "sluice/detail/unique_function.h"
#include "sluice/status.h"

namespace sluice {

class Pipeline;
class RunHandle;

struct RuntimeOptions {
  // Event-loop threads. One is enough for tens of thousands of requests a
  // second; more only help when the loop itself is the bottleneck.
  int io_threads = 1;
  // CPU pool threads. 0 means: the environment variable SLUICE_CPU_THREADS if
  // set, else the machine's cores minus io_threads, and at least 1.
  int cpu_threads = 0;
};

class Runtime {
 public:
  // Fills in the defaults of `options` (see RuntimeOptions) and checks them.
  // Fails with kInvalidArgument naming the bad value (for example a
  // SLUICE_CPU_THREADS that is not a positive whole number).
  static Result<RuntimeOptions> resolve(RuntimeOptions options);

  // Starts the threads. Throws std::invalid_argument if resolve() fails;
  // call resolve() first to report the error as a value.
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int io_threads() const { return options_.io_threads; }
  int cpu_threads() const { return options_.cpu_threads; }

  boost::asio::io_context& io_context() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  std::vector<std::thread::id> io_thread_ids() const;

  // Runs fn() on the CPU pool and completes with (the exception fn threw or
  // null, fn's result or nullopt) on the executor associated with the
  // completion handler. In a coroutine:
  //   auto [error, value] = co_await rt.run_on_cpu(fn, as_tuple(deferred));
  // (Boost 1.81 cannot co_await this signature without as_tuple.)
  template <class F, class Token>
  auto run_on_cpu(F fn, Token&& token) {
    using R = std::invoke_result_t<F&>;
    static_assert(!std::is_void_v<R>, "run_on_cpu: the function must return a value");
    return boost::asio::async_initiate<Token, void(std::exception_ptr, std::optional<R>)>(
        [this](auto handler, F f) {
          auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, executor()));
          post_cpu([f = std::optional<F>(std::move(f)), h = std::move(handler), work = std::move(work)]() mutable {
            std::optional<R> result;
            std::exception_ptr error;
            try {
              result.emplace((*f)());
            } catch (...) {
              error = std::current_exception();
            }
            // Destroy fn, and whatever it holds, before the caller resumes:
            // once it has its result, nothing of the call remains.
            f.reset();
            auto ex = work.get_executor();
            boost::asio::post(ex, [h = std::move(h), error, result = std::move(result),
                                   work = std::move(work)]() mutable { std::move(h)(error, std::move(result)); });
          });
        },
        token, std::move(fn));
  }

  // Queues fn on the CPU pool. Fire and forget; fn must not throw.
  void post_cpu(detail::UniqueFunction<void()> fn);

  // Runs a coroutine on the event loop and blocks until it ends, returning
  // its value or rethrowing its exception.
  // REQUIRES: not called on one of this runtime's threads.
  template <class T>
  T block_on(boost::asio::awaitable<T> task) {
    if constexpr (std::is_void_v<T> || std::is_default_constructible_v<T>) {
      return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future).get();
    } else {
      // use_future needs a default-constructible value; Result<T> is not.
      auto wrapped = [](boost::asio::awaitable<T> t) -> boost::asio::awaitable<std::optional<T>> {
        co_return co_await std::move(t);
      };
      return std::move(*boost::asio::co_spawn(io_, wrapped(std::move(task)), boost::asio::use_future).get());
    }
  }

  // Starts a pipeline; the returned RunHandle reports progress and its end.
  RunHandle start(Pipeline pipeline);
  // Runs a pipeline to its end: OK, or the first error with its stage's name.
  // REQUIRES: not called on one of this runtime's threads.
  Status block_on(Pipeline pipeline);

 private:
  struct Cpu;
  RuntimeOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_running_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<Cpu> cpu_;
};

}  // namespace sluice
