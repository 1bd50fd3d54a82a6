#include "pipeline/run/admission.h"

#include <algorithm>

namespace sluice::pipeline {
namespace {
constexpr std::uint64_t kGuessedRecordBytes = std::uint64_t{64} * 1024;

std::size_t first_cap(std::uint64_t max_bytes, std::size_t max_records) {
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(max_bytes / kGuessedRecordBytes, 1, max_records));
}
}  // namespace

Admission::Admission(std::uint64_t max_bytes, std::size_t max_records)
    : max_bytes_(max_bytes),
      max_records_(max_records),
      budget_(std::make_shared<ByteBudget>(max_bytes)),
      units_(first_cap(max_bytes, max_records)),
      cap_(first_cap(max_bytes, max_records)) {}

boost::asio::awaitable<bool> Admission::admit() {
  const bool unit = units_.try_acquire();
  if (unit && budget_->used() < budget_->limit()) co_return true;
  held_now_.fetch_add(1, std::memory_order_relaxed);
  held_total_.fetch_add(1, std::memory_order_relaxed);
  struct Unheld {
    std::atomic<std::uint64_t>& n;
    ~Unheld() { n.fetch_sub(1, std::memory_order_relaxed); }
  } unheld{held_now_};
  if (!unit && !co_await units_.acquire()) co_return false;
  if (!co_await budget_->wait_under()) {
    units_.release();
    co_return false;
  }
  co_return true;
}

Admission::UnderWay::UnderWay(Admission& a, std::uint64_t position) : admission_(a), position_(position) {
  MutexLock lock(admission_.under_way_mu_);
  admission_.under_way_.insert(position_);
}

Admission::UnderWay::~UnderWay() {
  MutexLock lock(admission_.under_way_mu_);
  admission_.under_way_.erase(position_);
}

std::uint64_t Admission::oldest_under_way() {
  MutexLock lock(under_way_mu_);
  return under_way_.empty() ? 0 : *under_way_.begin();
}

bool Admission::may_send(std::uint64_t position) {
  return budget_->used() < budget_->limit() || position == oldest_under_way();
}

void Admission::ended(std::uint64_t peak_bytes) {
  MutexLock lock(mu_);
  // The mean of the records so far, then of about the last 64.
  ended_ = std::min<std::uint64_t>(ended_ + 1, 64);
  mean_bytes_ += (static_cast<double>(peak_bytes) - mean_bytes_) / static_cast<double>(ended_);
  const double fits = static_cast<double>(max_bytes_) / std::max(mean_bytes_, 1.0);
  const double most = static_cast<double>(std::min(max_records_, cap_ + 1));
  const auto cap = static_cast<std::size_t>(std::clamp(fits, 1.0, most));
  if (cap < cap_) {
    debt_ += cap_ - cap;
  } else {
    std::size_t grow = cap - cap_;
    const std::size_t paid = std::min(grow, debt_);
    debt_ -= paid;
    for (grow -= paid; grow > 0; --grow) units_.release();
  }
  cap_ = cap;
  if (debt_ > 0)
    --debt_;
  else
    units_.release();
}

void Admission::close() {
  units_.close();
  budget_->close();
}

}  // namespace sluice::pipeline
