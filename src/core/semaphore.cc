#include "sluice/semaphore.h"

#include <cassert>

namespace sluice {

AsyncSemaphore::~AsyncSemaphore() { assert(waiters_.empty() && urgent_.empty()); }

bool AsyncSemaphore::try_acquire() {
  MutexLock lock(mu_);
  if (closed_ || available_ == 0) return false;
  --available_;
  return true;
}

void AsyncSemaphore::enqueue(Waiter* w, Priority priority) {
  bool granted;
  {
    MutexLock lock(mu_);
    granted = !closed_ && available_ > 0;
    if (granted) {
      --available_;
    } else if (!closed_) {
      (priority == Priority::kUrgent ? urgent_ : waiters_).push_back(w);
      ++waiting_;
      return;
    }
  }
  w->complete(granted);
}

void AsyncSemaphore::release() {
  Waiter* next = nullptr;
  {
    MutexLock lock(mu_);
    if (!urgent_.empty()) {
      next = urgent_.pop_front();
      --waiting_;
    } else if (!waiters_.empty()) {
      next = waiters_.pop_front();
      --waiting_;
    } else {
      ++available_;
    }
  }
  if (next) next->complete(true);
}

void AsyncSemaphore::close() {
  detail::WaiterList<Waiter> failed;
  {
    MutexLock lock(mu_);
    closed_ = true;
    while (!urgent_.empty()) failed.push_back(urgent_.pop_front());
    while (!waiters_.empty()) failed.push_back(waiters_.pop_front());
    waiting_ = 0;
  }
  while (!failed.empty()) failed.pop_front()->complete(false);
}

std::size_t AsyncSemaphore::available() const {
  MutexLock lock(mu_);
  return available_;
}

std::size_t AsyncSemaphore::waiting() const {
  MutexLock lock(mu_);
  return waiting_;
}

}  // namespace sluice
