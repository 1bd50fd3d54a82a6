// The reference workload written straight into S3 (Swift's S3 API on
// loopback), in several files, then read back and compared with the oracle.
#include <filesystem>
#include <fstream>

#include "../../src/mockapi/server.h"
#include "../store/fake_aws.h"
#include "../store/swift_fixture.h"
#include "e2e_util.h"
#include "pipeline/output/manifest.h"
#include "sluice/job.h"

namespace sluice::s3 {
namespace {

namespace fs = std::filesystem;

class PipelineToS3 : public S3ClientTest {
 protected:
  // Credentials in the environment, as a user sets them, and a new bucket.
  S3Client with_bucket(const std::string& bucket) {
    ::setenv("AWS_ACCESS_KEY_ID", kGood.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kGood.secret_access_key.c_str(), 1);
    ::setenv("AWS_REGION", "us-east-1", 1);
    S3Client s3 = make();
    EXPECT_TRUE(rt_.block_on(s3.create_bucket(bucket)).ok());
    return s3;
  }
};

TEST_F(PipelineToS3, TheReferenceWorkloadLandsInS3AsCompleteFilesEqualToTheOracle) {
  S3Client s3 = with_bucket("sluice-e2e");

  constexpr std::uint64_t n = 800;
  const std::string dir = dir_ + "/e2e";
  fs::remove_all(dir);
  fs::create_directories(dir + "/from-s3");
  oracle::write_inputs(dir, n);
  auto server = mockapi::Server::start({});
  ASSERT_TRUE(server.ok()) << server.status().to_string();

  auto job =
      Job::open(SLUICE_SOURCE_DIR "/examples/item-features.yaml",
                {.sets = {"input.path=" + dir + "/records.csv", "datasets.entities.path=" + dir + "/entities.csv",
                          "http.base_url=" + (*server)->base_url(), "output.path=s3://sluice-e2e/runs/1/",
                          "output.file_rows=200", "batch.size=50"},
                 .store = {.s3_endpoint = "http://127.0.0.1:" + std::to_string(port_), .journal_dir = dir + "/journal"},
                 .io_threads = 1,
                 .cpu_threads = 1});
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  JobSummary s = (*job)->run();
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();

  const pipeline::Expected e = pipeline::expected_counts(n);
  EXPECT_EQ(s.counts.written, e.written);
  EXPECT_TRUE(s.accounted);
  // Files roll between batches (of at most 50 records): 200 to 249 rows, but the last.
  ASSERT_GE(s.files.size(), 2u);
  std::uint64_t rows = 0;
  for (std::size_t i = 0; i < s.files.size(); ++i) {
    if (i + 1 < s.files.size()) {
      EXPECT_GE(s.files[i].rows, 200u);
      EXPECT_LT(s.files[i].rows, 250u);
    }
    char name[64];
    std::snprintf(name, sizeof name, "item-features-%05zu.parquet", i);
    EXPECT_EQ(s.files[i].name, std::string("s3://sluice-e2e/runs/1/") + name);
    rows += s.files[i].rows;
    auto bytes = rt_.block_on(s3.get_object("sluice-e2e", std::string("runs/1/") + name));
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    EXPECT_EQ(bytes->size(), s.files[i].bytes);
    std::ofstream(dir + "/from-s3/" + name, std::ios::binary) << *bytes;
  }
  EXPECT_EQ(rows, e.written);
  auto listed = rt_.block_on(s3.list_objects("sluice-e2e", "runs/1/", ""));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->objects.size(), s.files.size() + 1) << "only complete files and the manifest, nothing else";
  // The manifest says every record is done and names every file.
  auto manifest = rt_.block_on(s3.get_object("sluice-e2e", "runs/1/_item-features-manifest.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().to_string();
  auto m = pipeline::Manifest::parse(*manifest, "the manifest");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->done.size(), n);
  EXPECT_EQ(m->files.size(), s.files.size());
  EXPECT_EQ(pipeline::check_output(dir + "/from-s3", n), e.written);
}

// A shard's commit must be one atomic create; Swift's S3 API has no
// conditional writes (it answers 501). A sharded run there is refused as it
// opens, saying why, before any record is read or any object written:
// never two attempts both believing they committed.
TEST_F(PipelineToS3, AShardIsRefusedWhereTheServiceCannotCommitItAtomically) {
  S3Client s3 = with_bucket("sluice-shards");
  const std::string dir = dir_ + "/shards";
  fs::remove_all(dir);
  fs::create_directories(dir);
  oracle::write_inputs(dir, 100);
  auto server = mockapi::Server::start({});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto job = Job::open(
      SLUICE_SOURCE_DIR "/examples/item-features.yaml",
      {.sets = {"input.path=" + dir + "/records.csv", "datasets.entities.path=" + dir + "/entities.csv",
                "http.base_url=" + (*server)->base_url(), "output.path=s3://sluice-shards/job/"},
       .shard_index = 1,
       .shard_count = 2,
       .store = {.s3_endpoint = "http://127.0.0.1:" + std::to_string(port_), .journal_dir = dir + "/journal"}});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kUnimplemented) << job.status().to_string();
  EXPECT_NE(job.status().message().find("does not support conditional writes (If-None-Match: *)"), std::string::npos)
      << job.status().message();
  EXPECT_NE(job.status().message().find("a shard's commit must be one atomic create"), std::string::npos)
      << job.status().message();
  EXPECT_EQ((*server)->stats().requests, 0u) << "no record was started";
  auto listed = rt_.block_on(s3.list_objects("sluice-shards", "", ""));
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->objects.empty()) << listed->objects.front().key;
}

