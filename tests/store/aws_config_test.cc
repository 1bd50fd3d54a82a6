#include "../../src/store/aws_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace sluice::s3 {
namespace {

// An environment of our own, and files in a scratch HOME.
class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home = ::testing::TempDir() + "/sluice-aws-" + std::to_string(::getpid());
    std::filesystem::remove_all(home);
    std::filesystem::create_directories(home + "/.aws");
    vars["HOME"] = home;
  }
  EnvLookup env() const {
    return [this](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(std::string(n));
      return it == vars.end() ? std::nullopt : std::optional(it->second);
    };
  }
  void write(const std::string& relative, const std::string& text) { std::ofstream(home + "/" + relative) << text; }

  std::string home;
  std::map<std::string, std::string> vars;
};

TEST_F(AwsConfigTest, EnvironmentComesFirst) {
  write(".aws/credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
  vars["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  vars["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  vars["AWS_SESSION_TOKEN"] = "TOKEN";
  vars["AWS_DEFAULT_REGION"] = "eu-west-1";
  auto s = resolve_aws_settings(env());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->credentials.access_key_id, "ENVKEY");
  EXPECT_EQ(s->credentials.session_token, "TOKEN");
  EXPECT_EQ(s->source, "environment");
  EXPECT_EQ(s->region, "eu-west-1");
  vars["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(resolve_aws_settings(env())->region, "us-west-2") << "AWS_REGION wins over AWS_DEFAULT_REGION";
}

TEST_F(AwsConfigTest, SharedFilesWithAProfile) {
  write(".aws/credentials",
        "# comment\n[default]\naws_access_key_id=D\naws_secret_access_key=DS\n\n[ci]\naws_access_key_id = CIKEY\n"
        "aws_secret_access_key = CISECRET\n");
  write(".aws/config", "[default]\nregion = us-east-1\n[profile ci]\nregion = ap-south-1\n");
  vars["AWS_PROFILE"] = "ci";
  auto s = resolve_aws_settings(env());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->credentials.access_key_id, "CIKEY");
  EXPECT_EQ(s->credentials.secret_access_key, "CISECRET");
  EXPECT_EQ(s->region, "ap-south-1");
  EXPECT_EQ(s->source, home + "/.aws/credentials [ci]");
}

TEST_F(AwsConfigTest, ErrorsNameWhatIsMissingButNoSecret) {
  vars["AWS_ACCESS_KEY_ID"] = "ONLYKEY";
  auto s = resolve_aws_settings(env());
  EXPECT_EQ(s.status().message(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  vars.erase("AWS_ACCESS_KEY_ID");
  s = resolve_aws_settings(env());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("profile 'default'"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("(it cannot be read)"), std::string::npos) << s.status().message();

  vars["AWS_ACCESS_KEY_ID"] = "K";
  vars["AWS_SECRET_ACCESS_KEY"] = "SECRET-SHOULD-NOT-SHOW";
  vars["AWS_REGION"] = "us east 1";
  s = resolve_aws_settings(env());
  EXPECT_EQ(s.status().message(), "AWS_REGION='us east 1': expected a region name such as us-east-1");
  vars.erase("AWS_REGION");
  vars["AWS_DEFAULT_REGION"] = "EU_WEST";
  s = resolve_aws_settings(env());
  EXPECT_EQ(s.status().message(), "AWS_DEFAULT_REGION='EU_WEST': expected a region name such as us-east-1");
  vars.erase("AWS_DEFAULT_REGION");
  vars.erase("AWS_ACCESS_KEY_ID");
  vars.erase("AWS_SECRET_ACCESS_KEY");
  write(".aws/credentials", "[default]\naws_access_key_id = KEY-SHOULD-NOT-SHOW\n");
  s = resolve_aws_settings(env());
  EXPECT_EQ(s.status().message(), home + "/.aws/credentials: profile 'default' has no aws_secret_access_key");
  EXPECT_EQ(s.status().message().find("KEY-SHOULD-NOT-SHOW"), std::string::npos);
}

TEST(S3Url, BucketAndPrefix) {
  EXPECT_EQ(parse_s3_url("s3://my-bucket")->prefix, "");
  EXPECT_EQ(parse_s3_url("s3://my-bucket/")->prefix, "");
  auto l = parse_s3_url("s3://my.bucket-1/features/2026/a b.parquet");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->bucket, "my.bucket-1");
  EXPECT_EQ(l->prefix, "features/2026/a b.parquet");
}

TEST(S3Url, BadUrlsSayWhatIsWrong) {
  EXPECT_EQ(parse_s3_url("https://x/y").status().message(), "'https://x/y': an S3 URL starts with s3://");
  EXPECT_EQ(parse_s3_url("s3://ab").status().message(), "'s3://ab': bucket 'ab' must be 3 to 63 characters long");
  EXPECT_NE(parse_s3_url("s3://My_Bucket").status().message().find("lower-case"), std::string::npos);
  EXPECT_NE(parse_s3_url("s3://-bucket").status().message().find("begin and end"), std::string::npos);
}

TEST(S3ErrorXml, CodeMessageAndRequestId) {
  auto e = parse_s3_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match &amp; so on</Message>"
      "<RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "SignatureDoesNotMatch");
  EXPECT_EQ(e->message, "The request signature we calculated does not match & so on");
  EXPECT_EQ(e->request_id, "4442587FB7D0A2F9");
  EXPECT_FALSE(parse_s3_error("<ListBucketResult></ListBucketResult>").has_value());
}

}  // namespace
}  // namespace sluice::s3
