// A client of HTTP/1.1 written byte by byte on a socket, for tests of
// sluice's server: nothing of sluice's own HTTP code is on its side.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace sluice::pipeline {

struct HttpReply {
  int status = 0;  // 0: no answer (the connection closed first)
  std::string head, body;
};

inline int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the server closes, and splits the answer.
inline HttpReply read_reply(int fd) {
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  HttpReply r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

// One request on a connection of its own (written here, byte for byte, so
// that nothing of sluice's own HTTP code is on the client's side).
inline HttpReply request(std::uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& headers = "") {
  const int fd = connect_to(port);
  if (fd < 0) return {};
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + headers +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t at = 0; at < req.size();) {
    const ssize_t n = ::write(fd, req.data() + at, req.size() - at);
    if (n <= 0) break;
    at += static_cast<std::size_t>(n);
  }
  return read_reply(fd);
}

}  // namespace sluice::pipeline
