// https against a TLS server on loopback whose certificate a throwaway CA signed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "sluice/http/client.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A CA, and two server certificates it signed: one for 127.0.0.1 and
// localhost, one for another name only. Made once for the test program.
struct Certificates {
  std::string dir, ca, good_cert, good_key, wrong_cert, wrong_key;
  bool ok = false;

  Certificates() {
    // One directory per process: ctest runs these tests as parallel processes.
    dir = ::testing::TempDir() + "/sluice-tls-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto run = [&](const std::string& cmd) {
      return std::system(("cd '" + dir + "' && " + cmd + " >/dev/null 2>&1").c_str()) == 0;
    };
    std::ofstream(dir + "/good.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
    std::ofstream(dir + "/wrong.ext") << "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n";
    ok = run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=sluice test CA'");
    for (std::string name : {"good", "wrong"}) {
      ok = ok &&
           run("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name + ".csr -subj '/CN=" + name +
               "'") &&
           run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + name +
               ".pem -extfile " + name + ".ext");
    }
    ca = dir + "/ca.pem";
    good_cert = dir + "/good.pem", good_key = dir + "/good.key";
    wrong_cert = dir + "/wrong.pem", wrong_key = dir + "/wrong.key";
  }
};

const Certificates& certs() {
  static const Certificates c;
  return c;
}

// Answers every request with 200 "secure" over TLS, on its own thread.
class TlsServer {
 public:
  TlsServer(const std::string& cert, const std::string& key)
      : ctx_(ssl::context::tls_server), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain_file(cert);
    ctx_.use_private_key_file(key, ssl::context::pem);
    thread_ = std::thread([this] {
      while (!stopping_) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stopping_) return;
        ssl::stream<tcp::socket> tls(std::move(s), ctx_);
        tls.handshake(ssl::stream_base::server, ec);
        if (ec) continue;  // the client refused us: fine, next
        ++handshakes_;
        asio::streambuf buf;
        while (!ec) {
          std::size_t n = asio::read_until(tls, buf, "\r\n\r\n", ec);
          if (ec) break;
          buf.consume(n);
          asio::write(tls, asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")), ec);
        }
      }
    });
  }
  ~TlsServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(acceptor_.local_endpoint().port());
  }
  int handshakes() const { return handshakes_; }

 private:
  asio::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(certs().ok) << "openssl could not make the test certificates"; }
  Runtime rt{{.io_threads = 1, .cpu_threads = 1}};
};

TEST_F(TlsTest, VerifiesAgainstTheGivenCaAndReusesTheConnection) {
  TlsServer server(certs().good_cert, certs().good_key);
  auto c = Client::create(rt, {.base_url = server.url(), .ca_file = certs().ca});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  for (int i = 0; i < 3; ++i) {
    auto r = rt.block_on(c->get("/hello"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->body, "secure");
  }
  EXPECT_EQ(server.handshakes(), 1);
  EXPECT_EQ(c->stats().connections_opened, 1u);
}

TEST_F(TlsTest, FailsWithoutTheCa) {
  TlsServer server(certs().good_cert, certs().good_key);
  auto c = Client::create(rt, {.base_url = server.url(), .retry = {.max_attempts = 1}});  // the system's CAs only
  ASSERT_TRUE(c.ok());
  auto r = rt.block_on(c->get("/hello"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake: certificate verify failed"), std::string::npos)
      << r.status().message();
  const ClientStats st = c->stats();
  EXPECT_EQ(st.attempts, 1u) << "an attempt that could not connect is an attempt";
  EXPECT_EQ(st.retries, 0u);

  // With retries, and an outage once every request fails: the counts add up,
  // and the time down is the wall clock's, not the requests' waits summed.
  auto retried = Client::create(rt, {.base_url = server.url(),
                                     .max_in_flight = 4,
                                     .retry = {.max_attempts = 3, .base_backoff = 1ms},
                                     .outage = {.failures = 2, .probe_after = 10ms, .give_up_after = 300ms}});
  ASSERT_TRUE(retried.ok());
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::future<Result<Response>>> all;
  for (int i = 0; i < 4; ++i) {
    all.push_back(std::async(std::launch::async, [&] { return rt.block_on(retried->get("/hello")); }));
  }
  for (auto& f : all) ASSERT_FALSE(f.get().ok());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  const ClientStats rs = retried->stats();
  EXPECT_GT(rs.attempts, rs.retries) << "a retry is counted when it is made";
  EXPECT_LE(rs.attempts, rs.requests + rs.retries + rs.outage_probes) << "every try counted, once";
  EXPECT_LE(rs.outage_ms, static_cast<std::uint64_t>(took.count())) << "down no longer than the run took";
}

TEST_F(TlsTest, FailsWhenTheCertificateNamesAnotherHost) {
  TlsServer server(certs().wrong_cert, certs().wrong_key);
  auto c = Client::create(rt, {.base_url = server.url(), .ca_file = certs().ca, .retry = {.max_attempts = 1}});
  ASSERT_TRUE(c.ok());
  auto r = rt.block_on(c->get("/hello"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().message();
}

TEST_F(TlsTest, MissingCaFileIsAClearError) {
  auto c = Client::create(rt, {.base_url = "https://127.0.0.1:1", .ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("ca_file '/nonexistent/ca.pem'"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace sluice::http