// As on Kubernetes with IRSA: no keys anywhere, a service account's token in
// a file and a role to assume. sluice exchanges the token at STS (a fake
// that checks the request and answers with the S3 server's keys) and
// writes the reference workload with the temporary credentials.
TEST_F(PipelineToS3, AWebIdentityTokenAndStsGiveTheCredentialsTheRunWritesWith) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-irsa")).ok());
  const std::string dir = dir_ + "/irsa";
  fs::remove_all(dir);
  fs::create_directories(dir);
  constexpr std::uint64_t n = 300;
  oracle::write_inputs(dir, n);
  std::ofstream(dir + "/token") << "eyJhbGciOiJSUzI1NiJ9.service-account-token\n";
  FakeAws sts([](const SeenRequest& r) -> FakeReply {
    if (r.method != "POST" || r.body.find("Action=AssumeRoleWithWebIdentity") == std::string::npos ||
        r.body.find("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.service-account-token") == std::string::npos ||
        r.body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Ffeatures") == std::string::npos) {
      return {403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"};
    }
    return {200,
            "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
            "<AccessKeyId>" +
                kGood.access_key_id + "</AccessKeyId><SecretAccessKey>" + kGood.secret_access_key +
                "</SecretAccessKey><SessionToken>irsa-session</SessionToken><Expiration>2099-01-01T00:00:00Z"
                "</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"};
  });
  for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"})
    ::unsetenv(v);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir + "/none").c_str(), 1);
  ::setenv("AWS_WEB_IDENTITY_TOKEN_FILE", (dir + "/token").c_str(), 1);
  ::setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/features", 1);
  ::setenv("AWS_ENDPOINT_URL_STS", sts.url().c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  auto server = mockapi::Server::start({});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto job = Job::open(
      SLUICE_SOURCE_DIR "/examples/item-features.yaml",
      {.sets = {"input.path=" + dir + "/records.csv", "datasets.entities.path=" + dir + "/entities.csv",
                "http.base_url=" + (*server)->base_url(), "output.path=s3://sluice-irsa/features/"},
       .store = {.s3_endpoint = "http://127.0.0.1:" + std::to_string(port_), .journal_dir = dir + "/journal"}});
  JobSummary s = job.ok() ? (*job)->run() : JobSummary{.status = job.status()};
  for (const char* v :
       {"AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL_STS"}) {
    ::unsetenv(v);
  }
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(sts.requests().size(), 1u) << "one exchange: the credentials last the run";
  EXPECT_EQ(s.counts.written, pipeline::expected_counts(n).written);
  auto listed = rt_.block_on(s3.list_objects("sluice-irsa", "features/", ""));
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  fs::create_directories(dir + "/from-s3");
  std::size_t parquet = 0;
  for (const auto& o : listed->objects) {
    if (!o.key.ends_with(".parquet")) continue;
    auto bytes = rt_.block_on(s3.get_object("sluice-irsa", o.key));
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    std::ofstream(dir + "/from-s3/" + fs::path(o.key).filename().string(), std::ios::binary) << *bytes;
    ++parquet;
  }
  EXPECT_EQ(parquet, s.files.size());
  EXPECT_EQ(pipeline::check_output(dir + "/from-s3", n), pipeline::expected_counts(n).written);
}

}  // namespace
}  // namespace sluice::s3
