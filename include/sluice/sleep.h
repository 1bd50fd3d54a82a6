// sleep_for: suspends the calling coroutine for a duration without blocking
// its thread. Cancellable: a cancelled run aborts the wait (it throws
// boost::system::system_error with operation_aborted).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>

namespace sluice {

inline boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  co_await timer.async_wait(boost::asio::deferred);
}

}  // namespace sluice
