#include "metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/url/parse.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "sluice/prometheus.h"

namespace sluice::cli {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& addr,
                                                            std::function<std::string()> render) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--metrics-addr '" + addr + "': " + why +
                                   " (expected HOST:PORT: a name, an IPv4 address or [an IPv6 one])");
  };
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  std::string host = addr.substr(0, colon);
  const std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return bad("an IPv6 address goes in brackets");
  }
  char* end = nullptr;
  const long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || number < 0 || number > 65535) return bad("'" + port + "' is not a port");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int e = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found); e != 0) {
    return bad("'" + host + "': " + ::gai_strerror(e));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(found, &::freeaddrinfo);
  // The first address the name has that can be listened on.
  int err = 0;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
      err = errno;
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    const int at = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                                               : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
    return std::unique_ptr<MetricsServer>(new MetricsServer(fd, at, std::move(render)));
  }
  return Status::Unavailable("--metrics-addr " + addr + ": cannot listen: " + errno_text(err));
}

namespace {

std::string read_file(const char* path) {
  std::string text;
  if (std::FILE* f = std::fopen(path, "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

}  // namespace

std::string process_metrics() {
  PrometheusText page;
  auto metric = [&page](const char* name, const char* type, const char* help, const std::string& value) {
    page.family(name, type, help);
    page.sample(name, {}, std::string_view(value));
  };
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  // /proc/self/stat: the fields after the command's closing parenthesis,
  // from the third (state): utime is the 14th field, stime the 15th,
  // starttime (ticks after boot) the 22nd.
  const std::string stat = read_file("/proc/self/stat");
  const auto paren = stat.rfind(')');
  std::vector<std::string> fields;
  for (std::size_t at = paren == std::string::npos ? stat.size() : paren + 2; at < stat.size();) {
    const auto space = stat.find(' ', at);
    fields.push_back(stat.substr(at, space - at));
    at = space == std::string::npos ? stat.size() : space + 1;
  }
  auto field = [&](std::size_t n) { return n - 3 < fields.size() ? std::strtod(fields[n - 3].c_str(), nullptr) : 0.0; };
  char number[64];
  std::snprintf(number, sizeof number, "%.2f", (field(14) + field(15)) / tick);
  metric("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.", number);
  const std::string statm = read_file("/proc/self/statm");
  const double pages = std::strtod(statm.substr(statm.find(' ') + 1).c_str(), nullptr);
  std::snprintf(number, sizeof number, "%.0f", pages * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", number);
  std::size_t fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) fds += e->d_name[0] != '.';
    ::closedir(d);
    --fds;  // the directory's own
  }
  metric("process_open_fds", "gauge", "Number of open file descriptors.", std::to_string(fds));
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", std::to_string(limit.rlim_cur));
  // Boot time (btime in /proc/stat) plus the start's ticks after boot.
  const std::string proc = read_file("/proc/stat");
  const auto btime = proc.find("\nbtime ");
  const double boot = btime == std::string::npos ? 0 : std::strtod(proc.c_str() + btime + 7, nullptr);
  std::snprintf(number, sizeof number, "%.2f", boot + field(22) / tick);
  metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", number);
  page.family("sluice_build_info", "gauge", "sluice's version, as a label; always 1.");
  page.sample("sluice_build_info", {{"version", SLUICE_VERSION}}, std::uint64_t{1});
  return std::move(page).text();
}

namespace {
// Every family of the page but process_*: a family is its # HELP line and
// what follows up to the next one.
std::string without_process_metrics(const std::string& page) {
  std::string kept;
  for (std::size_t at = 0; at < page.size();) {
    std::size_t next = page.find("\n# HELP ", at);
    next = next == std::string::npos ? page.size() : next + 1;
    if (page.compare(at, 15, "# HELP process_") != 0) kept.append(page, at, next - at);
    at = next;
  }
  return kept;
}
}  // namespace

Result<PushTarget> push_target(const std::string& url, int shard) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("--metrics-push '" + url + "': " + why); };
  auto u = boost::urls::parse_uri(url);
  if (!u) return bad("not a URL");
  if (u->scheme() != "http") return bad("expected an http:// URL of a Pushgateway");
  if (u->host().empty()) return bad("no host");
  PushTarget t{.host = std::string(u->host()),
               .port = u->has_port() ? std::string(u->port()) : "80",
               .path = std::string(u->encoded_path())};
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  if (t.path.find("/metrics/job/") == std::string::npos) {
    while (!t.path.empty() && t.path.back() == '/') t.path.pop_back();
    char host[256] = "unknown";
    ::gethostname(host, sizeof host - 1);
    t.path += "/metrics/job/sluice/instance/" + std::string(host);
    if (shard >= 0) t.path += "/shard/" + std::to_string(shard);
  }
  return t;
}

Status push_metrics(const PushTarget& to, const std::string& page) {
  const std::string body = without_process_metrics(page);
  const std::string where = "--metrics-push http://" + to.host + ":" + to.port + to.path;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = ::getaddrinfo(to.host.c_str(), to.port.c_str(), &hints, &found); e != 0) {
    return Status::Unavailable(where + ": " + ::gai_strerror(e));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(found, &::freeaddrinfo);
  int fd = -1;
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) return Status::Unavailable(where + ": cannot connect: " + errno_text(errno));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string request =
      "PUT " + to.path + " HTTP/1.1\r\nHost: " + to.host + ":" + to.port +
      "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  for (std::size_t at = 0; at < request.size();) {
    ssize_t n = ::send(fd, request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return Status::Unavailable(where + ": the request could not be sent: " + errno_text(errno));
    }
    at += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[1024];
  for (ssize_t n; answer.find("\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK": 2xx is taken (the gateway answers 200 or 202).
  if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0 || answer[9] != '2') {
    return Status::Unavailable(where + ": answered " + answer.substr(0, answer.find("\r\n")));
  }
  return Status();
}

Status write_metrics_file(const std::string& path, const std::string& page) {
  const std::string kept = without_process_metrics(page);
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(temp.c_str(), "w");
  if (f == nullptr) return Status::IoError("--metrics-file: cannot create " + temp + ": " + errno_text(errno));
  const bool written = std::fwrite(kept.data(), 1, kept.size(), f) == kept.size();
  if (std::fclose(f) != 0 || !written) {
    std::remove(temp.c_str());
    return Status::IoError("--metrics-file: cannot write " + temp);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    Status s = Status::IoError("--metrics-file: cannot rename " + temp + " to " + path + ": " + errno_text(errno));
    std::remove(temp.c_str());
    return s;
  }
  return Status();
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
