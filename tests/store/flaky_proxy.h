// A TCP proxy on loopback that can be taken down and brought back: while
// down it cuts every connection it carries and closes new ones at once,
// as an endpoint does when it restarts or a load balancer loses it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/detail/mutex.h"

namespace sluice::testing {

class FlakyProxy {
 public:
  explicit FlakyProxy(std::uint16_t upstream_port) : upstream_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 128);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FlakyProxy() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    cut_all();
    for (auto& t : pumps_) t.join();
    for (int fd : closing_) ::close(fd);
    ::close(listener_);
  }

  std::uint16_t port() const { return port_; }
  std::uint64_t bytes_up() const { return bytes_up_; }  // carried toward the upstream so far
  int refused() const { return refused_; }              // connections closed at once while down

  void set_down(bool down) {
    down_ = down;
    if (down) cut_all();
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    for (;;) {
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      if (stopping_) {
        ::close(client);
        return;
      }
      if (down_) {
        ++refused_;
        ::close(client);
        continue;
      }
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = loopback(upstream_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      {
        MutexLock lock(mu_);
        open_.insert(client);
        open_.insert(server);
      }
      pumps_.emplace_back([this, client, server] { pump(client, server, &bytes_up_); });
      pumps_.emplace_back([this, client, server] { pump(server, client, nullptr); });
    }
  }

  // Copies from `from` to `to` until either side ends, then ends both.
  void pump(int from, int to, std::atomic<std::uint64_t>* counter) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (counter) *counter += static_cast<std::uint64_t>(n);
      if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
    MutexLock lock(mu_);
    if (open_.erase(from)) closing_.push_back(from);
    if (open_.erase(to)) closing_.push_back(to);
  }

  // Ends every connection carried now (each pump then sees its end).
  void cut_all() {
    MutexLock lock(mu_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }

  std::uint16_t upstream_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> down_{false}, stopping_{false};
  std::atomic<int> refused_{0};
  std::atomic<std::uint64_t> bytes_up_{0};
  Mutex mu_;
  std::set<int> open_ SLUICE_GUARDED_BY(mu_);
  std::vector<int> closing_ SLUICE_GUARDED_BY(mu_);  // closed when the proxy goes (their numbers stay unused meanwhile)
  std::thread acceptor_;
  std::vector<std::thread> pumps_;

 public:
  FlakyProxy(const FlakyProxy&) = delete;
  FlakyProxy& operator=(const FlakyProxy&) = delete;
};

}  // namespace sluice::testing
