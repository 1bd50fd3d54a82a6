#include "pool.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

namespace sluice::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// An idle HTTP/1.1 connection has nothing to read: if it is readable, the
// server closed it (end of file, or a TLS close_notify) or sent what no
// request asked for (a 408 before it closes). One non-blocking peek.
bool still_open(Connection& c) {
  char byte = 0;
  const ssize_t n = ::recv(c.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<Connection>>> ConnectionPool::checkout(Clock::time_point deadline, Reuse reuse) {
  while (reuse == Reuse::kIdleFirst) {
    std::unique_ptr<Connection> c;
    {
      MutexLock lock(mu_);
      if (idle_.empty()) break;
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    const auto idle = Clock::now() - c->idle_since;
    if (idle >= options_.idle_timeout) continue;  // ours to close: no need to look
    if (idle < c->idle_limit && still_open(*c)) {
      c->reused = true;
      co_return c;
    }
    stale_.fetch_add(1, std::memory_order_relaxed);  // closed here, as it goes out of scope
  }
  auto ex = rt_.executor();
  std::optional<tcp::resolver::results_type> eps;
  {
    MutexLock lock(mu_);
    eps = endpoints_;
  }
  const std::string& host = origin_.host();
  if (!eps) {
    tcp::resolver resolver(ex);
    auto [ec, results] = co_await resolver.async_resolve(host, origin_.port(), asio::as_tuple(asio::deferred));
    if (ec) co_return Status::Unavailable("cannot resolve " + host + ": " + ec.message());
    eps = results;
    MutexLock lock(mu_);
    endpoints_ = results;
  }
  auto c = origin_.tls() ? std::make_unique<Connection>(ex, *origin_.tls()) : std::make_unique<Connection>(ex);
  const auto connect_bound = std::min<Clock::duration>(options_.connect_timeout, deadline - Clock::now());
  c->tcp().expires_after(connect_bound);
  // Beast 1.81's range connect predates asio::deferred; use_awaitable works.
  auto [ec, ep] = co_await c->tcp().async_connect(*eps, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    MutexLock lock(mu_);
    endpoints_.reset();  // resolve again next time
    if (ec == beast::error::timeout) co_return Status::DeadlineExceeded("connect timed out");
    co_return Status::Unavailable("connect: " + ec.message());
  }
  c->tcp().socket().set_option(tcp::no_delay(true), ec);
  if (c->secure) {
    // SNI, then verification of the chain and of the host name.
    if (!SSL_set_tlsext_host_name(c->secure->native_handle(), host.c_str())) {
      co_return Status::Unavailable("TLS: cannot set the server name");
    }
    c->secure->set_verify_mode(asio::ssl::verify_peer);
    c->secure->set_verify_callback(asio::ssl::host_name_verification(host));
    c->tcp().expires_after(connect_bound);
    auto [hec] =
        co_await c->secure->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (hec) {
      if (hec == beast::error::timeout) co_return Status::DeadlineExceeded("TLS handshake timed out");
      co_return Status::Unavailable("TLS handshake: " + hec.message());
    }
  }
  // The connect deadline must not outlive the connect: Beast applies an
  // expiry to every later operation until it is changed. Exchanges have
  // their own watchdog.
  c->tcp().expires_never();
  opened_.fetch_add(1, std::memory_order_relaxed);
  co_return c;
}

void ConnectionPool::checkin(std::unique_ptr<Connection> c, std::optional<std::chrono::milliseconds> announced) {
  c->idle_since = Clock::now();
  // The server's clock started as it sent the answer's last byte, a little
  // before ours: 80 % of what it announced keeps clear of its close.
  if (announced) c->idle_limit = *announced * 4 / 5;
  MutexLock lock(mu_);
  if (closed_ || idle_.size() >= options_.max_idle) return;  // closed as it goes
  idle_.push_back(std::move(c));
}

void ConnectionPool::close() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    MutexLock lock(mu_);
    closed_ = true;
    closing.swap(idle_);
  }
}

}  // namespace sluice::http::detail
