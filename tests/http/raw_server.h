// A loopback server whose every connection is handled by a function of the
// test's on a thread of its own: for answers that no real server gives on
// purpose (a close mid-body, a 400 that echoes the request). Tests of the
// HTTP client and of the pipeline share it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::http {

class RawServer {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit RawServer(std::function<void(tcp::socket&)> on_connection)
      : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        handler_(std::move(on_connection)) {
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stopping_) return;
        ++connections_;
        workers_.emplace_back([this, s = std::move(s)]() mutable {
          handler_(s);
          boost::system::error_code ignored;
          s.close(ignored);
          ++closed_;
        });
      }
    });
  }
  ~RawServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes accept()
    thread_.join();
    for (auto& w : workers_) w.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int connections() const { return connections_; }
  int closed() const { return closed_; }  // connections the server has closed

  // Reads one request's head; false at the end of the connection.
  static bool read_request(tcp::socket& s, boost::asio::streambuf& buf) {
    boost::system::error_code ec;
    std::size_t n = boost::asio::read_until(s, buf, "\r\n\r\n", ec);
    if (ec) return false;
    buf.consume(n);
    return true;
  }
  static void write(tcp::socket& s, const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(bytes), ec);
  }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::function<void(tcp::socket&)> handler_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::http
