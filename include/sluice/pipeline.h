// Pipelines: sources, stages and a sink joined with `|`, run on a Runtime.
//
//   sluice::Runtime rt{{.io_threads = 1, .cpu_threads = 2}};
//   auto p = sluice::from_range(std::views::iota(1, 1'000'001))
//          | sluice::map_unordered(fetch, {.concurrency = 256})    // async, bounded
//          | sluice::filter(keep)
//          | sluice::batch({.size = 256, .timeout = 50ms})
//          | sluice::cpu(aggregate)                                // CPU pool
//          | sluice::sink(write);
//   sluice::Status s = rt.block_on(std::move(p));
//
// Every stage reads from a bounded channel and writes to the next one, so a
// slow stage suspends the ones before it (backpressure) and the number of
// items alive is bounded by the capacities and concurrencies below.
//
// Functions given to stages:
//   * may return their value, or Result<value> to fail the run with a Status;
//     an exception also fails the run (kInternal, with its what());
//   * map, filter, take and sink run on the event loop: keep them cheap and
//     never block; put CPU-heavy work in cpu(), which runs on the CPU pool;
//   * map_unordered's function returns boost::asio::awaitable<value>;
//   * with several workers (map_unordered, cpu, or io_threads > 1), a stage's
//     function is called concurrently and must be safe for that.
//
// Stopping: the first error anywhere stops the run: the source stops, every
// channel is cancelled (buffered items are dropped), in-flight asynchronous
// operations are cancelled, and the run ends with that error named after its
// stage ("stage 'fetch': ..."). A stage that stops consuming early (take(),
// a sink returning Control::kStop) stops the stages before it, and the run
// ends OK.
//
// Options are checked when the pipeline starts: a zero capacity, batch size
// or concurrency is a programming error, and Runtime::start throws
// std::invalid_argument naming the stage.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/channel.h"
#include "sluice/detail/flow.h"
#include "sluice/runtime.h"
#include "sluice/status.h"

namespace sluice {

// Default capacity, in items, of a stage's output channel.
inline constexpr std::size_t kDefaultCapacity = 256;

struct StageOptions {
  std::string name;                         // default "<kind>#<index>"
  std::size_t capacity = kDefaultCapacity;  // of the output channel, >= 1
};

struct UnorderedOptions {
  std::string name;
  std::size_t concurrency = 64;  // calls in flight at once, >= 1
  std::size_t capacity = kDefaultCapacity;
};

struct BatchOptions {
  std::string name;
  std::size_t size = 256;                 // a batch is sent when it holds this many items,
  std::chrono::milliseconds timeout{50};  // or this long after its first item came
  std::size_t capacity = 4;               // of the output channel, in batches
};

struct CpuOptions {
  std::string name;
  std::size_t concurrency = 0;  // items on the CPU pool at once; 0: the runtime's cpu_threads
  std::size_t capacity = 0;     // of the output channel; 0: twice the concurrency
};

// What a sink's function may return to stop consuming early.
enum class Control : unsigned char { kContinue, kStop };

template <class T>
using Stream = std::shared_ptr<Channel<T>>;

// A pipeline started on a Runtime.
// Thread safety: every member may be called from any thread but the
// runtime's own. Destroying a RunHandle that has not ended cancels it and waits.
class RunHandle {
 public:
  explicit RunHandle(std::shared_ptr<detail::FlowState> flow) : flow_(std::move(flow)) {}
  RunHandle(RunHandle&&) noexcept = default;
  RunHandle& operator=(RunHandle&&) noexcept = delete;
  ~RunHandle();  // NOLINT(bugprone-exception-escape): see flow.cc

  // Blocks until every stage has ended: OK, kCancelled after cancel(), or the
  // first error, its message starting with "stage '<name>': ".
  Status wait();
  void cancel();
  bool done() const;
  // Counters of every stage, readable while the run goes on.
  std::vector<StageStats> stats() const;
  // Coroutines and threads of the run still alive (0 once it has ended).
  std::size_t live_tasks() const;

