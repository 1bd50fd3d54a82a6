// A loopback HTTP server standing in for an AWS endpoint that hands out
// credentials (STS, the container endpoint, IMDS): it records every request
// and answers as the test's handler says. Written on plain sockets, so that
// nothing of sluice's HTTP code is on the server's side. One connection at a
// time, each closed after its answer.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::s3 {

struct SeenRequest {
  std::string method, target, head, body;

  // A header's value (name in any case), or empty.
  std::string header(std::string name) const {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::size_t at = head.find("\r\n");
    while (at != std::string::npos && at + 2 < head.size()) {
      const std::size_t end = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      const std::size_t colon = line.find(':');
      std::string key = line.substr(0, colon);
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
      if (colon != std::string::npos && key == name) {
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      at = end;
    }
    return "";
  }
};

struct FakeReply {
  int status = 200;
  std::string body;
};

class FakeAws {
 public:
  explicit FakeAws(std::function<FakeReply(const SeenRequest&)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAws() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  FakeAws(const FakeAws&) = delete;
  FakeAws& operator=(const FakeAws&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve() {
    for (;;) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string raw;
      char buf[8192];
      std::size_t head_end = std::string::npos, want = 0;
      for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;) {
        raw.append(buf, static_cast<std::size_t>(n));
        if (head_end == std::string::npos && (head_end = raw.find("\r\n\r\n")) != std::string::npos) {
          SeenRequest probe{.head = raw.substr(0, head_end)};
          const std::string cl = probe.header("content-length");
          want = head_end + 4 + (cl.empty() ? 0 : std::stoul(cl));
        }
        if (head_end != std::string::npos && raw.size() >= want) break;
      }
      if (head_end != std::string::npos) {
        SeenRequest r{.head = raw.substr(0, head_end), .body = raw.substr(head_end + 4)};
        const std::size_t sp1 = r.head.find(' '), sp2 = r.head.find(' ', sp1 + 1);
        r.method = r.head.substr(0, sp1);
        r.target = r.head.substr(sp1 + 1, sp2 - sp1 - 1);
        {
          std::lock_guard lock(mu_);
          seen_.push_back(r);
        }
        const FakeReply reply = handler_(r);
        const std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                                " X\r\nConnection: close\r\nContent-Length: " + std::to_string(reply.body.size()) +
                                "\r\n\r\n" + reply.body;
        for (std::size_t at = 0; at < out.size();) {
          const ssize_t n = ::write(c, out.data() + at, out.size() - at);
          if (n <= 0) break;
          at += static_cast<std::size_t>(n);
        }
      }
      ::close(c);
    }
  }

  std::function<FakeReply(const SeenRequest&)> handler_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

}  // namespace sluice::s3
