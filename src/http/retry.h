// The retry policy applied to one attempt's outcome: whether it may be
// tried again, how long to wait first, and the status a request ends with
// when it may not. Internal to the HTTP client.
#pragma once

#include <chrono>

#include "exchange.h"
#include "sluice/http/options.h"

namespace sluice::http::detail {

bool retryable_status(const RetryPolicy& p, int status);
bool retryable(const RetryPolicy& p, const Outcome& o);
// The wait before retry number `retry` (from 0): the server's Retry-After
// up to max_retry_after, else a full-jitter exponential backoff.
std::chrono::milliseconds backoff(const RetryPolicy& p, int retry, const Outcome& o);
// The code of a request whose last attempt came to `o`.
StatusCode final_code(const Outcome& o);

}  // namespace sluice::http::detail
