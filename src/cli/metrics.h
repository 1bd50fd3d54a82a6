// Where a run's metrics go, as Prometheus text: an endpoint of its own
// (`--metrics-addr 127.0.0.1:9464`: GET /metrics, one small thread, nothing
// else served), a file for node_exporter's textfile collector
// (`--metrics-file`), a Pushgateway (`--metrics-push`); and the process's
// own metrics, which each page ends with.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "sluice/status.h"

namespace sluice::cli {

// The process's own metrics as Prometheus's client libraries name them
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), read from
// /proc, and sluice_build_info.
std::string process_metrics();

// Writes `page` to `path` as node_exporter's textfile collector wants it:
// whole or not at all (a temporary beside it, renamed over it), without the
// process_* metrics (node_exporter has its own by those names).
Status write_metrics_file(const std::string& path, const std::string& page);

// PUTs pages (without process_*, as for the textfile) to a Prometheus
// Pushgateway through sluice's HTTP client, replacing what the group held.
// `url`: the gateway ("http://pushgateway:9091", or https://), to which
// /metrics/job/sluice/instance/<this host>[/shard/<I>] is added, or a URL
// that names its group itself (".../metrics/job/<job>/..."). The client runs
// on a runtime of its own (one event-loop thread): push() blocks, for the
// progress thread, and never waits on the run's event loop.
class MetricsPusher {
 public:
  // kInvalidArgument naming what is wrong with `url`. shard < 0: none.
  static Result<std::unique_ptr<MetricsPusher>> create(const std::string& url, int shard);
  ~MetricsPusher();
  MetricsPusher(const MetricsPusher&) = delete;
  MetricsPusher& operator=(const MetricsPusher&) = delete;

  // kUnavailable naming the gateway when it could not be reached or did
  // not answer 2xx (within 5 s, and one retry).
  Status push(const std::string& page);
  // Where it pushes: the gateway's URL and the group's path.
  const std::string& where() const;

 private:
  struct Impl;
  explicit MetricsPusher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class MetricsServer {
 public:
  // addr: "host:port", the host a name ("localhost"), an IPv4 address or a
  // bracketed IPv6 one ("[::1]"), empty for every address; port 0 for any
  // free one (port() says which). `render` makes the page; it is called on
  // the server's thread.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& addr, std::function<std::string()> render);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render);
  void serve();
  int fd_;
  int port_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::cli
