// How the stages of sluice/pipeline.h run: each one a coroutine (or a pool
// of them) between its input and output channels, started by the `|` that
// attaches it. Not an API: the public combinators are in sluice/pipeline.h.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/channel.h"
#include "sluice/detail/flow.h"
#include "sluice/runtime.h"
#include "sluice/stage_options.h"
#include "sluice/status.h"

namespace sluice {
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

}  // namespace sluice