 private:
  std::shared_ptr<detail::FlowState> flow_;
};

// A complete pipeline, ready to run. Built by `source | stages... | sink`.
class Pipeline {
 public:
  explicit Pipeline(detail::UniqueFunction<void(detail::FlowState&)> build) : build_(std::move(build)) {}
  // Creates the channels and starts the stages. Called once, by Runtime::start.
  void build(detail::FlowState& flow) { build_(flow); }

 private:
  detail::UniqueFunction<void(detail::FlowState&)> build_;
};

// A source of items of type T, optionally followed by stages.
template <class T, class Build>
class Source {
 public:
  using value_type = T;
  explicit Source(Build b) : build_(std::move(b)) {}
  Stream<T> attach(detail::FlowState& flow) && { return build_(flow); }

 private:
  Build build_;
};

namespace detail {

template <class R>
struct unwrap_result {
  using type = R;
};
template <class U>
struct unwrap_result<Result<U>> {
  using type = U;
};
template <class R>
using unwrap_result_t = typename unwrap_result<R>::type;

template <class A>
struct awaitable_value;
template <class U, class E>
struct awaitable_value<boost::asio::awaitable<U, E>> {
  using type = U;
};

Status status_from_current_exception();

// Calls f(args...) and turns whatever comes out (a value, a Result, an
// exception) into a Result.
template <class Out, class F, class... A>
Result<Out> invoke_to_result(F& f, A&&... args) {
  try {
    if constexpr (is_result_v<std::invoke_result_t<F&, A...>>) {
      return f(std::forward<A>(args)...);
    } else {
      return Result<Out>(f(std::forward<A>(args)...));
    }
  } catch (...) {
    return status_from_current_exception();
  }
}

// Declares a worker as one sender of `ch` for its whole life.
template <class T>
class SenderGuard {
 public:
  explicit SenderGuard(Channel<T>& ch) : ch_(ch) {}
  ~SenderGuard() { ch_.sender_done(); }
  SenderGuard(const SenderGuard&) = delete;
  SenderGuard& operator=(const SenderGuard&) = delete;

