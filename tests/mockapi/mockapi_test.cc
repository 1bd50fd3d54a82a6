#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../../src/mockapi/server.h"
#include "../../src/mockapi/workload.h"

namespace sluice::mockapi {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// A blocking HTTP/1.1 client on one keep-alive connection.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // The response, or the error that ended the exchange.
  boost::system::error_code get(const std::string& target, http::response<http::string_body>& res) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    boost::system::error_code ec;
    http::write(socket_, req, ec);
    if (ec) return ec;
    res = {};
    http::read(socket_, buffer_, res, ec);
    return ec;
  }
  http::response<http::string_body> get_ok(const std::string& target) {
    http::response<http::string_body> res;
    auto ec = get(target, res);
    EXPECT_FALSE(ec) << target << ": " << ec.message();
    return res;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

std::string milli(std::uint64_t thousandths) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(thousandths) / 1000.0);
  return buf;
}

TEST(Workload, ItemAnswerFollowsTheFormulas) {
  // Independent of workload.cc's integer formatting: printf of the double.
  for (std::uint64_t id : {1ULL, 2ULL, 77ULL, 123456789ULL}) {
    std::uint64_t h = mix(id);
    std::string want = "{\"id\":" + std::to_string(id) + ",\"score\":" + milli(h % 1000) +
                       ",\"pages\":" + std::to_string(1 + (h >> 16) % 4) + ",\"kind\":\"" +
                       std::string(1, "abc"[(h >> 32) % 3]) + "\",\"name\":\"item-" + std::to_string(id) + "\"}";
    std::string got;
    append_item_json(id, got);
    EXPECT_EQ(got, want);
  }
}

TEST(Workload, EventsAnswerFollowsTheFormulas) {
  const std::uint64_t id = 42, page = 1;
  std::string got;
  append_events_json(id, page, got);
  std::string want = "{\"id\":42,\"page\":1,\"events\":[";
  for (std::uint64_t i = 0; i < 200; ++i) {
    std::uint64_t j = page * 200 + i, m = mix((id << 10) | j);
    want += std::string(i ? "," : "") + "{\"t\":" + std::to_string(1700000000000ULL + 1000 * ((j * 337) % 800)) +
            ",\"v\":" + milli(m % 1000000) + ",\"c\":\"" + std::string(1, "xyz"[(m >> 20) % 3]) + "\"}";
  }
  want += "]}";
  EXPECT_EQ(got, want);
}

TEST(Workload, PagesAnswerListsEveryPageNumber) {
  for (std::uint64_t id : {1ULL, 2ULL, 3ULL, 77ULL}) {
    const std::uint64_t pages = 1 + (mix(id) >> 16) % 4;
    std::string want = "{\"id\":" + std::to_string(id) + ",\"pages\":[";
    for (std::uint64_t p = 0; p < pages; ++p) want += (p ? "," : "") + std::to_string(p);
    want += "]}";
    std::string got;
    append_pages_json(id, got);
    EXPECT_EQ(got, want) << "id " << id;
  }
}

TEST(Workload, DataFilesHoldEveryRecordAndTheJoinableEntities) {
  std::string dir = ::testing::TempDir() + "/sluice-workload";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(write_records_csv(dir + "/records.csv", 1000).ok());
  ASSERT_TRUE(write_entities_csv(dir + "/entities.csv", 1000).ok());
  std::ifstream records(dir + "/records.csv"), entities(dir + "/entities.csv");
  std::string line;
  std::getline(records, line);
  EXPECT_EQ(line, "id");
  int n = 0;
  while (std::getline(records, line)) EXPECT_EQ(line, std::to_string(++n));
  EXPECT_EQ(n, 1000);
  std::getline(entities, line);
  EXPECT_EQ(line, "id,region,segment,weight");
  int present = 0;
  while (std::getline(entities, line)) {
    std::uint64_t id = std::stoull(line.substr(0, line.find(',')));
    std::uint64_t e = mix(id ^ 0xABCDEF);
    ASSERT_NE(e % 10, 0u) << "id " << id << " must be absent";
    char want[64];
    std::snprintf(want, sizeof want, "%llu,r%llu,s%llu,%.2f", static_cast<unsigned long long>(id),
                  static_cast<unsigned long long>((e >> 8) % 16), static_cast<unsigned long long>((e >> 16) % 100),
                  static_cast<double>((e >> 24) % 10000) / 100.0);
    EXPECT_EQ(line, want);
    ++present;
  }
  EXPECT_GT(present, 850);
  EXPECT_LT(present, 950);
}

TEST(MockApiServer, ServesItemsAndEventsOverOneKeptAliveConnection) {
  auto server = *Server::start({});
  TestClient c(server->port());
  auto item = c.get_ok("/v1/items/7");
  EXPECT_EQ(item.result_int(), 200);
  std::string want;
  append_item_json(7, want);
  EXPECT_EQ(item.body(), want);
  EXPECT_EQ(item[http::field::content_type], "application/json");
  auto events = c.get_ok("/v1/items/7/events?page=0");
  want.clear();
  append_events_json(7, 0, want);
  EXPECT_EQ(events.body(), want);
  auto pages = c.get_ok("/v1/items/7/pages");
  want.clear();
  append_pages_json(7, want);
  EXPECT_EQ(pages.body(), want);
  EXPECT_EQ(server->stats().connections, 1u);
  EXPECT_EQ(server->stats().requests, 3u);
}

