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

#include "sluice/http/client.h"
#include "sluice/prometheus.h"
#include "sluice/runtime.h"

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

struct MetricsPusher::Impl {
  Runtime rt{{.io_threads = 1, .cpu_threads = 1}};
  std::optional<http::Client> client;
  std::string path;   // the group's
  std::string where;  // for messages: "--metrics-push URL"
};

Result<std::unique_ptr<MetricsPusher>> MetricsPusher::create(const std::string& url, int shard) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("--metrics-push '" + url + "': " + why); };
  auto u = boost::urls::parse_uri(url);
  if (!u) return bad("not a URL");
  if (u->scheme() != "http" && u->scheme() != "https") {
    return bad("expected the http:// or https:// URL of a Pushgateway");
  }
  if (u->host().empty()) return bad("no host");
  auto impl = std::make_unique<Impl>();
  impl->path = std::string(u->encoded_path());
  if (impl->path.find("/metrics/job/") == std::string::npos) {
    while (!impl->path.empty() && impl->path.back() == '/') impl->path.pop_back();
    char host[256] = "unknown";
    ::gethostname(host, sizeof host - 1);
    impl->path += "/metrics/job/sluice/instance/" + std::string(host);
    if (shard >= 0) impl->path += "/shard/" + std::to_string(shard);
  }
  const std::string origin = std::string(u->scheme()) + "://" + std::string(u->encoded_authority());
  impl->where = "--metrics-push " + origin + impl->path;
  http::ClientOptions options{.base_url = origin,
                              .max_connections = 1,
                              .max_idle = 1,
                              .connect_timeout = std::chrono::milliseconds(2000),
                              .read_timeout = std::chrono::milliseconds(5000),
                              .attempt_timeout = std::chrono::milliseconds(5000),
                              .request_timeout = std::chrono::milliseconds(12000),
                              .max_in_flight = 1,
                              .max_body_bytes = 1 << 20};
  options.retry.max_attempts = 2;
  options.outage.enabled = false;  // a gateway that is down fails its push, which the next one tries again
  options.accept_compressed = false;
  auto client = http::Client::create(impl->rt, std::move(options));
  if (!client.ok()) return bad(client.status().message());
  impl->client.emplace(std::move(*client));
  return std::unique_ptr<MetricsPusher>(new MetricsPusher(std::move(impl)));
}

MetricsPusher::MetricsPusher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsPusher::~MetricsPusher() = default;

const std::string& MetricsPusher::where() const { return impl_->where; }

Status MetricsPusher::push(const std::string& page) {
  http::Request request{.method = http::Method::kPut,
                        .path = impl_->path,
                        .path_is_encoded = true,
                        .headers = {{"Content-Type", "text/plain; version=0.0.4"}},
                        .body = without_process_metrics(page)};
  Result<http::Response> answer = impl_->rt.block_on(impl_->client->send(std::move(request)));
  if (!answer.ok()) return Status::Unavailable(impl_->where + ": " + answer.status().message());
  // The gateway answers 200 (or 202 when it takes the push asynchronously).
  if (answer->status < 200 || answer->status > 299) {
    return Status::Unavailable(impl_->where + ": answered " + std::to_string(answer->status) + ": " +
                               answer->body.substr(0, 200));
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
