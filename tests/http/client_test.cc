#include "sluice/http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "../../src/mockapi/server.h"
#include "../../src/mockapi/workload.h"
#include "gzip_util.h"
#include "raw_server.h"
#include "sluice/byte_budget.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using mockapi::FaultOptions;
using mockapi::Server;
using mockapi::ServerOptions;

// Holds server threads until the test opens it: an answer that comes only
// when the test has seen what it waits for, however slow the machine.
class Gate {
 public:
  void wait() const { opened_.wait(); }
  void open() {
    std::call_once(once_, [this] { promise_.set_value(); });
  }
  // Opens the gate when it goes out of scope: declared after the server, so
  // that a test ending early does not leave the server's threads waiting.
  auto opener() {
    struct Opener {
      Gate& g;
      ~Opener() { g.open(); }
    };
    return Opener{*this};
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_ = promise_.get_future().share();
  std::once_flag once_;
};

std::string item_body(std::uint64_t id) {
  std::string s;
  mockapi::append_item_json(id, s);
  return s;
}

class ClientTest : public ::testing::Test {
 protected:
  Runtime rt{{.io_threads = 1, .cpu_threads = 1}};

  Client make(ClientOptions o) {
    auto c = Client::create(rt, std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return *c;
  }
  Result<Response> get(Client& c, std::string path, std::vector<std::pair<std::string, std::string>> q = {}) {
    return rt.block_on(c.get(std::move(path), std::move(q)));
  }
  // Runs n requests at once; their results in order.
  std::vector<Result<Response>> get_many(Client& c, int n, std::function<std::string(int)> path) {
    auto one = [](Client c, std::string p) -> asio::awaitable<std::optional<Result<Response>>> {
      co_return co_await c.get(std::move(p));
    };
    std::vector<std::future<std::optional<Result<Response>>>> fs;
    for (int i = 0; i < n; ++i) fs.push_back(asio::co_spawn(rt.executor(), one(c, path(i)), asio::use_future));
    std::vector<Result<Response>> out;
    for (auto& f : fs) out.push_back(std::move(*f.get()));
    return out;
  }
};

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  auto server = *Server::start({});
  Client c = make({.base_url = server->base_url()});
  for (int id = 1; id <= 50; ++id) {
    auto r = get(c, "/v1/items/" + std::to_string(id));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, item_body(static_cast<std::uint64_t>(id)));
  }
  EXPECT_EQ(server->stats().connections, 1u);
  EXPECT_EQ(c.stats().connections_opened, 1u);
  EXPECT_EQ(c.stats().succeeded, 50u);
}

TEST_F(ClientTest, PoolNeverOpensMoreThanMaxConnections) {
  auto server = *Server::start({.latency = 5ms});
  Client c = make({.base_url = server->base_url(), .max_connections = 4});
  auto results = get_many(c, 100, [](int i) { return "/v1/items/" + std::to_string(i + 1); });
  for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_LE(server->stats().connections, 4u);
  EXPECT_EQ(server->stats().connections, 4u) << "the limit was never reached; the test proves nothing";
}

TEST_F(ClientTest, InFlightLimitSpacesRequestsOut) {
  auto server = *Server::start({.latency = 20ms});
  Client c = make({.base_url = server->base_url(), .max_in_flight = 3});
  auto start = std::chrono::steady_clock::now();
  auto results = get_many(c, 30, [](int i) { return "/v1/items/" + std::to_string(i + 1); });
  for (auto& r : results) ASSERT_TRUE(r.ok());
  // 30 requests, 3 at a time, 20 ms each: at least 10 rounds.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(c.stats().in_flight, 0u);
}

