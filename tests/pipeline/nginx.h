// A real nginx (Debian's, installed by scripts/setup.sh) on loopback,
// serving static copies of the reference workload's answers, with the
// keep-alive idle timeout a test asks for.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "../../src/mockapi/workload.h"

namespace sluice::testing {

class Nginx {
 public:
  // Serves /v1/items/{id} and /v1/items/{id}/events?page=p for ids 1..n
  // from files under `dir`. Check ok() before use.
  Nginx(const std::string& dir, std::uint64_t n, const std::string& keepalive_timeout) : dir_(dir) {
    namespace fs = std::filesystem;
    fs::create_directories(dir_ + "/www/items");
    fs::create_directories(dir_ + "/www/events");
    fs::create_directories(dir_ + "/tmp");
    for (std::uint64_t id = 1; id <= n; ++id) {
      std::string body;
      mockapi::append_item_json(id, body);
      std::ofstream(dir_ + "/www/items/" + std::to_string(id) + ".json") << body;
      for (std::uint64_t p = 0; p < mockapi::pages_of(id); ++p) {
        body.clear();
        mockapi::append_events_json(id, p, body);
        std::ofstream(dir_ + "/www/events/" + std::to_string(id) + "-" + std::to_string(p) + ".json") << body;
      }
    }
    port_ = free_port();
    std::ofstream(dir_ + "/nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << dir_ << "/nginx.pid;\n"
        << "error_log " << dir_ << "/error.log warn;\n"
        << "events { worker_connections 4096; }\n"
        << "http {\n  access_log off;\n  default_type application/json;\n"
        << "  client_body_temp_path " << dir_ << "/tmp/body;\n  proxy_temp_path " << dir_ << "/tmp/proxy;\n"
        << "  fastcgi_temp_path " << dir_ << "/tmp/fastcgi;\n  uwsgi_temp_path " << dir_ << "/tmp/uwsgi;\n"
        << "  scgi_temp_path " << dir_ << "/tmp/scgi;\n"
        << "  keepalive_timeout " << keepalive_timeout << ";\n"
        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << dir_ << "/www;\n"
        << "    location ~ ^/v1/items/(\\d+)$ { try_files /items/$1.json =404; }\n"
        << "    location ~ ^/v1/items/(\\d+)/events$ { try_files /events/$1-$arg_page.json =404; }\n"
        << "  }\n}\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/sbin/nginx", "nginx", "-p", dir_.c_str(), "-e", (dir_ + "/error.log").c_str(), "-c",
              (dir_ + "/nginx.conf").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready once it accepts connections (or gone if it failed to start).
    for (int i = 0; i < 1000 && !ok_; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      ok_ = accepts();
      if (!ok_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Nginx() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  bool ok() const { return ok_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string error_log() const {
    std::ifstream in(dir_ + "/error.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  // A port nothing listens on now (the kernel's pick).
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  bool accepts() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(port_);
    const bool yes = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return yes;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
};

}  // namespace sluice::testing
