// The connections to one origin: idle ones reused most recently used first
// (at most max_idle, each for idle_timeout or 80 % of the idle timeout the
// server announced, whichever is shorter), never one the server has closed
// meanwhile (looked at before reuse: a closed connection is readable), new
// ones connected within
// connect_timeout (with TLS: SNI, then the chain and the host name
// verified); the origin's addresses resolved once, and again after a
// connect fails. Internal to the HTTP client.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "exchange.h"
#include "origin.h"
#include "sluice/detail/mutex.h"
#include "sluice/runtime.h"

namespace sluice::http::detail {

// Which connection checkout() may give.
enum class Reuse : std::uint8_t {
  kIdleFirst,  // an idle one that is still fresh, else a new one
  kNewOnly,    // a new one (an idle one may be as stale as the one just lost)
};

// Thread-safe.
class ConnectionPool {
 public:
  // `origin` and `options` must outlive the pool.
  ConnectionPool(Runtime& rt, const ClientOptions& options, Origin& origin)
      : rt_(rt), options_(options), origin_(origin) {}

  // A connection to the origin, or why none could be made by `deadline`
  // (kDeadlineExceeded for a timeout, else kUnavailable).
  boost::asio::awaitable<Result<std::unique_ptr<Connection>>> checkout(Clock::time_point deadline, Reuse reuse);
  // Keeps a connection for reuse (or closes it: the pool is full or closed);
  // `announced`: the idle timeout the server said it keeps connections for.
  void checkin(std::unique_ptr<Connection> c, std::optional<std::chrono::milliseconds> announced = std::nullopt);
  // Closes the idle connections, and every one checked in from now on.
  void close();
  std::uint64_t opened() const { return opened_.load(std::memory_order_relaxed); }
  // Idle connections not reused: found closed by the server, or past the
  // idle timeout it announced.
  std::uint64_t stale() const { return stale_.load(std::memory_order_relaxed); }

 private:
  Runtime& rt_;
  const ClientOptions& options_;
  Origin& origin_;
  Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ SLUICE_GUARDED_BY(mu_);
  std::optional<boost::asio::ip::tcp::resolver::results_type> endpoints_ SLUICE_GUARDED_BY(mu_);
  bool closed_ SLUICE_GUARDED_BY(mu_) = false;
  std::atomic<std::uint64_t> opened_{0}, stale_{0};
};

}  // namespace sluice::http::detail