TEST_F(ClientTest, ServerThatNeverAnswersHitsTheReadTimeout) {
  Gate answer;
  RawServer silent([&](tcp::socket& s) {
    asio::streambuf buf;
    RawServer::read_request(s, buf);
    answer.wait();  // not before the client has given up
  });
  auto open_at_end = answer.opener();
  Client c = make({.base_url = silent.url(), .read_timeout = 200ms, .retry = {.max_attempts = 1}});
  auto r = get(c, "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "GET " + silent.url() + "/x: attempt 1: no bytes for read_timeout");
}

TEST_F(ClientTest, SlowBodyHitsTheTotalDeadline) {
  // A piece of the body every 500 ms (four pieces): each read is well within
  // read_timeout, so only the total deadline can end the request early.
  auto server = *Server::start({.faults = {.slow_body = 1.0, .trickle_interval = 500ms, .max_faults_per_path = 10}});
  Client c = make({.base_url = server->base_url(), .read_timeout = 5s, .request_timeout = 250ms});
  auto r = get(c, "/v1/items/1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("request_timeout"), std::string::npos) << r.status().message();
}

TEST_F(ClientTest, ClosedMidBodyIsAnErrorAndARetrySucceeds) {
  auto server = *Server::start({.faults = {.truncated = 1.0, .max_faults_per_path = 1}});
  Client once = make({.base_url = server->base_url(), .retry = {.max_attempts = 1}});
  auto r = get(once, "/v1/items/1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("attempt 1: reading the answer"), std::string::npos) << r.status().message();
  Client retrying = make({.base_url = server->base_url(), .retry = {.base_backoff = 1ms}});
  r = get(retrying, "/v1/items/2");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->body, item_body(2));
}

TEST_F(ClientTest, RetriesA500WithBackoffAndReportsEveryAttempt) {
  auto server = *Server::start({.faults = {.error_500 = 1.0, .max_faults_per_path = 5}});
  Client c = make(
      {.base_url = server->base_url(), .retry = {.max_attempts = 3, .base_backoff = 1ms, .retry_statuses = {500}}});
  auto r = get(c, "/v1/items/9");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(
      r.status().message(),
      "GET " + server->base_url() + "/v1/items/9: attempt 1: status 500; attempt 2: status 500; attempt 3: status 500");
  EXPECT_EQ(c.stats().retries, 2u);
}

TEST_F(ClientTest, HonoursRetryAfterAndCapsIt) {
  auto server = *Server::start({.faults = {.too_many = 1.0, .retry_after_seconds = 1, .max_faults_per_path = 1}});
  Client c = make({.base_url = server->base_url()});
  auto start = std::chrono::steady_clock::now();
  auto r = get(c, "/v1/items/3");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);

  auto server2 = *Server::start({.faults = {.too_many = 1.0, .retry_after_seconds = 30, .max_faults_per_path = 1}});
  Client capped = make({.base_url = server2->base_url(), .retry = {.max_retry_after = 50ms}});
  start = std::chrono::steady_clock::now();
  r = get(capped, "/v1/items/3");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(capped.stats().retry_after_ms, 50u) << "waited as capped, not the 30 s asked";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "far below the 30 s an uncapped wait would take";
}

TEST_F(ClientTest, NoRetryOnNotFound) {
  auto server = *Server::start({.max_id = 10});
  Client c = make({.base_url = server->base_url()});
  auto r = get(c, "/v1/items/11");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(server->stats().requests, 1u);
}

TEST_F(ClientTest, OversizeBodyIsRejectedNotRetried) {
  auto server = *Server::start({});
  Client c = make({.base_url = server->base_url(), .max_body_bytes = 1000});
  auto r = get(c, "/v1/items/1/events", {{"page", "0"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(server->stats().requests, 1u);
}

using testing::gzip;

TEST_F(ClientTest, DecodesAChunkedGzipBody) {
  const std::string plain = std::string(5000, 'a') + "the end";
  const std::string packed = gzip(plain);
  RawServer server([&](tcp::socket& s) {
    asio::streambuf buf;
    if (!RawServer::read_request(s, buf)) return;
    std::string half1 = packed.substr(0, packed.size() / 2), half2 = packed.substr(packed.size() / 2);
    char size1[16], size2[16];
    std::snprintf(size1, sizeof size1, "%zx", half1.size());
    std::snprintf(size2, sizeof size2, "%zx", half2.size());
    RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            std::string(size1) + "\r\n" + half1 + "\r\n" + size2 + "\r\n" + half2 + "\r\n0\r\n\r\n");
  });
  Client c = make({.base_url = server.url()});
  auto r = get(c, "/z");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, plain);
  EXPECT_EQ(r->header("content-encoding"), "gzip");
}

// Asked not to decode, the client hands the body over as it came, for the
// caller to inflate where it parses it.
TEST_F(ClientTest, LeavesAGzipBodyAsItCameWhenTheRequestSaysSo) {
  const std::string plain = std::string(5000, 'b') + "the end";
  const std::string packed = gzip(plain);
  RawServer server([&](tcp::socket& s) {
    asio::streambuf buf;
    while (RawServer::read_request(s, buf)) {
      RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                              std::to_string(packed.size()) + "\r\n\r\n" + packed);
    }
  });
  Client c = make({.base_url = server.url()});
  auto r = rt.block_on(c.send({.path = "/z", .decode = false}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, packed);
  EXPECT_EQ(r->header("content-encoding"), "gzip");
  std::string out;
  ASSERT_TRUE(decode_body(r->body, r->header("content-encoding"), 1 << 20, out).ok());
  EXPECT_EQ(out, plain);
  auto decoded = get(c, "/z");  // the default: decoded
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->body, plain);
}

// Answers one request per connection while claiming keep-alive, and
// closes the connection without a word when a second request comes on it:
// as a server does whose idle timeout fires just as a request arrives.
void answer_once_then_close_on_the_next(RawServer::tcp::socket& s) {
  asio::streambuf buf;
  if (!RawServer::read_request(s, buf)) return;
  RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  RawServer::read_request(s, buf);
}

TEST_F(ClientTest, ResendsOnceWhenAKeptAliveConnectionWasClosed) {
  RawServer server(answer_once_then_close_on_the_next);
  Client c = make({.base_url = server.url(), .retry = {.max_attempts = 1}});
  ASSERT_TRUE(get(c, "/a").ok());
  auto r = get(c, "/b");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(c.stats().stale_resends, 1u);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(ClientTest, AConnectionTheServerClosedWhileIdleIsNotReused) {
  // The server answers (keep-alive, as HTTP/1.1 has it) and then closes:
  // the connection is readable (end of file) when the next request comes,
  // so it is left, and the request goes out once, on a new connection.
  RawServer server([](tcp::socket& s) {
    asio::streambuf buf;
    if (RawServer::read_request(s, buf)) RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Client c = make({.base_url = server.url()});
  ASSERT_TRUE(get(c, "/a").ok());
  while (server.closed() < 1) std::this_thread::sleep_for(1ms);  // the server has closed it
  auto r = get(c, "/b");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(server.connections(), 2);
  const ClientStats st = c.stats();
  EXPECT_EQ(st.stale_discarded, 1u);
  EXPECT_EQ(st.stale_resends, 0u) << "nothing was sent on the closed connection";
  EXPECT_EQ(st.attempts, 2u);
}

TEST_F(ClientTest, AConnectionIdleNearTheTimeoutTheServerAnnouncedIsNotReused) {
  // Keep-Alive: timeout=1 (seconds): reused while idle under 0.8 s, not after.
  std::atomic<int> requests{0};
  RawServer server([&](tcp::socket& s) {
    asio::streambuf buf;
    while (RawServer::read_request(s, buf)) {
      ++requests;
      RawServer::write(s, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1, max=100\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  Client c = make({.base_url = server.url()});
  ASSERT_TRUE(get(c, "/a").ok());
  ASSERT_TRUE(get(c, "/b").ok());
  EXPECT_EQ(server.connections(), 1) << "reused at once";
  std::this_thread::sleep_for(900ms);  // past 80 % of the timeout announced
  ASSERT_TRUE(get(c, "/c").ok());
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(c.stats().stale_discarded, 1u);
  EXPECT_EQ(requests, 3);
}

TEST_F(ClientTest, ALostRequestIsResentOnANewConnectionNotAnotherIdleOne) {
  // Three pooled connections, each lost as a request goes out on it: the
  // resend must not take the next idle one, which is likely just as dead.
  RawServer server(answer_once_then_close_on_the_next);
  Client c = make({.base_url = server.url(), .retry = {.max_attempts = 1}});
  for (auto& r : get_many(c, 3, [](int i) { return "/warm" + std::to_string(i); })) ASSERT_TRUE(r.ok());
  ASSERT_EQ(c.stats().connections_opened, 3u) << "three connections in the pool";
  auto r = get(c, "/b");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 1) << "a resend is not an attempt of the request";
  EXPECT_EQ(c.stats().stale_resends, 1u);
  EXPECT_EQ(c.stats().attempts, 5u) << "but it is counted as sent";
  EXPECT_EQ(server.connections(), 4);
}

// Twenty answers that never end (a chunked body that goes on and on):
// with a receive budget, one reads on at a time past the budget until
// max_body_bytes ends it, the others wait their turn; the bytes received
// at once stay near budget + one body, not twenty bodies.
TEST_F(ClientTest, AnswersBeingReceivedStayWithinTheReceiveBudget) {
  RawServer endless([](tcp::socket& s) {
    asio::streambuf buf;
    if (!RawServer::read_request(s, buf)) return;
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    boost::system::error_code ec;
    while (!ec) {
      asio::write(s, asio::buffer(out), ec);
      out = chunk;
    }
  });
  constexpr std::size_t kBudget = 4 << 20, kBody = 8 << 20;
  auto budget = std::make_shared<ByteBudget>(kBudget);
  Client c = make({.base_url = endless.url(),
                   .max_body_bytes = kBody,
                   .receive_budget = budget,
                   .retry = {.max_attempts = 1},
                   .outage = {.enabled = false}});
  for (auto& r : get_many(c, 20, [](int i) { return "/endless/" + std::to_string(i); })) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();
  }
  EXPECT_EQ(budget->used(), 0u) << "every byte given back";
  EXPECT_GT(budget->peak(), kBudget) << "the budget was reached";
  // Budget, one body past it, and a read (at most 64 KiB) per answer.
  EXPECT_LE(budget->peak(), kBudget + kBody + 20 * (64 << 10)) << "without the budget: up to 20 x 8 MiB";
}

TEST_F(ClientTest, SecretsNeverReachErrorMessages) {
  RawServer refuse([](tcp::socket&) {});  // accepts and closes at once
  Client c = make({.base_url = refuse.url(),
                   .retry = {.max_attempts = 2, .base_backoff = 1ms},
                   .headers = {{"Authorization", "Bearer SECRET-TOKEN"}}});
  // Parameter names match secret_query whatever their case.
  auto r = get(c, "/v1/items/1", {{"api_key", "SECRET-KEY"}, {"page", "2"}, {"Access_Token", "SECRET-2"}});
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(m.find("SECRET"), std::string::npos) << m;
  EXPECT_NE(m.find("api_key=REDACTED&page=2&Access_Token=REDACTED"), std::string::npos) << m;
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailable) {
  std::uint16_t port;
  {
    auto s = *Server::start({});
    port = s->port();
  }  // now closed
  Client c =
      make({.base_url = "http://127.0.0.1:" + std::to_string(port), .retry = {.max_attempts = 2, .base_backoff = 1ms}});
  auto r = get(c, "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("attempt 2: connect: Connection refused"), std::string::npos)
      << r.status().message();
}

TEST_F(ClientTest, EveryRequestEndsExactlyOnceUnderFaultsAndTightDeadlines) {
  auto server = *Server::start({.latency = 1ms,
                                .jitter = 3ms,
                                .faults = {.error_500 = 0.1,
                                           .too_many = 0.05,
                                           .truncated = 0.05,
                                           .slow_body = 0.1,
                                           .close = 0.1,
                                           .retry_after_seconds = 0,
                                           .trickle_interval = 30ms,
                                           .max_faults_per_path = 3,
                                           .seed = 3}});
  Client c = make({.base_url = server->base_url(),
                   .max_connections = 16,
                   .read_timeout = 40ms,
                   .request_timeout = 150ms,
                   .max_in_flight = 64,
                   .retry = {.max_attempts = 4, .base_backoff = 2ms, .retry_statuses = {429, 500, 502, 503, 504}}});
  auto results = get_many(c, 400, [&](int i) { return "/v1/items/" + std::to_string(i + 1); });
  int ok = 0, failed = 0;
  for (auto& r : results) {
    if (r.ok()) {
      ++ok;
      EXPECT_EQ(r->status, 200);
    } else {
      ++failed;
      EXPECT_TRUE(r.status().code() == StatusCode::kDeadlineExceeded || r.status().code() == StatusCode::kUnavailable)
          << r.status().to_string();
    }
  }
  EXPECT_EQ(ok + failed, 400);
  // How many succeed depends on the machine's load (the deadlines are tight
  // on purpose); that each request ends exactly once does not.
  EXPECT_GT(ok, 0) << "no request succeeded: the test proves nothing";
  EXPECT_GT(server->stats().faults, 40u) << "too few faults were injected for the test to mean anything";
  ClientStats st = c.stats();
  EXPECT_EQ(st.requests, 400u);
  EXPECT_EQ(st.succeeded + st.failed, 400u);
  EXPECT_EQ(st.in_flight, 0u);
}

TEST_F(ClientTest, AdaptiveLimitShrinksUnder429sAndGrowsBack) {
  // Every path answers 429 (Retry-After: 0) the first time, then 200.
  auto server =
      *Server::start({.latency = 2ms, .faults = {.too_many = 1.0, .retry_after_seconds = 0, .max_faults_per_path = 1}});
  Client c = make(
      {.base_url = server->base_url(),
       .max_in_flight = 256,
       .retry = {.base_backoff = 1ms, .budget = 1.0},  // every request retries once here
       .adaptive = {
           .enabled = true, .min = 2, .max = 256, .initial = 32, .latency_tolerance = 4.0, .decrease_interval = 5ms}});
  auto path = [](int i) { return "/v1/items/" + std::to_string(i % 400 + 1); };
  for (auto& r : get_many(c, 400, path)) ASSERT_TRUE(r.ok()) << r.status().to_string();
  const std::uint64_t shrunk = c.stats().limit;
  EXPECT_LT(shrunk, 32u);
  // The same paths again: no more 429s, and latency stays at its floor.
  for (int round = 0; round < 6; ++round) {
    for (auto& r : get_many(c, 400, path)) ASSERT_TRUE(r.ok());
  }
  EXPECT_GT(c.stats().limit, shrunk + 5) << "shrunk to " << shrunk;
}

TEST_F(ClientTest, TheRetryBudgetSlowsRetriesButNeverRefusesOne) {
  // Every path fails twice: three attempts each, with next to no budget.
  auto server = *Server::start({.faults = {.error_500 = 1.0, .max_faults_per_path = 2}});
  Client c = make({.base_url = server->base_url(),
                   .max_in_flight = 8,
                   .retry = {.max_attempts = 3, .base_backoff = 1ms, .budget = 0, .min_per_second = 200},
                   .outage = {.enabled = false}});
  for (auto& r : get_many(c, 40, [](int i) { return "/v1/items/" + std::to_string(i + 1); })) {
    EXPECT_TRUE(r.ok()) << r.status().to_string();
  }
  ClientStats st = c.stats();
  EXPECT_EQ(st.retries, 80u) << "every retry was made";
  EXPECT_GT(st.budget_waits, 0u) << "the bucket (8 tokens) ran dry: later retries waited for tokens";
}

TEST_F(ClientTest, WaitingForTheRetryBudgetNeverFailsARequestOnItsDeadline) {
  // Every path fails twice; the bucket holds 8 tokens and refills at 50 a
  // second, so the 80 retries take over a second, ten times the requests'
  // own deadline: the wait for a token is not the request's time.
  auto server = *Server::start({.faults = {.error_500 = 1.0, .max_faults_per_path = 2}});
  Client c = make({.base_url = server->base_url(),
                   .request_timeout = 100ms,
                   .max_in_flight = 8,
                   .retry = {.max_attempts = 3, .base_backoff = 1ms, .budget = 0, .min_per_second = 50},
                   .outage = {.enabled = false}});
  for (auto& r : get_many(c, 40, [](int i) { return "/v1/items/" + std::to_string(i + 1); })) {
    EXPECT_TRUE(r.ok()) << r.status().to_string();
  }
  EXPECT_EQ(c.stats().retries, 80u);
  EXPECT_GT(c.stats().budget_waits, 40u);
}

TEST_F(ClientTest, ARetryAfterLongerThanTheRequestTimeoutIsWaitedOutAsTheApiAsks) {
  auto server = *Server::start({.faults = {.too_many = 1.0, .retry_after_seconds = 1, .max_faults_per_path = 1}});
  Client c = make({.base_url = server->base_url(), .request_timeout = 300ms});
  auto r = get(c, "/v1/items/4");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(c.stats().retry_after_ms, 1000u);
}

TEST_F(ClientTest, RetryAfterDelaysThatRequestOnly) {
  auto server = *Server::start({.faults = {.too_many = 1.0, .retry_after_seconds = 2, .max_faults_per_path = 1}});
  {
    Client warm = make({.base_url = server->base_url()});
    ASSERT_TRUE(get(warm, "/v1/items/2").ok());  // path 2 has had its 429
  }
  Client c = make({.base_url = server->base_url()});
  auto first = asio::co_spawn(
      rt.executor(),
      [](Client c) -> asio::awaitable<std::optional<Result<Response>>> {
        co_return co_await c.get("/v1/items/1");  // 429, Retry-After: 2
      }(c),
      asio::use_future);
  while (server->stats().faults < 2) std::this_thread::sleep_for(1ms);  // the 429 went out
  auto second = get(c, "/v1/items/2");  // answers at once: other requests do not wait for the first one's Retry-After
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout) << "the first one is still waiting out its Retry-After";
  auto r = std::move(*first.get());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(c.stats().retry_after_ms, 2000u);
  EXPECT_EQ(c.stats().limit, 256u) << "one 429 is that request's to wait out, not everyone's";
}

// A server that, while `down`, closes every connection at once, and
// otherwise answers "ok" to every request on a kept-alive connection.
class Flaky {
 public:
  Flaky()
      : server_([this](tcp::socket& s) {
          if (down) {
            ++refused;
            return;
          }
          asio::streambuf buf;
          while (RawServer::read_request(s, buf) && !down)
            RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }) {}
  std::string url() const { return server_.url(); }
  std::atomic<bool> down{false};
  std::atomic<int> refused{0};

 private:
  RawServer server_;
};

TEST_F(ClientTest, AnOriginThatIsDownIsWaitedForNotGivenUpOn) {
  Flaky api;
  api.down = true;
  // Three attempts a request, 30 requests, 8 at a time: without the
  // outage gate each would spend them in a fraction of a second and fail.
  Client c = make({.base_url = api.url(),
                   .max_in_flight = 8,
                   .retry = {.max_attempts = 3, .base_backoff = 20ms},
                   .outage = {.failures = 4, .probe_after = 10ms, .max_probe_interval = 40ms}});
  auto pending =
      std::async(std::launch::async, [&] { return get_many(c, 30, [](int i) { return "/r" + std::to_string(i); }); });
  while (c.stats().outage_probes < 3) std::this_thread::sleep_for(1ms);  // down, and probed
  const int refused_while_down = api.refused;
  api.down = false;
  for (auto& r : pending.get()) EXPECT_TRUE(r.ok()) << r.status().to_string();
  ClientStats st = c.stats();
  EXPECT_EQ(st.outages, 1u);
  EXPECT_GT(st.outage_wait_ms, 0u);
  // Before the gate shut: at most the threshold and the 8 in flight;
  // after it: one probe at a time.
  EXPECT_LE(refused_while_down, 4 + 8 + static_cast<int>(st.outage_probes));
  EXPECT_TRUE(c.origin_status().ok());
}

TEST_F(ClientTest, RequestsThatFailWhileOthersAreAnsweredAreNotAnOutage) {
  // /bad/... always answers 500; /good answers 200. Ten bad requests at
  // once fail in a row, which looks like an outage, until the probe (the
  // last good request, sent again) is answered: then they spend their own
  // attempts and fail, instead of waiting for an origin that is up.
  std::atomic<int> good_requests{0};
  RawServer server([&](tcp::socket& s) {
    asio::streambuf buf;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = asio::read_until(s, buf, "\r\n\r\n", ec);
      if (ec) return;
      std::string head(asio::buffers_begin(buf.data()),
                       asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
      buf.consume(n);
      if (head.starts_with("GET /good ")) {
        ++good_requests;
        RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      } else {
        RawServer::write(s, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
      }
    }
  });
  Client c = make({.base_url = server.url(),
                   .retry = {.max_attempts = 3, .base_backoff = 5ms},
                   .outage = {.failures = 20, .probe_after = 20ms}});
  ASSERT_TRUE(get(c, "/good").ok());
  for (auto& r : get_many(c, 10, [](int i) { return "/bad/" + std::to_string(i); })) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("attempt 3: status 500"), std::string::npos) << r.status().message();
  }
  ClientStats st = c.stats();
  EXPECT_GE(st.outage_probes, 1u) << "ten first failures in a row with ten under way: the API was probed";
  EXPECT_EQ(st.outages, 0u) << "and answered the first probe: a false alarm is not an outage";
  // Each probe sends the good request again. How many alarms there are
  // depends on how many of the ten were under way when the first failures
  // came (fewer under way make a lower threshold): on a loaded machine a
  // second group can raise a second false alarm.
  EXPECT_EQ(good_requests, 1 + static_cast<int>(st.outage_probes)) << "every probe was the good request";
  EXPECT_TRUE(c.origin_status().ok());
}

TEST_F(ClientTest, AnOriginDownPastGiveUpAfterFailsEveryRequestAndSaysSo) {
  Flaky api;
  Client c = make({.base_url = api.url(),
                   .max_in_flight = 4,
                   .retry = {.base_backoff = 1ms},
                   .outage = {.failures = 2, .probe_after = 10ms, .max_probe_interval = 20ms, .give_up_after = 200ms}});
  ASSERT_TRUE(get(c, "/up").ok());
  api.down = true;
  for (auto& r : get_many(c, 10, [](int i) { return "/r" + std::to_string(i); })) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
  }
  const Status gone = c.origin_status();
  EXPECT_EQ(gone.code(), StatusCode::kUnavailable);
  EXPECT_NE(gone.message().find("outage.give_up_after"), std::string::npos) << gone.message();
  auto later = get(c, "/later");
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.status().message().find("the API has been down"), std::string::npos) << later.status().message();
}

TEST_F(ClientTest, AnAttemptThatOutlivesAttemptTimeoutIsRetried) {
  // The first answer of each path trickles in over 400 ms.
  auto server = *Server::start({.faults = {.slow_body = 1.0, .trickle_interval = 100ms, .max_faults_per_path = 1}});
  Client c = make({.base_url = server->base_url(),
                   .attempt_timeout = 150ms,
                   .request_timeout = 30s,
                   .retry = {.base_backoff = 1ms}});
  auto r = get(c, "/v1/items/5");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->body, item_body(5));
  EXPECT_EQ(c.stats().failures[static_cast<std::size_t>(FailureKind::kTimeout)], 1u);
}

TEST_F(ClientTest, HeaderWithALineBreakIsRefusedNotSent) {
  auto server = *Server::start({});
  Client c = make({.base_url = server->base_url()});
  auto r = rt.block_on(c.send({.path = "/v1/items/1", .headers = {{"X-Evil", "a\r\nInjected: yes"}}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->stats().requests, 0u);
  EXPECT_FALSE(Client::create(rt, {.base_url = server->base_url(), .headers = {{"X-A", "b\nc"}}}).ok());
}

TEST_F(ClientTest, PathAndQueryArePercentEncoded) {
  Client c = make({.base_url = "http://127.0.0.1:9/api/"});
  EXPECT_EQ(c.display_url({.path = "/items/a b/ü", .query = {{"q", "x&y=z"}, {"page", "2"}}}),
            "http://127.0.0.1:9/api/items/a%20b/%C3%BC?q=x%26y%3Dz&page=2");
}

TEST_F(ClientTest, ConnectTimeoutFiresWhenTheListenQueueIsFull) {
  // A listener that never accepts, its queue filled: the kernel drops the
  // next connection's SYN and the connect hangs.
  asio::io_context io;
  tcp::acceptor full(io);
  full.open(tcp::v4());
  full.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  // Raw non-blocking sockets: Asio's own connect would wait for each.
  std::vector<int> fillers;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(full.local_endpoint().port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  struct Closer {
    std::vector<int>& fds;
    ~Closer() {
      for (int fd : fds) ::close(fd);
    }
  } closer{fillers};
  Client c = make({.base_url = "http://127.0.0.1:" + std::to_string(full.local_endpoint().port()),
                   .connect_timeout = 200ms,
                   .retry = {.max_attempts = 1}});
  auto r = get(c, "/");  // without the timeout: blocked for the kernel's SYN retries, minutes
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
  EXPECT_NE(r.status().message().find("connect timed out"), std::string::npos) << r.status().message();
}

TEST_F(ClientTest, CloseFailsRequestsWaitingForTheirTurnExactlyOnce) {
  // Answers only once the test has closed the client.
  Gate answer;
  std::atomic<int> arrived{0};
  RawServer server([&](tcp::socket& s) {
    asio::streambuf buf;
    while (RawServer::read_request(s, buf)) {
      ++arrived;
      answer.wait();
      RawServer::write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  auto open_at_end = answer.opener();
  Client c = make({.base_url = server.url(), .max_in_flight = 2});
  auto one = [](Client c) -> asio::awaitable<std::optional<Result<Response>>> {
    co_return co_await c.get("/v1/items/1");
  };
  std::vector<std::future<std::optional<Result<Response>>>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(asio::co_spawn(rt.executor(), one(c), asio::use_future));
  // Two at the server, all ten started (eight waiting for their turn).
  while (arrived.load() < 2 || c.stats().requests < 10) std::this_thread::sleep_for(1ms);
  c.close();
  answer.open();
  int ok = 0, cancelled = 0;
  for (auto& f : fs) {
    auto r = std::move(*f.get());
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
      ++cancelled;
    }
  }
  EXPECT_EQ(ok, 2) << "requests in flight finish";
  EXPECT_EQ(cancelled, 8);
  EXPECT_FALSE(get(c, "/v1/items/2").ok());
  EXPECT_EQ(c.stats().in_flight, 0u);
}

TEST_F(ClientTest, ARequestOutlivesTheClientObjectThatMadeIt) {
  auto server = *Server::start({.latency = 20ms});
  asio::awaitable<Result<Response>> pending = [&] {
    Client temporary = make({.base_url = server->base_url()});
    return temporary.get("/v1/items/4");
  }();  // the Client object is gone; its state lives on in the request
  auto r = rt.block_on(std::move(pending));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, item_body(4));
}

TEST(ClientOptionsCheck, BadBaseUrlsAreRejected) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  EXPECT_EQ(Client::create(rt, {.base_url = "not a url"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(Client::create(rt, {.base_url = "ftp://x"}).status().message().find("scheme must be http"),
            std::string::npos);
  EXPECT_FALSE(Client::create(rt, {.base_url = "http://x", .max_in_flight = 0}).ok());
}

}  // namespace
}  // namespace sluice::http
