#include "metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::cli {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& addr,
                                                            std::function<std::string()> render) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--metrics-addr '" + addr + "': expected HOST:PORT");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const std::string host = addr.substr(0, colon);
  if (::inet_pton(AF_INET, host.empty() ? "0.0.0.0" : host.c_str(), &sa.sin_addr) != 1) {
    return Status::InvalidArgument("--metrics-addr '" + addr + "': '" + host + "' is not an IPv4 address");
  }
  char* end = nullptr;
  long port = std::strtol(addr.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return Status::InvalidArgument("--metrics-addr '" + addr + "': bad port");
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    Status s = Status::Unavailable("--metrics-addr " + addr + ": cannot listen: " + errno_text(errno));
    ::close(fd);
    return s;
  }
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(sa.sin_port), std::move(render)));
}

MetricsServer::MetricsServer(int fd, int port, std::function<std::string()> render)
    : fd_(fd), port_(port), render_(std::move(render)), thread_([this] { serve(); }) {}

MetricsServer::~MetricsServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void MetricsServer::serve() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[2048];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
    }
    const bool ok = req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?") || req.starts_with("GET / ");
    const std::string body = ok ? render_() : "not found: try /metrics\n";
    std::string resp = std::string(ok ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
                       "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    for (std::size_t at = 0; at < resp.size();) {
      ssize_t n = ::send(c, resp.data() + at, resp.size() - at, MSG_NOSIGNAL);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::close(c);
  }
}

}  // namespace sluice::cli
