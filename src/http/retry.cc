#include "retry.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sluice::http::detail {

bool retryable_status(const RetryPolicy& p, int status) {
  return std::find(p.retry_statuses.begin(), p.retry_statuses.end(), status) != p.retry_statuses.end();
}

bool retryable(const RetryPolicy& p, const Outcome& o) {
  switch (o.failure) {
    case FailureKind::kNone:
      return false;
    case FailureKind::kStatus:
      return retryable_status(p, o.response->status);
    case FailureKind::kConnect:
    case FailureKind::kClosed:
      return p.retry_connect_errors;
    case FailureKind::kTimeout:
      return p.retry_timeouts;
    case FailureKind::kProtocol:
      return p.retry_connect_errors;  // a garbled answer: the connection's fault
    case FailureKind::kTooLarge:
    case FailureKind::kCount:
      return false;
  }
  return false;
}

std::chrono::milliseconds backoff(const RetryPolicy& p, int retry, const Outcome& o) {
  if (o.retry_after) return std::min(*o.retry_after, p.max_retry_after);
  double cap = std::min<double>(static_cast<double>(p.max_backoff.count()),
                                static_cast<double>(p.base_backoff.count()) * std::pow(2.0, retry));
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::uniform_real_distribution<double>(0, cap)(rng)));
}

StatusCode final_code(const Outcome& o) {
  switch (o.failure) {
    case FailureKind::kTimeout:
      return StatusCode::kDeadlineExceeded;
    case FailureKind::kTooLarge:
      return StatusCode::kResourceExhausted;
    case FailureKind::kProtocol:
      return StatusCode::kDataLoss;
    default:
      return StatusCode::kUnavailable;
  }
}

}  // namespace sluice::http::detail
