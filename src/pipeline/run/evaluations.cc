#include "pipeline/run/evaluations.h"

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::pipeline {

namespace asio = boost::asio;

Evaluations::Evaluations(const Plan& plan, Runtime& rt)
    : plan_(plan), rt_(rt), workers_(std::max(1, rt.cpu_threads())) {}

asio::awaitable<Evaluation> Evaluations::evaluate(Record& r) {
  Done done = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Done)>(
      [this, &r](auto handler) {
        queue(Ask{&r, [h = std::move(handler)](Done d) mutable { std::move(h)(std::move(d)); }});
      },
      asio::use_awaitable);
  if (done.error) std::rethrow_exception(done.error);
  co_return std::move(done.value);
}

void Evaluations::queue(Ask ask) {
  {
    MutexLock lock(mu_);
    queued_.push_back(std::move(ask));
    if (flush_posted_) return;
    flush_posted_ = true;
  }
  // Behind what the event loop has ready now: the records whose answers
  // came in the same turn go in one batch.
  asio::post(rt_.io_context(), [this] { flush(); });
}

void Evaluations::flush() {
  MutexLock lock(mu_);
  flush_posted_ = false;
  // The oldest first, split evenly over the free workers.
  while (running_ < workers_ && !queued_.empty()) {
    const auto free = static_cast<std::size_t>(workers_ - running_);
    const std::size_t n = std::min(kMaxBatch, (queued_.size() + free - 1) / free);
    std::vector<Ask> batch(std::make_move_iterator(queued_.begin()),
                           std::make_move_iterator(queued_.begin() + static_cast<std::ptrdiff_t>(n)));
    queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(n));
    start(std::move(batch));
  }
}

void Evaluations::start(std::vector<Ask> batch) {
  ++running_;
  batches_.fetch_add(1, std::memory_order_relaxed);
  records_.fetch_add(batch.size(), std::memory_order_relaxed);
  // The work guard keeps the event loop running until the batch is back.
  rt_.post_cpu([this, batch = std::move(batch), work = asio::make_work_guard(rt_.io_context())]() mutable {
    std::vector<Done> results(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        results[i].value = pipeline::evaluate(plan_, *batch[i].record);
      } catch (...) {
        results[i].error = std::current_exception();
      }
    }
    auto loop = work.get_executor();
    asio::post(loop, [this, batch = std::move(batch), results = std::move(results), work = std::move(work)]() mutable {
      ended();  // the next batch goes to the pool before these records go on
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].resume(std::move(results[i]));
    });
  });
}

void Evaluations::ended() {
  {
    MutexLock lock(mu_);
    --running_;
    if (queued_.empty() || flush_posted_) return;
  }
  flush();
}

}  // namespace sluice::pipeline
