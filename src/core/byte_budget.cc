#include "sluice/byte_budget.h"

#include <cassert>

namespace sluice {

ByteBudget::~ByteBudget() { assert(growers_.empty() && under_.empty()); }

ByteBudget::Grower::~Grower() { budget_.end_grower(*this); }

void ByteBudget::charge(std::uint64_t bytes) {
  const std::uint64_t now = used_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void ByteBudget::release(std::uint64_t bytes) {
  if (used_.fetch_sub(bytes, std::memory_order_relaxed) - bytes >= limit_) return;
  detail::WaiterList<Waiter> go;
  {
    MutexLock lock(mu_);
    wake_locked(go);
  }
  complete_all(go, true);
}

void ByteBudget::end_grower(Grower& g) {
  used_.fetch_sub(g.held_, std::memory_order_relaxed);
  g.held_ = 0;
  detail::WaiterList<Waiter> go;
  {
    MutexLock lock(mu_);
    if (overdraft_ == &g) {
      overdraft_ = nullptr;
      g.overdraft_ = false;
    }
    wake_locked(go);
  }
  complete_all(go, true);
}

bool ByteBudget::may_grow_now(Grower& g) { return g.overdraft_.load(std::memory_order_relaxed) || used() < limit_; }

// Under mu_. Whether a waiter for `g` (null: for the bytes to be under the
// limit) may go on now; a grower over the limit takes the overdraft if it
// is free.
bool ByteBudget::ready_locked(Grower* g) {
  if (used() < limit_) return true;
  if (g == nullptr) return false;
  if (g->overdraft_) return true;
  if (overdraft_ != nullptr) return false;
  overdraft_ = g;
  g->overdraft_ = true;
  return true;
}

// Under mu_. Moves to `out` the waiters that may go on: all of them under
// the limit; over it, the oldest waiting grower if the overdraft is free.
void ByteBudget::wake_locked(detail::WaiterList<Waiter>& out) {
  if (used() < limit_) {
    while (!growers_.empty()) out.push_back(growers_.pop_front());
    while (!under_.empty()) out.push_back(under_.pop_front());
    return;
  }
  if (overdraft_ == nullptr && !growers_.empty()) {
    Waiter* w = growers_.best([](Waiter* a, Waiter* b) { return a->grower->priority_ < b->grower->priority_; });
    detail::WaiterList<Waiter>::unlink(w);
    overdraft_ = w->grower;
    w->grower->overdraft_ = true;
    out.push_back(w);
  }
}

void ByteBudget::complete_all(detail::WaiterList<Waiter>& list, bool result) {
  while (!list.empty()) list.pop_front()->complete(result);
}

void ByteBudget::enqueue(Waiter* w) {
  bool result;
  {
    MutexLock lock(mu_);
    if (closed_) {
      result = false;
    } else if (ready_locked(w->grower)) {
      result = true;
    } else {
      (w->grower ? growers_ : under_).push_back(w);
      return;
    }
  }
  w->complete(result);
}

boost::asio::awaitable<bool> ByteBudget::may_grow(Grower& g) {
  while (!may_grow_now(g)) {
    if (!co_await async_wait(&g, boost::asio::deferred)) co_return false;
  }
  co_return true;
}

boost::asio::awaitable<bool> ByteBudget::wait_under() {
  while (used() >= limit_) {
    if (!co_await async_wait(nullptr, boost::asio::deferred)) co_return false;
  }
  co_return true;
}

void ByteBudget::close() {
  detail::WaiterList<Waiter> failed;
  {
    MutexLock lock(mu_);
    closed_ = true;
    while (!growers_.empty()) failed.push_back(growers_.pop_front());
    while (!under_.empty()) failed.push_back(under_.pop_front());
  }
  complete_all(failed, false);
}

}  // namespace sluice
