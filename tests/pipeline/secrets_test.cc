// Credentials the pipeline file sends never reach what sluice keeps, even
// when an API echoes the request back: dead letters, stream and serve lines,
// the summary.
#include "pipeline/file/secrets.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "../http/raw_server.h"
#include "item_features_fixture.h"

namespace sluice::pipeline {
namespace {

TEST(Secrets, EveryFormOfEverySecretIsTakenOutAndNothingElse) {
  Secrets s;
  s.add_header("X-Api-Key", "k3y-from-env", {"k3y-from-env"});
  s.add_header("Authorization", "Bearer tok/en+123", {});  // a credential by its name, though written in the file
  s.add_header("Accept", "application/json", {});          // not one
  s.add_header("X-Trace", "t-${ID}", {"abc"});             // too short to look for
  EXPECT_EQ(s.redact("key k3y-from-env, token tok/en+123, as JSON tok\\/en+123, in a URL tok%2Fen%2B123"),
            "key [redacted], token [redacted], as JSON [redacted], in a URL [redacted]");
  EXPECT_EQ(s.redact("Authorization: Bearer tok/en+123"), "Authorization: [redacted]");
  EXPECT_EQ(s.redact("Accept: application/json; abc"), "Accept: application/json; abc");
  EXPECT_EQ(s.redact("k3y-from-envk3y-from-env"), "[redacted][redacted]");
  EXPECT_TRUE(Secrets().redact("anything") == "anything");
}

TEST(Secrets, CredentialHeadersAreKnownByTheirNames) {
  for (const char* name : {"Authorization", "Proxy-Authorization", "X-Api-Key", "apikey", "X-Auth-Token", "Cookie",
                           "X-Client-Secret", "X-Amz-Security-Token", "X-Signature"}) {
    EXPECT_TRUE(is_credential_header(name)) << name;
  }
  for (const char* name : {"Accept", "Content-Type", "User-Agent", "X-Request-Id", "Host"}) {
    EXPECT_FALSE(is_credential_header(name)) << name;
  }
}

// An API that answers every request 400 with the request itself in its
// body (its head as text, its credentials as JSON and URL-encoded too).
TEST_F(ItemFeatures, AnApiThatEchoesTheRequestPutsNoCredentialInADeadLetterOrTheSummary) {
  n_ = 20;
  ::setenv("SLUICE_TEST_API_KEY", "key-0123456789", 1);
  ::setenv("SLUICE_TEST_TOKEN", "tok/en+123", 1);
  http::RawServer echo([](http::RawServer::tcp::socket& s) {
    boost::asio::streambuf buf;
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = boost::asio::read_until(s, buf, "\r\n\r\n", ec);
      if (ec) return;
      std::string head(boost::asio::buffers_begin(buf.data()),
                       boost::asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
      buf.consume(n);
      const std::string body = "{\"error\": \"bad request\", \"you sent\": \"" + head +
                               "\", \"token\": \"tok\\/en+123\", \"query\": \"t=tok%2Fen%2B123\"}";
      http::RawServer::write(
          s, "HTTP/1.1 400 Bad Request\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  });
  std::string yaml = read_text(SLUICE_SOURCE_DIR "/examples/item-features.yaml");
  const std::string http = "http:\n";
  yaml.replace(yaml.find(http), http.size(),
               "http:\n  headers:\n    X-Api-Key: ${SLUICE_TEST_API_KEY}\n    Authorization: Bearer "
               "${SLUICE_TEST_TOKEN}\n    X-Client-Secret: written-in-the-file\n");
  JobSummary s = run_against(echo.url(), "echo", {}, yaml);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  ASSERT_EQ(s.counts.dead_lettered, n_) << "every record's first request answered 400";
  const std::string dead = read_text(out_ + "/_item-features-dead-letter.jsonl");
  const std::string summary = s.to_json();
  for (const std::string& text : {dead, summary}) {
    for (const char* secret :
         {"key-0123456789", "tok/en+123", "tok\\/en+123", "tok%2Fen%2B123", "written-in-the-file"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in:\n" << text.substr(0, 2000);
    }
  }
  EXPECT_NE(dead.find("X-Api-Key: [redacted]"), std::string::npos) << dead.substr(0, 2000);
  EXPECT_NE(dead.find("HTTP 400"), std::string::npos) << "the rest of the answer is still there";
  ::unsetenv("SLUICE_TEST_API_KEY");
  ::unsetenv("SLUICE_TEST_TOKEN");
}

}  // namespace
}  // namespace sluice::pipeline
