// A one-node OpenStack Swift with its S3 API (tests/s3/swift_server.sh),
// and helpers for the tests that use it. Under ctest, one Swift serves every
// test (the `swift` fixture of tests/CMakeLists.txt, named by
// SLUICE_SWIFT=PORT:DIR; each test uses buckets of its own); run directly, a test process starts one of its own, as
// does a suite that stops the server (OwnSwift).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>

#include "../../src/store/s3_client.h"
#include "../../src/store/sigv4.h"
#include "sluice/http/client.h"
#include "sluice/runtime.h"

namespace sluice::s3 {

inline constexpr int kPort = 18420;  // the first of the ports tried

inline std::string script(const std::string& args) {
  return std::string("'" SLUICE_SOURCE_DIR "/tests/s3/swift_server.sh' ") + args;
}

class SwiftTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* shared = std::getenv("SLUICE_SWIFT");
    const char* colon = shared ? std::strchr(shared, ':') : nullptr;
    if (colon == nullptr) return start_own();
    port_ = std::atoi(shared);
    dir_ = colon + 1;
    own_ = false;
    started_ = port_ > 0;
  }
  static void TearDownTestSuite() {
    if (own_) (void)std::system(script("stop " + dir_).c_str());
  }
  static void start_own() {
    dir_ = ::testing::TempDir() + "/sluice-swift-" + std::to_string(::getpid());
    port_ = kPort + static_cast<int>(::getpid() % 200) * 5;  // ctest runs tests as parallel processes
    own_ = true;
    started_ = std::system((script("start " + dir_ + " " + std::to_string(port_)) + " >/dev/null").c_str()) == 0;
  }
  void SetUp() override { ASSERT_TRUE(started_) << "Swift did not start (tests/s3/swift_server.sh)"; }

  static std::string now_amz() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
    return buf;
  }

  // Sends one request signed with `creds`; the response.
  Result<http::Response> send(http::Method method, const std::string& verb, const std::string& path,
                              const std::string& body, const Credentials& creds) {
    const std::string host = "127.0.0.1:" + std::to_string(port_);
    const std::string date = now_amz();
    const std::string payload = sha256_hex(body);
    SigningInput in{.method = verb,
                    .path = path,
                    .headers = {{"host", host}, {"x-amz-content-sha256", payload}, {"x-amz-date", date}},
                    .payload_hash = payload,
                    .amz_date = date,
                    .region = "us-east-1"};
    Signed s = sign(in, creds);
    auto client = http::Client::create(rt_, {.base_url = "http://" + host, .retry = {.max_attempts = 1}});
    if (!client.ok()) return client.status();
    return rt_.block_on(client->send(
        {.method = method,
         .path = path,
         .headers = {{"x-amz-content-sha256", payload}, {"x-amz-date", date}, {"Authorization", s.authorization}},
         .body = body}));
  }

  Runtime rt_{{.io_threads = 1, .cpu_threads = 1}};
  static inline std::string dir_;
  static inline int port_ = 0;
  static inline bool started_ = false;
  static inline bool own_ = false;
};

inline const Credentials kGood{.access_key_id = "test:tester", .secret_access_key = "testing"};

class S3ClientTest : public SwiftTest {
 protected:
  S3Client make(Credentials creds = kGood) {
    auto c =
        S3Client::create(rt_, {.endpoint = "http://127.0.0.1:" + std::to_string(port_),
                               .credentials = CredentialProvider::fixed(std::move(creds)),
                               .http = {.retry = {.max_attempts = 2, .base_backoff = std::chrono::milliseconds(5)}}});
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return *c;
  }
};

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return s;
}

}  // namespace sluice::s3