TEST(MockApiServer, UnknownIdsPagesAndPathsAnswer404) {
  auto server = *Server::start({.max_id = 100});
  TestClient c(server->port());
  for (std::string t :
       std::vector<std::string>{"/v1/items/101", "/v1/items/0", "/v1/items/abc", "/v1/items/-1", "/v2/items/1",
                                "/v1/items/1/events?page=" + std::to_string(pages_of(1)), "/v1/items/1/events",
                                "/v1/items/1/other?page=0", "/v1/items/101/pages", "/v1/items/1/pages/x"}) {
    EXPECT_EQ(c.get_ok(t).result_int(), 404) << t;
  }
  EXPECT_EQ(c.get_ok("/v1/items/100").result_int(), 200);
}

TEST(MockApiServer, FaultsAreCappedPerPathSoRetriesSucceed) {
  auto server = *Server::start({.faults = {.error_500 = 1.0, .max_faults_per_path = 2}});
  TestClient c(server->port());
  EXPECT_EQ(c.get_ok("/v1/items/5").result_int(), 500);
  EXPECT_EQ(c.get_ok("/v1/items/5").result_int(), 500);
  EXPECT_EQ(c.get_ok("/v1/items/5").result_int(), 200);
  EXPECT_EQ(c.get_ok("/v1/items/6").result_int(), 500) << "another path has faults of its own";
}

TEST(MockApiServer, TooManyRequestsCarriesRetryAfter) {
  auto server = *Server::start({.faults = {.too_many = 1.0, .retry_after_seconds = 3, .max_faults_per_path = 1}});
  TestClient c(server->port());
  auto res = c.get_ok("/v1/items/5");
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(res[http::field::retry_after], "3");
}

TEST(MockApiServer, FaultsAreReproducibleFromTheSeed) {
  auto statuses = [](std::uint64_t seed) {
    auto server = *Server::start({.faults = {.error_500 = 0.3, .too_many = 0.2, .seed = seed}});
    TestClient c(server->port());
    std::vector<int> s;
    for (int id = 1; id <= 40; ++id) s.push_back(c.get_ok("/v1/items/" + std::to_string(id)).result_int());
    return s;
  };
  auto a = statuses(9), b = statuses(9), other = statuses(10);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  EXPECT_GT(std::count(a.begin(), a.end(), 200), 10);
  EXPECT_GT(std::count(a.begin(), a.end(), 500), 3);
}

TEST(MockApiServer, MalformedTruncatedAndClosedAnswers) {
  {
    auto server = *Server::start({.faults = {.malformed = 1.0, .max_faults_per_path = 1}});
    TestClient c(server->port());
    auto res = c.get_ok("/v1/items/5");
    EXPECT_EQ(res.result_int(), 200);
    std::string full;
    append_item_json(5, full);
    EXPECT_EQ(res.body(), full.substr(0, full.size() / 2));
  }
  {
    auto server = *Server::start({.faults = {.truncated = 1.0, .max_faults_per_path = 1}});
    TestClient c(server->port());
    http::response<http::string_body> res;
    EXPECT_EQ(c.get("/v1/items/5", res), http::error::partial_message);
  }
  {
    auto server = *Server::start({.faults = {.close = 1.0, .max_faults_per_path = 1}});
    TestClient c(server->port());
    http::response<http::string_body> res;
    auto ec = c.get("/v1/items/5", res);
    EXPECT_TRUE(ec == http::error::end_of_stream || ec == asio::error::connection_reset) << ec.message();
  }
}

TEST(MockApiServer, SlowBodyArrivesInPiecesOverTime) {
  auto server = *Server::start(
      {.faults = {.slow_body = 1.0, .trickle_interval = std::chrono::milliseconds(30), .max_faults_per_path = 1}});
  TestClient c(server->port());
  auto start = std::chrono::steady_clock::now();
  auto res = c.get_ok("/v1/items/5");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  std::string full;
  append_item_json(5, full);
  EXPECT_EQ(res.body(), full) << "a slow body is still a whole body";
}

TEST(MockApiServer, LatencyDelaysEveryAnswer) {
  auto server = *Server::start({.latency = std::chrono::milliseconds(40)});
  TestClient c(server->port());
  auto start = std::chrono::steady_clock::now();
  c.get_ok("/v1/items/1");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
}

TEST(MockApiServer, BadOptionsAreRejected) {
  EXPECT_EQ(Server::start({.address = "not an address"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Server::start({.faults = {.error_500 = 0.7, .too_many = 0.5}}).status().message(),
            "fault fractions add up to more than 1");
  auto first = *Server::start({});
  auto clash = Server::start({.port = first->port()});
  EXPECT_EQ(clash.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::mockapi
