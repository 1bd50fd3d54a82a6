// The AWS credential chain: which source is chosen, and each source against
// a fake of its endpoint on loopback (fake_aws.h) that checks the request as
// the real service would; refreshing ahead of expiry on a fake clock.
#include "../../src/store/credentials.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "../../src/store/credential_sources.h"
#include "fake_aws.h"

namespace sluice::s3 {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

// The fields of an application/x-www-form-urlencoded body, decoded.
std::map<std::string, std::string> form_fields(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  while (at <= body.size()) {
    std::size_t end = body.find('&', at);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(at, end - at);
    const std::size_t eq = pair.find('=');
    std::string v;
    for (std::size_t i = eq + 1; i < pair.size(); ++i) {
      if (pair[i] == '%' && i + 2 < pair.size() + 1) {
        v.push_back(static_cast<char>(std::stoi(pair.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        v.push_back(pair[i] == '+' ? ' ' : pair[i]);
      }
    }
    out[pair.substr(0, eq)] = v;
    at = end + 1;
  }
  return out;
}

std::string iso(system_clock::time_point t) {
  const std::time_t s = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string sts_answer(const std::string& action, const std::string& key, system_clock::time_point expires) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action +
         "Result><Credentials><AccessKeyId>" + key + "</AccessKeyId><SecretAccessKey>SECRET-" + key +
         "</SecretAccessKey><SessionToken>TOKEN-" + key + "</SessionToken><Expiration>" + iso(expires) +
         "</Expiration></Credentials></" + action + "Result></" + action + "Response>";
}

std::string json_credentials(const std::string& key, system_clock::time_point expires, const char* token_key) {
  return std::string("{\"AccessKeyId\":\"") + key + "\",\"SecretAccessKey\":\"SECRET-" + key + "\",\"" + token_key +
         "\":\"TOKEN-" + key + "\",\"Expiration\":\"" + iso(expires) + "\"}";
}

// An environment of our own, files in a scratch HOME, and a runtime.
class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home = ::testing::TempDir() + "/sluice-creds-" + std::to_string(::getpid());
    std::filesystem::remove_all(home);
    std::filesystem::create_directories(home + "/.aws");
    vars["HOME"] = home;
    vars["AWS_EC2_METADATA_DISABLED"] = "true";
  }
  EnvLookup env() const {
    return [this](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(std::string(n));
      return it == vars.end() ? std::nullopt : std::optional(it->second);
    };
  }
  void write(const std::string& relative, const std::string& text) { std::ofstream(home + "/" + relative) << text; }
  std::shared_ptr<CredentialSource> chosen() {
    auto s = choose_credential_source(env());
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? *s : nullptr;
  }
  std::string error() {
    auto s = choose_credential_source(env());
    EXPECT_FALSE(s.ok()) << (s.ok() ? (*s)->describe() : "");
    return s.ok() ? "" : s.status().message();
  }
  Result<Credentials> get(CredentialProvider& p) { return rt.block_on(p.current()); }
  Result<Credentials> fetch_once() {
    CredentialProvider p(rt, chosen());
    return get(p);
  }

  std::string home;
  std::map<std::string, std::string> vars;
  Runtime rt{{.io_threads = 1, .cpu_threads = 1}};
};

TEST_F(CredentialsTest, TheChainTakesTheFirstSourceConfiguredInTheSdksOrder) {
  write(".aws/credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:1/creds";
  vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = home + "/token";
  vars["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/features";
  vars["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  vars["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  vars["AWS_SESSION_TOKEN"] = "ENVTOKEN";
  EXPECT_EQ(chosen()->describe(), "environment");
  auto c = fetch_once();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ENVKEY");
  EXPECT_EQ(c->session_token, "ENVTOKEN");

  vars.erase("AWS_ACCESS_KEY_ID");
  vars.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_TRUE(
      chosen()->describe().starts_with("web identity (" + home +
                                       "/token, role "
                                       "arn:aws:iam::123456789012:role/features, STS https://sts.amazonaws.com)"))
      << chosen()->describe();
  vars["AWS_REGION"] = "eu-west-1";
  EXPECT_NE(chosen()->describe().find("STS https://sts.eu-west-1.amazonaws.com"), std::string::npos);

  vars.erase("AWS_WEB_IDENTITY_TOKEN_FILE");
  vars.erase("AWS_ROLE_ARN");
  EXPECT_EQ(chosen()->describe(), home + "/.aws/credentials [default]");
  EXPECT_EQ(fetch_once()->access_key_id, "FILEKEY");

  std::filesystem::remove(home + "/.aws/credentials");
  EXPECT_EQ(chosen()->describe(), "container credentials (http://127.0.0.1:1/creds)");

  vars.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  const std::string none = error();
  EXPECT_NE(none.find("no AWS credentials"), std::string::npos) << none;
  EXPECT_NE(none.find("AWS_EC2_METADATA_DISABLED"), std::string::npos) << none;
  vars.erase("AWS_EC2_METADATA_DISABLED");
  EXPECT_TRUE(chosen()->describe().starts_with("instance metadata (IMDSv2 at http://169.254.169.254), tried last"))
      << chosen()->describe();
}

TEST_F(CredentialsTest, MisconfigurationsAreNamedAndNoSecretIsShown) {
  vars["AWS_ACCESS_KEY_ID"] = "ONLYKEY";
  EXPECT_EQ(error(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  vars.erase("AWS_ACCESS_KEY_ID");
  vars["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/r";
  EXPECT_EQ(error(), "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
  vars.erase("AWS_ROLE_ARN");
  vars["AWS_PROFILE"] = "nosuch";
  EXPECT_EQ(error(), "profile 'nosuch' is in neither " + home + "/.aws/credentials nor " + home + "/.aws/config");
  vars.erase("AWS_PROFILE");
  write(".aws/credentials", "[default]\naws_access_key_id = KEY-SHOULD-NOT-SHOW\n");
  EXPECT_EQ(error(), home + "/.aws/credentials [default]: no aws_secret_access_key");
  write(".aws/credentials", "[default]\nrole_arn = arn:aws:iam::1:role/r\n");
  EXPECT_EQ(error(), home +
                         "/.aws/credentials [default]: role_arn needs source_profile, web_identity_token_file or "
                         "credential_source");
  write(".aws/credentials",
        "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = a\n[a]\nrole_arn = x\n"
        "source_profile = default\n");
  EXPECT_NE(error().find("source_profile loops back to profile 'default'"), std::string::npos) << error();
  write(".aws/credentials", "[default]\nsso_session = corp\n");
  EXPECT_NE(error().find("aws configure export-credentials --profile default --format process"), std::string::npos);
  std::filesystem::remove(home + "/.aws/credentials");
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://203.0.113.9/creds";
  EXPECT_NE(error().find("over http only a loopback address"), std::string::npos) << error();
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "https://203.0.113.9/creds";
  EXPECT_EQ(chosen()->describe(), "container credentials (https://203.0.113.9/creds)");
}

TEST_F(CredentialsTest, WebIdentityExchangesTheTokenFileAtSts) {
  const auto expires = system_clock::now() + 1h;
  std::atomic<int> calls{0};
  FakeAws sts([&](const SeenRequest& r) -> FakeReply {
    auto f = form_fields(r.body);
    if (r.method != "POST" || r.header("content-type") != "application/x-www-form-urlencoded" ||
        f["Action"] != "AssumeRoleWithWebIdentity" || f["Version"] != "2011-06-15" ||
        !r.header("authorization").empty()) {
      return {400, "<ErrorResponse><Error><Code>InvalidAction</Code><Message>bad</Message></Error></ErrorResponse>"};
    }
    if (f["WebIdentityToken"] != "jwt-" + std::to_string(calls.load())) {
      return {403,
              "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>expired</Message></Error>"
              "<RequestId>r-1</RequestId></ErrorResponse>"};
    }
    return {200, sts_answer("AssumeRoleWithWebIdentity", "WEBKEY" + std::to_string(calls++), expires)};
  });
  write("token", "jwt-0\n");
  vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = home + "/token";
  vars["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/features";
  vars["AWS_ROLE_SESSION_NAME"] = "shard-3";
  vars["AWS_ENDPOINT_URL_STS"] = sts.url();
  auto c = fetch_once();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "WEBKEY0");
  EXPECT_EQ(c->secret_access_key, "SECRET-WEBKEY0");
  EXPECT_EQ(c->session_token, "TOKEN-WEBKEY0");
  auto f = form_fields(sts.requests().at(0).body);
  EXPECT_EQ(f["RoleArn"], "arn:aws:iam::123456789012:role/features");
  EXPECT_EQ(f["RoleSessionName"], "shard-3");

  write("token", "jwt-1\n");  // the kubelet rotated it: read again
  EXPECT_EQ(fetch_once()->access_key_id, "WEBKEY1");

  write("token", "\n");
  auto empty = fetch_once();
  EXPECT_EQ(empty.status().message(), "AWS credentials from web identity (" + home +
                                          "/token, role arn:aws:iam::123456789012:role/features, STS " + sts.url() +
                                          "): AssumeRoleWithWebIdentity: " + home + "/token is empty");
  const auto asked = sts.requests().size();
  EXPECT_EQ(asked, 2u) << "an empty token is not sent";

  write("token", "jwt-stale\n");
  auto refused = fetch_once();
  ASSERT_FALSE(refused.ok());
  const std::string m = refused.status().message();
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(m.find("HTTP 403 InvalidIdentityToken: expired (request id r-1)"), std::string::npos) << m;
  EXPECT_EQ(m.find("jwt-stale"), std::string::npos) << m;
}

TEST_F(CredentialsTest, AProfilesRoleIsAssumedWithARequestSignedByItsSourceProfile) {
  const auto expires = system_clock::now() + 1h;
  FakeAws sts([&](const SeenRequest&) -> FakeReply { return {200, sts_answer("AssumeRole", "ROLEKEY", expires)}; });
  write(".aws/config",
        "[profile ml]\nrole_arn = arn:aws:iam::1:role/ml\nsource_profile = base\nexternal_id = ext-7\n"
        "duration_seconds = 3600\nregion = eu-central-1\n");
  write(".aws/credentials",
        "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = BASESECRET\n"
        "aws_session_token = BASETOKEN\n");
  vars["AWS_PROFILE"] = "ml";
  vars["AWS_ENDPOINT_URL_STS"] = sts.url();
  auto source = chosen();
  EXPECT_EQ(source->describe(),
            "role arn:aws:iam::1:role/ml (STS " + sts.url() + ") assumed with " + home + "/.aws/credentials [base]");
  CredentialProvider p(rt, source);
  auto c = get(p);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ROLEKEY");
  const SeenRequest r = sts.requests().at(0);
  auto f = form_fields(r.body);
  EXPECT_EQ(f["Action"], "AssumeRole");
  EXPECT_EQ(f["RoleArn"], "arn:aws:iam::1:role/ml");
  EXPECT_EQ(f["ExternalId"], "ext-7");
  EXPECT_EQ(f["DurationSeconds"], "3600");
  EXPECT_TRUE(f["RoleSessionName"].starts_with("sluice-"));
  // Signed for STS in the profile's region with the base profile's keys.
  const std::string auth = r.header("authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=BASEKEY/")) << auth;
  EXPECT_NE(auth.find("/eu-central-1/sts/aws4_request,SignedHeaders=content-type;host;x-amz-date;"
                      "x-amz-security-token,Signature="),
            std::string::npos)
      << auth;
  EXPECT_EQ(r.header("x-amz-security-token"), "BASETOKEN");
  // The signature is the one the body and headers call for.
  const SigningInput in{.method = "POST",
                        .path = "/",
                        .headers = {{"content-type", r.header("content-type")},
                                    {"host", r.header("host")},
                                    {"x-amz-date", r.header("x-amz-date")},
                                    {"x-amz-security-token", "BASETOKEN"}},
                        .payload_hash = sha256_hex(r.body),
                        .amz_date = r.header("x-amz-date"),
                        .region = "eu-central-1",
                        .service = "sts"};
  EXPECT_EQ(auth, sign(in, {"BASEKEY", "BASESECRET", "BASETOKEN"}).authorization);
}

TEST_F(CredentialsTest, CredentialProcessOutputIsReadAndItsFailureNamedWithoutItsOutput) {
  const auto expires = system_clock::now() + 1h;
  write("creds.sh",
        "#!/bin/sh\nprintf '%s' '{\"Version\": 1, \"AccessKeyId\": \"PROCKEY\", \"SecretAccessKey\": "
        "\"PROCSECRET\", \"SessionToken\": \"PROCTOKEN\", \"Expiration\": \"" +
            iso(expires) + "\"}'\n");
  write(".aws/config", "[default]\ncredential_process = sh " + home + "/creds.sh --profile x\n");
  auto c = fetch_once();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "PROCKEY");
  EXPECT_EQ(c->secret_access_key, "PROCSECRET");
  EXPECT_EQ(c->session_token, "PROCTOKEN");

  write("creds.sh", "#!/bin/sh\necho 'SECRET-IN-OUTPUT'\nexit 3\n");
  auto failed = fetch_once();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("AWS credentials from " + home +
                                           "/.aws/config [default]: credential_process: exited with status 3"),
            std::string::npos)
      << failed.status().message();
  EXPECT_EQ(failed.status().message().find("SECRET-IN-OUTPUT"), std::string::npos);

  write("creds.sh", "#!/bin/sh\necho '{\"Version\": 2, \"AccessKeyId\": \"K\", \"SecretAccessKey\": \"S\"}'\n");
  EXPECT_NE(fetch_once().status().message().find("not JSON with \"Version\": 1"), std::string::npos);
}

TEST_F(CredentialsTest, TheContainerEndpointGetsTheTokenFilesAuthorization) {
  const auto expires = system_clock::now() + 1h;
  FakeAws endpoint([&](const SeenRequest& r) -> FakeReply {
    if (r.method != "GET" || r.target != "/v1/credentials?id=7") return {404, ""};
    if (r.header("authorization") != "pod-identity-token") return {401, "{\"Message\":\"no\"}"};
    return {200, json_credentials("PODKEY", expires, "Token")};
  });
  write("pod-token", "pod-identity-token\n");
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = endpoint.url() + "/v1/credentials?id=7";
  vars["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = home + "/pod-token";
  auto c = fetch_once();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "PODKEY");
  EXPECT_EQ(c->session_token, "TOKEN-PODKEY");

  write("pod-token", "wrong\n");
  auto refused = fetch_once();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("HTTP 401"), std::string::npos) << refused.status().message();
  EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos);
}

TEST_F(CredentialsTest, ImdsV2AsksForASessionTokenThenTheRoleThenItsCredentials) {
  const auto expires = system_clock::now() + 6h;
  FakeAws imds([&](const SeenRequest& r) -> FakeReply {
    if (r.target == "/latest/api/token") {
      if (r.method != "PUT" || r.header("x-aws-ec2-metadata-token-ttl-seconds") != "21600") return {400, ""};
      return {200, "imds-session-1"};
    }
    if (r.header("x-aws-ec2-metadata-token") != "imds-session-1") return {401, ""};
    if (r.target == "/latest/meta-data/iam/security-credentials/") return {200, "feature-role\n"};
    if (r.target == "/latest/meta-data/iam/security-credentials/feature-role") {
      return {200,
              "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"," + json_credentials("EC2KEY", expires, "Token").substr(1)};
    }
    return {404, ""};
  });
  vars.erase("AWS_EC2_METADATA_DISABLED");
  vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url();
  auto c = fetch_once();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "EC2KEY");
  EXPECT_EQ(c->session_token, "TOKEN-EC2KEY");
  const auto seen = imds.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[1].method, "GET");
}

// A clock the test moves: refreshing is tested without waiting.
struct FakeClock {
  std::shared_ptr<std::atomic<system_clock::rep>> ticks =
      std::make_shared<std::atomic<system_clock::rep>>(system_clock::now().time_since_epoch().count());
  system_clock::time_point now() const { return system_clock::time_point(system_clock::duration(ticks->load())); }
  void advance(system_clock::duration d) { *ticks += d.count(); }
  SystemClock fn() const {
    return [t = ticks] { return system_clock::time_point(system_clock::duration(t->load())); };
  }
};

TEST_F(CredentialsTest, CredentialsAreFetchedAnewAheadOfExpiryAndKeptWhileARefreshFails) {
  FakeClock clock;
  std::atomic<int> served{0};
  std::atomic<bool> down{false};
  FakeAws sts([&](const SeenRequest&) -> FakeReply {
    if (down) return {503, ""};
    return {200, sts_answer("AssumeRoleWithWebIdentity", "KEY" + std::to_string(served++), clock.now() + 1h)};
  });
  write("token", "jwt");
  vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = home + "/token";
  vars["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/r";
  vars["AWS_ENDPOINT_URL_STS"] = sts.url();
  CredentialProvider p(rt, chosen(), clock.fn());

  // Many callers at once, nothing cached: one request to STS.
  auto key = [](CredentialProvider& p) -> boost::asio::awaitable<std::string> {
    Result<Credentials> c = co_await p.current();
    co_return c.ok() ? c->access_key_id : c.status().to_string();
  };
  std::vector<std::future<std::string>> calls;
  for (int i = 0; i < 16; ++i) calls.push_back(boost::asio::co_spawn(rt.executor(), key(p), boost::asio::use_future));
  for (auto& c : calls) EXPECT_EQ(c.get(), "KEY0");
  EXPECT_EQ(sts.requests().size(), 1u);

  clock.advance(54min);
  EXPECT_EQ(get(p)->access_key_id, "KEY0") << "6 minutes left: still fresh";
  clock.advance(2min);
  EXPECT_EQ(get(p)->access_key_id, "KEY1") << "4 minutes left: fetched anew";
  EXPECT_EQ(p.fetches(), 2u);

  // STS down 4 minutes before KEY1 expires: KEY1 is used while it lasts.
  down = true;
  clock.advance(56min);
  auto kept = get(p);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_EQ(kept->access_key_id, "KEY1");
  const auto asked = sts.requests().size();
  EXPECT_GT(asked, 2u) << "the refresh was tried";
  EXPECT_EQ(get(p)->access_key_id, "KEY1");
  EXPECT_EQ(sts.requests().size(), asked) << "a failed refresh is not tried again at once";
  clock.advance(3min + 55s);  // within 10 s of expiry: no longer usable
  auto expired = get(p);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("AWS credentials from web identity"), std::string::npos)
      << expired.status().message();
  EXPECT_EQ(expired.status().message().find("TOKEN-KEY"), std::string::npos);
  const auto tried = sts.requests().size();
  const auto again = get(p);
  EXPECT_EQ(again.status().message(), expired.status().message()) << "the same failure, for 10 s";
  EXPECT_EQ(sts.requests().size(), tried) << "callers meanwhile do not each ask STS again";
  down = false;
  clock.advance(10s);
  EXPECT_EQ(get(p)->access_key_id, "KEY2") << "STS back: fetched again";
}

TEST(AwsTime, Iso8601AsAwsWritesIt) {
  auto t = parse_aws_time("2026-11-30T15:04:05Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(system_clock::to_time_t(*t), 1796051045);
  EXPECT_EQ(parse_aws_time("2026-11-30T15:04:05.123Z"), t);
  EXPECT_EQ(parse_aws_time("2026-11-30T15:04:05+00:00"), t);
  EXPECT_FALSE(parse_aws_time("2026-11-30 15:04:05").has_value());
  EXPECT_FALSE(parse_aws_time("2026-13-30T15:04:05Z").has_value());
  EXPECT_FALSE(parse_aws_time("2026-11-30T15:04:05").has_value());
}

}  // namespace
}  // namespace sluice::s3
