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

TEST_F(AwsConfigTest, RegionFromTheEnvironmentThenTheProfile) {
  write(".aws/config", "[default]\nregion = us-east-1\n[profile ci]\nregion = ap-south-1\n");
  EXPECT_EQ(*resolve_region(env()), "us-east-1");
  vars["AWS_PROFILE"] = "ci";
  EXPECT_EQ(*resolve_region(env()), "ap-south-1");
  vars["AWS_DEFAULT_REGION"] = "eu-west-1";
  EXPECT_EQ(*resolve_region(env()), "eu-west-1");
  vars["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(*resolve_region(env()), "us-west-2") << "AWS_REGION wins over AWS_DEFAULT_REGION";
  vars["AWS_PROFILE"] = "none-such";
  vars.erase("AWS_REGION");
  vars.erase("AWS_DEFAULT_REGION");
  EXPECT_EQ(*resolve_region(env()), "") << "no region anywhere: empty";
}

TEST_F(AwsConfigTest, AMalformedRegionIsNamedWithWhereItCameFrom) {
  vars["AWS_REGION"] = "us east 1";
  EXPECT_EQ(resolve_region(env()).status().message(),
            "AWS_REGION='us east 1': expected a region name such as us-east-1");
  vars.erase("AWS_REGION");
  vars["AWS_DEFAULT_REGION"] = "EU_WEST";
  EXPECT_EQ(resolve_region(env()).status().message(),
            "AWS_DEFAULT_REGION='EU_WEST': expected a region name such as us-east-1");
  vars.erase("AWS_DEFAULT_REGION");
  write(".aws/config", "[default]\nregion = Mars/1\n");
  EXPECT_EQ(resolve_region(env()).status().message(),
            home + "/.aws/config [default]: region 'Mars/1': expected a region name such as us-east-1");
}

TEST_F(AwsConfigTest, AProfileMergesBothFilesTheCredentialsFileWinning) {
  write(".aws/credentials", "# comment\n[ci]\naws_access_key_id = CIKEY\nregion = from-credentials\n");
  write(".aws/config", "[profile ci]\nregion = ap-south-1\nrole_arn = arn:aws:iam::1:role/r\n[ci]\nx = 1\n");
  const ProfileFiles files(env());
  auto p = files.profile("ci");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->at("aws_access_key_id"), "CIKEY");
  EXPECT_EQ(p->at("region"), "from-credentials");
  EXPECT_EQ(p->at("role_arn"), "arn:aws:iam::1:role/r");
  EXPECT_FALSE(p->contains("x")) << "the config file's [ci] is not profile ci";
  EXPECT_EQ(files.where("ci"), home + "/.aws/credentials [ci]");
  EXPECT_FALSE(files.profile("default").has_value());
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
