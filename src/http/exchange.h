// One exchange on one connection: the request written, the answer read and
// parsed, every wait bounded by a watchdog (the earlier of the request's
// deadline and read_timeout without progress), and the answer's bytes
// counted against the receive budget as they come. Internal to the HTTP
// client.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "origin.h"
#include "sluice/http/client.h"

namespace sluice::http::detail {

using Clock = std::chrono::steady_clock;

// A connection: plain TCP, or TLS over TCP.
struct Connection {
  explicit Connection(const boost::asio::any_io_executor& ex) : plain(std::in_place, ex) {}
  Connection(const boost::asio::any_io_executor& ex, boost::asio::ssl::context& ctx)
      : secure(std::make_unique<boost::beast::ssl_stream<boost::beast::tcp_stream>>(ex, ctx)) {}

  // Grows the read buffer to the size of the answers the connection gets,
  // up to 64 KiB (see exchange.cc).
  void fit_buffer(std::size_t answer_bytes);
  boost::beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }

  std::optional<boost::beast::tcp_stream> plain;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> secure;
  boost::beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  // How long it may stay idle and still be reused: what the server
  // announced (Keep-Alive: timeout=N), with a margin; else no limit of its
  // own (the pool's idle_timeout holds).
  Clock::duration idle_limit = Clock::duration::max();
  bool reused = false;
};

// What one attempt came to.
struct Outcome {
  FailureKind failure = FailureKind::kNone;
  std::string what;  // for the error message
  std::optional<Response> response;
  std::optional<std::chrono::milliseconds> retry_after;
  bool before_response = false;   // failed before any byte of an answer (safe to resend)
  bool deadline_passed = false;   // a timeout of the attempt's deadline, not of read_timeout
  Clock::duration memory_wait{};  // waited for the receive budget (moves the request's deadline)
  bool keep_alive = true;         // the server lets the connection be reused
  // For how long, if it said (Keep-Alive: timeout=N, in seconds).
  std::optional<std::chrono::milliseconds> keep_alive_timeout;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;  // of a whole answer
};

// Sends `wire` on `c` and reads the answer, within `deadline` and the
// options' read_timeout, max_body_bytes and receive_budget.
boost::asio::awaitable<Outcome> exchange(Connection& c, const Wire& wire, Method method, Clock::time_point deadline,
                                         const ClientOptions& options);

}  // namespace sluice::http::detail