 private:
  Channel<T>& ch_;
};

using Clock = std::chrono::steady_clock;

template <class T>
Stream<T> make_output(FlowState& flow, StageCounters& stage, std::size_t capacity, std::size_t senders) {
  if (capacity == 0) throw std::invalid_argument("stage '" + stage.name + "': capacity must be at least 1");
  auto out = flow.make_channel<T>(capacity);
  flow.set_output(stage, out);
  out->add_senders(senders);
  return out;
}

// ---- stage bodies (coroutine parameters are copied into the frame) --------

template <class R, class T>
boost::asio::awaitable<Status> range_source(R range, Stream<T> out, StageCounters* c) {
  SenderGuard guard(*out);
  for (auto&& v : range) {
    c->count_in();
    if (!co_await out->send(T(std::forward<decltype(v)>(v)))) break;
    c->count_out();
  }
  co_return Status();
}

template <class In, class Out, class F>
boost::asio::awaitable<Status> map_body(F f, Stream<In> in, Stream<Out> out, StageCounters* c) {
  SenderGuard guard(*out);
  while (std::optional<In> item = co_await in->receive()) {
    c->count_in();
    auto t0 = Clock::now();
    Result<Out> r = invoke_to_result<Out>(f, std::move(*item));
    c->add_busy(Clock::now() - t0);
    if (!r.ok()) co_return r.status();
    if (!co_await out->send(std::move(*r))) {
      in->cancel();  // downstream stopped: stop upstream too
      break;
    }
    c->count_out();
  }
  co_return Status();
}

template <class In, class P>
boost::asio::awaitable<Status> filter_body(P pred, Stream<In> in, Stream<In> out, StageCounters* c) {
  SenderGuard guard(*out);
  while (std::optional<In> item = co_await in->receive()) {
    c->count_in();
    auto t0 = Clock::now();
    Result<bool> keep = invoke_to_result<bool>(pred, std::as_const(*item));
    c->add_busy(Clock::now() - t0);
    if (!keep.ok()) co_return keep.status();
    if (!*keep) continue;
    if (!co_await out->send(std::move(*item))) {
      in->cancel();
      break;
    }
    c->count_out();
  }
  co_return Status();
}

template <class In>
boost::asio::awaitable<Status> take_body(std::size_t n, Stream<In> in, Stream<In> out, StageCounters* c) {
  SenderGuard guard(*out);
  std::size_t taken = 0;
  while (taken < n) {
    std::optional<In> item = co_await in->receive();
    if (!item) co_return Status();
    c->count_in();
    if (!co_await out->send(std::move(*item))) break;
    c->count_out();
    ++taken;
  }
  in->cancel();  // enough: stop everything upstream
  co_return Status();
}

template <class In, class Out, class F>
boost::asio::awaitable<Status> unordered_worker(std::shared_ptr<F> f, Stream<In> in, Stream<Out> out,
                                                StageCounters* c) {
  SenderGuard guard(*out);
  while (std::optional<In> item = co_await in->receive()) {
    c->count_in();
    auto t0 = Clock::now();
    std::optional<Result<Out>> r;
    try {
      r.emplace(co_await (*f)(std::move(*item)));
    } catch (...) {
      r.emplace(status_from_current_exception());
    }
    c->add_busy(Clock::now() - t0);
    if (!r->ok()) co_return r->status();
    if (!co_await out->send(std::move(**r))) {
      in->cancel();
      break;
    }
    c->count_out();
  }
  co_return Status();
}

template <class In>
boost::asio::awaitable<Status> batch_body(BatchOptions opt, Stream<In> in, Stream<std::vector<In>> out,
                                          StageCounters* c) {
  SenderGuard guard(*out);
  bool more = true;
  while (more) {
    std::optional<In> first = co_await in->receive();
    if (!first) break;
    std::vector<In> batch;
    batch.reserve(opt.size);
    batch.push_back(std::move(*first));
    c->count_in();
    const auto deadline = Clock::now() + opt.timeout;
    while (batch.size() < opt.size) {
      auto [r, item] = co_await in->receive_until(deadline);
      if (r == RecvResult::kTimeout) break;
      if (r == RecvResult::kClosed) {
        more = false;
        break;
      }
      batch.push_back(std::move(*item));
      c->count_in();
    }
    std::size_t n = batch.size();
    if (!co_await out->send(std::move(batch))) {
      in->cancel();
      break;
    }
    c->out.fetch_add(n, std::memory_order_relaxed);  // counted in items, not batches
  }
  co_return Status();
}

template <class In, class Out, class F>
boost::asio::awaitable<Status> cpu_worker(std::shared_ptr<F> f, Runtime* rt, Stream<In> in, Stream<Out> out,
                                          StageCounters* c) {
  SenderGuard guard(*out);
  while (std::optional<In> item = co_await in->receive()) {
    c->count_in();
    // as_tuple: Boost 1.81 cannot co_await a void(exception_ptr, T) operation directly.
    auto [error, r] = co_await rt->run_on_cpu(
        [f, c, v = std::move(*item)]() mutable {
          auto t0 = Clock::now();
          Result<Out> res = invoke_to_result<Out>(*f, std::move(v));
          c->add_busy(Clock::now() - t0);
          return res;
        },
        boost::asio::as_tuple(boost::asio::deferred));
    if (error) std::rethrow_exception(error);  // invoke_to_result catches all; kept for safety
    if (!r->ok()) co_return r->status();
    if (!co_await out->send(std::move(**r))) {
      in->cancel();
      break;
    }
    c->count_out();
  }
  co_return Status();
}

template <class In, class F>
boost::asio::awaitable<Status> sink_body(F f, Stream<In> in, StageCounters* c) {
  using R = std::invoke_result_t<F&, In&&>;
  while (std::optional<In> item = co_await in->receive()) {
    c->count_in();
    auto t0 = Clock::now();
    Control next = Control::kContinue;
    try {
      if constexpr (std::is_same_v<R, Control>) {
        next = f(std::move(*item));
      } else if constexpr (std::is_same_v<R, Status>) {
        Status s = f(std::move(*item));
        if (!s.ok()) co_return s;
      } else {
        static_assert(std::is_void_v<R>, "a sink's function returns void, Status or Control");
        f(std::move(*item));
      }
    } catch (...) {
      co_return status_from_current_exception();
    }
    c->add_busy(Clock::now() - t0);
    c->count_out();
    if (next == Control::kStop) {
      in->cancel();
      break;
    }
  }
  co_return Status();
}

// ---- stage descriptions -------------------------------------------------

template <class F>
struct MapStage {
  F f;
  StageOptions opt;
  template <class In>
  using output = unwrap_result_t<std::invoke_result_t<F&, In&&>>;
  template <class In>
  Stream<output<In>> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "map");
    auto out = make_output<output<In>>(flow, c, opt.capacity, 1);
    flow.spawn(c, map_body<In, output<In>>(std::move(f), std::move(in), out, &c));
    return out;
  }
};

