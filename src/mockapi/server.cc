#include "server.h"

#include <zlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sluice/detail/listen.h"
#include "sluice/detail/mutex.h"
#include "workload.h"

namespace sluice::mockapi {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::deferred);

enum class Fault { kNone, k500, k429, kMalformed, kTruncated, kSlowBody, kClose };

struct Answer {
  int status = 200;
  std::string body;
  Fault fault = Fault::kNone;
};

std::uint64_t hash_string(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = mix(seed);
  for (unsigned char c : s) h = mix(h ^ c);
  return h;
}

// `in` as a gzip member, compressed at level 1.
std::string gzip_level1(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);  // deflateBound leaves room for all of it: one call ends the stream
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

double unit_interval(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Parses a whole decimal number.
bool parse_uint(std::string_view s, std::uint64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  Mutex mu;
  std::unordered_map<std::string, std::uint32_t> attempts SLUICE_GUARDED_BY(mu);  // per path, for faults
  std::atomic<std::uint64_t> connections{0}, requests{0}, ok{0}, not_found{0}, faults{0}, outage_answers{0}, gzipped{0};
  std::atomic<bool> stopped{false};
  // The outage: set by the request that starts it (steady clock ticks; 0: not yet).
  std::atomic<std::int64_t> outage_began{0};

  // Whether the API is down now; `request` counts this request (from 1), or
  // is 0 for a new connection.
  bool in_outage(std::uint64_t request) {
    const OutageOptions& o = options.outage;
    if (o.after == 0) return false;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::int64_t began = outage_began.load();
    if (began == 0) {
      if (request < o.after) return false;
      outage_began.compare_exchange_strong(began, now);
      began = outage_began.load();
    }
    return now - began < std::chrono::duration_cast<std::chrono::steady_clock::duration>(o.duration).count();
  }

  // An item of the permanent fault: every request about it answers 500.
  bool always_fails(std::string_view target) const {
    const std::uint64_t every = options.faults.fail_ids_every;
    if (every == 0) return false;
    constexpr std::string_view kPrefix = "/v1/items/";
    if (!target.starts_with(kPrefix)) return false;
    target.remove_prefix(kPrefix.size());
    std::uint64_t id = 0;
    return parse_uint(target.substr(0, target.find_first_of("/?")), id) && id % every == 0;
  }

  explicit Impl(ServerOptions o) : options(std::move(o)), io(options.threads) {}

  // The answer to GET `target`, before faults.
  Answer route(std::string_view target) const {
    Answer a;
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query = target.size() > path.size() ? target.substr(path.size() + 1) : std::string_view();
    constexpr std::string_view kPrefix = "/v1/items/";
    std::uint64_t id = 0;
    if (!path.starts_with(kPrefix)) return not_found_answer();
    path.remove_prefix(kPrefix.size());
    std::string_view id_text = path.substr(0, path.find('/'));
    if (!parse_uint(id_text, id) || id == 0 || (options.max_id != 0 && id > options.max_id)) return not_found_answer();
    std::string_view rest = path.substr(id_text.size());
    if (rest.empty()) {
      append_item_json(id, a.body);
      return a;
    }
    if (rest == "/pages") {
      append_pages_json(id, a.body);
      return a;
    }
    std::uint64_t page = 0;
    if (rest != "/events" || !query.starts_with("page=") || !parse_uint(query.substr(5), page) ||
        page >= pages_of(id)) {
      return not_found_answer();
    }
    a.body.reserve(9000 + options.pad_bytes);
    append_events_json(id, page, a.body);
    if (options.pad_bytes > 0) {  // {"id":...,"events":[...]} -> {...,"pad":"xxx..."}: large answers, same data
      a.body.pop_back();
      a.body.append(",\"pad\":\"").append(options.pad_bytes, 'x').append("\"}");
    }
    return a;
  }

  static Answer not_found_answer() { return {404, "{\"error\":\"not found\"}", Fault::kNone}; }

  // The fault, if any, for this attempt at `target`.
  Fault pick_fault(std::string_view target) {
    const FaultOptions& f = options.faults;
    const double total = f.error_500 + f.too_many + f.malformed + f.truncated + f.slow_body + f.close;
    if (total <= 0) return Fault::kNone;
    std::uint32_t n;
    {
      MutexLock lock(mu);
      n = attempts[std::string(target)]++;
    }
    if (static_cast<int>(n) >= f.max_faults_per_path) return Fault::kNone;
    double u = unit_interval(hash_string(target, f.seed ^ (0x9E37ULL * (n + 1))));
    const std::pair<double, Fault> table[] = {{f.error_500, Fault::k500},       {f.too_many, Fault::k429},
                                              {f.malformed, Fault::kMalformed}, {f.truncated, Fault::kTruncated},
                                              {f.slow_body, Fault::kSlowBody},  {f.close, Fault::kClose}};
    for (const auto& [p, fault] : table) {
      if (u < p) return fault;
      u -= p;
    }
    return Fault::kNone;
  }

  std::chrono::microseconds delay_for(std::string_view target) const {
    if (options.jitter.count() == 0) return options.latency;
    std::uint64_t h = hash_string(target, options.faults.seed ^ 0x5EED);
    return options.latency + std::chrono::microseconds(h % static_cast<std::uint64_t>(options.jitter.count() + 1));
  }

  static std::string head(int status, std::size_t length, bool keep_alive, int retry_after, bool gzipped = false) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n";
    if (gzipped) h += "Content-Encoding: gzip\r\n";
    if (retry_after >= 0) h += "Retry-After: " + std::to_string(retry_after) + "\r\n";
    if (!keep_alive) h += "Connection: close\r\n";
    return h + "\r\n";
  }

  // The answer to a GET of `target` with its fault applied to it (a fault
  // that is a way of writing, truncated or slow, is left to write()),
  // counted; gzipped when the server gzips and the request accepts it.
  Answer answer_to(const http::request<http::empty_body>& req, std::string_view target, int& retry_after) {
    Answer a = req.method() == http::verb::get ? route(target) : not_found_answer();
    if (a.status == 200 && always_fails(target)) {
      a = {500, "{\"error\":\"this item always fails\"}", Fault::kNone};
    } else if (a.status == 200) {
      a.fault = pick_fault(target);
    }
    switch (a.fault) {
      case Fault::k500:
        a.status = 500, a.body = "{\"error\":\"injected\"}";
        break;
      case Fault::k429:
        a.status = 429, a.body = "{\"error\":\"slow down\"}";
        retry_after = options.faults.retry_after_seconds;
        break;
      case Fault::kMalformed:
        a.body.resize(a.body.size() / 2);
        break;  // cut JSON, honest length
      case Fault::kNone:
      case Fault::kClose:
      case Fault::kTruncated:
      case Fault::kSlowBody:
        break;
    }
    if (a.fault != Fault::kNone || a.status == 500) {
      faults.fetch_add(1, std::memory_order_relaxed);
    } else if (a.status == 200) {
      ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      not_found.fetch_add(1, std::memory_order_relaxed);
    }
    return a;
  }

  // Writes `a` after its head (in `out`) as its fault says: whole, half of
  // it and then the connection closed, or a quarter at a time. False: the
  // connection is done.
  asio::awaitable<bool> write(tcp::socket& socket, asio::steady_timer& timer, const Answer& a, std::string& out) {
    if (a.fault == Fault::kTruncated) {
      out.append(a.body, 0, a.body.size() / 2);
      co_await asio::async_write(socket, asio::buffer(out), use_tuple);
      co_return false;
    }
    if (a.fault == Fault::kSlowBody) {
      co_await asio::async_write(socket, asio::buffer(out), use_tuple);
      const std::size_t piece = (a.body.size() + 3) / 4;
      for (std::size_t at = 0; at < a.body.size(); at += piece) {
        timer.expires_after(options.faults.trickle_interval);
        co_await timer.async_wait(use_tuple);
        auto [wec, wn] = co_await asio::async_write(
            socket, asio::buffer(a.body.data() + at, std::min(piece, a.body.size() - at)), use_tuple);
        if (wec) co_return false;
      }
      co_return true;
    }
    out += a.body;
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(out), use_tuple);
    co_return !wec;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    connections.fetch_add(1, std::memory_order_relaxed);
    boost::beast::flat_buffer buffer;
    asio::steady_timer timer(socket.get_executor());
    std::string out;
    for (;;) {
      http::request<http::empty_body> req;
      auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
      if (ec) break;
      const std::uint64_t nth = requests.fetch_add(1, std::memory_order_relaxed) + 1;
      const std::string_view target(req.target().data(), req.target().size());
      const bool keep_alive = req.keep_alive();
      if (in_outage(nth)) {
        outage_answers.fetch_add(1, std::memory_order_relaxed);
        if (options.outage.close) break;
        out = head(503, 0, keep_alive, -1);
        auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(out), use_tuple);
        if (wec || !keep_alive) break;
        continue;
      }
      int retry_after = -1;
      Answer a = answer_to(req, target, retry_after);
      if (auto d = delay_for(target); d.count() > 0) {
        timer.expires_after(d);
        co_await timer.async_wait(use_tuple);
      }
      if (a.fault == Fault::kClose) co_return;  // the socket closes as the frame ends
      bool gzipped = false;
      if (options.gzip && !a.body.empty() &&
          std::string_view(req[http::field::accept_encoding]).find("gzip") != std::string_view::npos) {
        a.body = gzip_level1(a.body);
        gzipped = true;
        this->gzipped.fetch_add(1, std::memory_order_relaxed);
      }
      out = head(a.status, a.body.size(), keep_alive, retry_after, gzipped);
      if (!co_await write(socket, timer, a, out) || !keep_alive) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), use_tuple);
      if (ec) {
        if (stopped.load()) co_return;
        continue;  // e.g. too many open files: keep serving the others
      }
      if (options.outage.close && in_outage(0)) {  // down: new connections are closed at once
        outage_answers.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto ex = socket.get_executor();
      asio::co_spawn(ex, session(std::move(socket)), asio::detached);
    }
  }
};

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
  const FaultOptions& f = options.faults;
  for (double p : {f.error_500, f.too_many, f.malformed, f.truncated, f.slow_body, f.close}) {
    if (p < 0 || p > 1) return Status::InvalidArgument("fault fractions must be between 0 and 1");
  }
  if (f.error_500 + f.too_many + f.malformed + f.truncated + f.slow_body + f.close > 1) {
    return Status::InvalidArgument("fault fractions add up to more than 1");
  }
  if (options.threads < 1 || options.threads > 64) return Status::InvalidArgument("threads: expected 1 to 64");
  auto impl = std::make_unique<Impl>(std::move(options));
  SLUICE_RETURN_IF_ERROR(detail::listen_on(impl->acceptor, impl->options.address, impl->options.port), "address");
  asio::co_spawn(impl->io, impl->accept_loop(), asio::detached);
  for (int i = 0; i < impl->options.threads; ++i) impl->threads.emplace_back([io = &impl->io] { io->run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string Server::base_url() const { return "http://" + impl_->options.address + ":" + std::to_string(port()); }

ServerStats Server::stats() const {
  return {impl_->connections.load(), impl_->requests.load(),       impl_->ok.load(),     impl_->not_found.load(),
          impl_->faults.load(),      impl_->outage_answers.load(), impl_->gzipped.load()};
}

void Server::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->io.stop();  // abandons every session; their sockets close as their frames are destroyed
  for (auto& t : impl_->threads) t.join();
}

}  // namespace sluice::mockapi
