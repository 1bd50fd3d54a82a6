#include "sluice/detail/flow.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <cassert>
#include <exception>

#include "sluice/pipeline.h"

namespace sluice::detail {

namespace asio = boost::asio;

struct FlowState::Task {
  explicit Task(asio::any_io_executor e) : executor(std::move(e)) {}
  // A strand of its own when the loop has several threads; with one, the
  // loop's executor serializes as well, without a strand's cost on every
  // completion (a pipeline's hot path).
  asio::any_io_executor executor;
  asio::cancellation_signal signal;  // emitted on `executor` only
  // The task's coroutine has ended (set and read on `executor` only). Its
  // signal must not be emitted then: the handler co_spawn left in the slot
  // would pass the emission on to state that ended with the coroutine.
  bool ended = false;
};

FlowState::FlowState(Runtime& rt) : rt_(rt) {}

FlowState::~FlowState() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

StageCounters& FlowState::add_stage(const std::string& name, const char* kind) {
  MutexLock lock(mu_);
  std::string n = name.empty() ? std::string(kind) + "#" + std::to_string(stages_.size()) : name;
  return stages_.emplace_back(std::move(n));
}

void FlowState::add_canceller(std::function<void()> f) {
  MutexLock lock(mu_);
  cancellers_.push_back(std::move(f));
}

namespace {
Status from_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return Status::Internal(std::string("exception: ") + ex.what());
  } catch (...) {
    return Status::Internal("unknown exception");
  }
}
}  // namespace

namespace {
// Runs a stage's task so that nothing it does can throw past co_spawn.
//
// Asio's co_spawn entry point awaits once more after the task ends (a post,
// when the task never suspended), and that await throws operation_aborted if
// the task's cancellation slot was emitted by then; outside the entry point's
// own try block, the exception leaves io_context::run() and ends the process.
// A stage that sees the run stop and returns, or throws at its first await,
// is exactly that case. So: exceptions become a Status here, and once the task
// is over this coroutine stops turning cancellation into exceptions.
asio::awaitable<Status> guarded(asio::awaitable<Status> task, std::shared_ptr<FlowState> flow) {
  Status s;
  try {
    s = co_await std::move(task);
  } catch (...) {
    // An exception after the run stopped is the abort of a cancelled
    // operation, not a new error.
    if (!flow->stopping()) s = from_exception(std::current_exception());
  }
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return s;
}
}  // namespace

void FlowState::spawn(StageCounters& stage, asio::awaitable<Status> task) {
  // The task joins tasks_ (where stop() finds it) only once co_spawn has
  // returned: co_spawn installs the cancellation handler in the task's slot on
  // this thread, and an emission from stop() running on the loop meanwhile
  // would race with it. A stop that came in between is passed on here.
  std::list<Task> fresh;
  Task* t = rt_.io_threads() == 1 ? &fresh.emplace_back(rt_.io_context().get_executor())
                                  : &fresh.emplace_back(asio::make_strand(rt_.io_context()));
  {
    MutexLock lock(mu_);
    ++live_;
  }
  asio::co_spawn(t->executor, guarded(std::move(task), shared_from_this()),
                 asio::bind_cancellation_slot(
                     t->signal.slot(), [self = shared_from_this(), &stage, t](const std::exception_ptr& e, Status s) {
                       t->ended = true;
                       if (e && !self->stopping()) s = from_exception(e);
                       if (!s.ok()) self->fail(stage, s);
                       self->task_done();
                     }));
  MutexLock lock(mu_);
  tasks_.splice(tasks_.end(), fresh);
  if (stopping()) cancel_on_its_executor(*t);
}

void FlowState::cancel_on_its_executor(Task& t) {
  asio::post(t.executor, [self = shared_from_this(), &t] {
    if (!t.ended) t.signal.emit(asio::cancellation_type::terminal);
  });
}

void FlowState::spawn_thread(StageCounters& stage, UniqueFunction<Status()> body) {
  MutexLock lock(mu_);
  ++live_;
  threads_.emplace_back([self = shared_from_this(), &stage, body = std::move(body)]() mutable {
    Status s;
    try {
      s = body();
    } catch (...) {
      s = from_exception(std::current_exception());
    }
    if (!s.ok()) self->fail(stage, s);
    self->task_done();
  });
}

void FlowState::fail(const StageCounters& stage, const Status& status) {
  if (status.code() == StatusCode::kCancelled && stopping()) return;
  stop(status.with_context("stage '" + stage.name + "'"));
}

void FlowState::cancel() { stop(Status::Cancelled("the run was cancelled")); }

void FlowState::stop(Status reason) {
  std::vector<std::function<void()>> cancellers;
  {
    MutexLock lock(mu_);
    if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
    outcome_ = std::move(reason);
    cancellers = cancellers_;
    for (Task& t : tasks_) cancel_on_its_executor(t);
  }
  for (auto& c : cancellers) c();
}

void FlowState::task_done() {
  MutexLock lock(mu_);
  assert(live_ > 0);
  if (--live_ == 0) all_done_.notify_all();
}

Status FlowState::wait() {
  assert(detail::this_thread_role() == ThreadRole::kOther);
  std::vector<std::thread> threads;
  {
    MutexLock lock(mu_);
    while (live_ != 0) all_done_.wait(lock);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  MutexLock lock(mu_);
  return outcome_;
}

bool FlowState::done() const {
  MutexLock lock(mu_);
  return live_ == 0;
}

std::size_t FlowState::live_tasks() const {
  MutexLock lock(mu_);
  return live_;
}

std::vector<StageStats> FlowState::stats() const {
  MutexLock lock(mu_);
  std::vector<StageStats> out;
  out.reserve(stages_.size());
  for (const StageCounters& c : stages_) {
    out.push_back({.name = c.name,
                   .items_in = c.in.load(std::memory_order_relaxed),
                   .items_out = c.out.load(std::memory_order_relaxed),
                   .busy = std::chrono::nanoseconds(c.busy_ns.load(std::memory_order_relaxed)),
                   .queue_depth = c.queue_depth ? c.queue_depth() : 0,
                   .queue_capacity = c.queue_capacity});
  }
  return out;
}

}  // namespace sluice::detail

namespace sluice {

Status RunHandle::wait() { return flow_->wait(); }
void RunHandle::cancel() { flow_->cancel(); }
bool RunHandle::done() const { return flow_->done(); }
std::vector<StageStats> RunHandle::stats() const { return flow_->stats(); }
std::size_t RunHandle::live_tasks() const { return flow_->live_tasks(); }

// A throw from here (a thread that cannot be joined) is a broken invariant:
// std::terminate is the right end for it.
RunHandle::~RunHandle() {  // NOLINT(bugprone-exception-escape)
  if (flow_ && !flow_->done()) {
    flow_->cancel();
    (void)flow_->wait();
  }
}

RunHandle Runtime::start(Pipeline pipeline) {
  auto flow = std::make_shared<detail::FlowState>(*this);
  pipeline.build(*flow);
  return RunHandle(std::move(flow));
}

Status Runtime::block_on(Pipeline pipeline) {
  RunHandle run = start(std::move(pipeline));
  return run.wait();
}

}  // namespace sluice

namespace sluice::detail {

Status status_from_current_exception() { return from_exception(std::current_exception()); }

}  // namespace sluice::detail