template <class P>
struct FilterStage {
  P pred;
  StageOptions opt;
  template <class In>
  using output = In;
  template <class In>
  Stream<In> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "filter");
    auto out = make_output<In>(flow, c, opt.capacity, 1);
    flow.spawn(c, filter_body<In>(std::move(pred), std::move(in), out, &c));
    return out;
  }
};

struct TakeStage {
  std::size_t n;
  StageOptions opt;
  template <class In>
  using output = In;
  template <class In>
  Stream<In> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "take");
    auto out = make_output<In>(flow, c, opt.capacity, 1);
    flow.spawn(c, take_body<In>(n, std::move(in), out, &c));
    return out;
  }
};

template <class F>
struct UnorderedStage {
  F f;
  UnorderedOptions opt;
  template <class In>
  using output = unwrap_result_t<typename awaitable_value<std::invoke_result_t<F&, In&&>>::type>;
  template <class In>
  Stream<output<In>> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "map_unordered");
    if (opt.concurrency == 0) throw std::invalid_argument("stage '" + c.name + "': concurrency must be at least 1");
    auto out = make_output<output<In>>(flow, c, opt.capacity, opt.concurrency);
    auto shared = std::make_shared<F>(std::move(f));
    for (std::size_t i = 0; i < opt.concurrency; ++i) {
      flow.spawn(c, unordered_worker<In, output<In>>(shared, in, out, &c));
    }
    return out;
  }
};

struct BatchStage {
  BatchOptions opt;
  template <class In>
  using output = std::vector<In>;
  template <class In>
  Stream<output<In>> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "batch");
    if (opt.size == 0) throw std::invalid_argument("stage '" + c.name + "': batch size must be at least 1");
    auto out = make_output<output<In>>(flow, c, opt.capacity, 1);
    flow.spawn(c, batch_body<In>(opt, std::move(in), out, &c));
    return out;
  }
};

template <class F>
struct CpuStage {
  F f;
  CpuOptions opt;
  template <class In>
  using output = unwrap_result_t<std::invoke_result_t<F&, In&&>>;
  template <class In>
  Stream<output<In>> attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "cpu");
    std::size_t workers = opt.concurrency ? opt.concurrency : static_cast<std::size_t>(flow.runtime().cpu_threads());
    std::size_t capacity = opt.capacity ? opt.capacity : 2 * workers;
    auto out = make_output<output<In>>(flow, c, capacity, workers);
    auto shared = std::make_shared<F>(std::move(f));
    for (std::size_t i = 0; i < workers; ++i) {
      flow.spawn(c, cpu_worker<In, output<In>>(shared, &flow.runtime(), in, out, &c));
    }
    return out;
  }
};

