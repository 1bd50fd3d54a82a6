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

#include <cstddef>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/channel.h"
#include "sluice/detail/flow.h"
#include "sluice/detail/stages.h"
#include "sluice/runtime.h"
#include "sluice/stage_options.h"
#include "sluice/status.h"

namespace sluice {

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