template <class F>
struct SinkStage {
  F f;
  StageOptions opt;
  template <class In>
  void attach(FlowState& flow, Stream<In> in) && {
    auto& c = flow.add_stage(opt.name, "sink");
    flow.spawn(c, sink_body<In>(std::move(f), std::move(in), &c));
  }
};

template <class S>
struct is_sink : std::false_type {};
template <class F>
struct is_sink<SinkStage<F>> : std::true_type {};

}  // namespace detail

// ---- sources --------------------------------------------------------------

// Items of a range, read lazily on the event loop (so an unbounded range such
// as std::views::iota(0) is fine). The range is moved into the pipeline.
template <std::ranges::input_range R>
auto from_range(R range, StageOptions opt = {}) {
  using T = std::ranges::range_value_t<R>;
  auto build = [range = std::move(range), opt = std::move(opt)](detail::FlowState& flow) mutable -> Stream<T> {
    auto& c = flow.add_stage(opt.name, "source");
    auto out = detail::make_output<T>(flow, c, opt.capacity, 1);
    flow.spawn(c, detail::range_source<R, T>(std::move(range), out, &c));
    return out;
  };
  return Source<T, decltype(build)>(std::move(build));
}

// ---- stages ---------------------------------------------------------------

// f(item) -> value or Result<value>, one item at a time, in order.
template <class F>
auto map(F f, StageOptions opt = {}) {
  return detail::MapStage<F>{std::move(f), std::move(opt)};
}

// Keeps the items for which pred(const item&) is true.
template <class P>
auto filter(P pred, StageOptions opt = {}) {
  return detail::FilterStage<P>{std::move(pred), std::move(opt)};
}

// Passes on the first n items, then stops everything before it.
inline auto take(std::size_t n, StageOptions opt = {}) { return detail::TakeStage{n, std::move(opt)}; }

// f(item) -> awaitable<value or Result<value>>, up to opt.concurrency calls in
// flight at once; results leave in the order they complete.
template <class F>
auto map_unordered(F f, UnorderedOptions opt = {}) {
  return detail::UnorderedStage<F>{std::move(f), std::move(opt)};
}

// Gathers items into std::vector batches of opt.size, sending a smaller batch
// when opt.timeout has passed since its first item, or at the end of input.
inline auto batch(BatchOptions opt = {}) { return detail::BatchStage{std::move(opt)}; }

// f(item) -> value or Result<value>, run on the runtime's CPU pool, up to
// opt.concurrency items at once; results leave in the order they complete.
// Usually fed by batch(), so one call handles many items.
template <class F>
auto cpu(F f, CpuOptions opt = {}) {
  return detail::CpuStage<F>{std::move(f), std::move(opt)};
}

// The end of a pipeline: f(item) -> void, Status (non-OK fails the run) or
// Control (kStop ends the run early, OK).
template <class F>
auto sink(F f, StageOptions opt = {}) {
  return detail::SinkStage<F>{std::move(f), std::move(opt)};
}

template <class T, class B, class S>
  requires(!detail::is_sink<S>::value)
auto operator|(Source<T, B> src, S stage) {
  using Out = typename S::template output<T>;
  auto build = [src = std::move(src), stage = std::move(stage)](detail::FlowState& flow) mutable -> Stream<Out> {
    Stream<T> in = std::move(src).attach(flow);
    return std::move(stage).template attach<T>(flow, std::move(in));
  };
  return Source<Out, decltype(build)>(std::move(build));
}

template <class T, class B, class S>
  requires(detail::is_sink<S>::value)
Pipeline operator|(Source<T, B> src, S sink_stage) {
  return Pipeline([src = std::move(src), sink_stage = std::move(sink_stage)](detail::FlowState& flow) mutable {
    Stream<T> in = std::move(src).attach(flow);
    std::move(sink_stage).template attach<T>(flow, std::move(in));
  });
}

}  // namespace sluice
