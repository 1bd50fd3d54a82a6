// ObjectStore::create_exclusive on S3 (PutObject with If-None-Match: *), the
// paths Swift's S3 API cannot show (it answers 501): a fake S3 on loopback
// that keeps objects and answers conditional writes as AWS documents them
// (200 created, 412 there already, 409 while another conditional write is
// under way), and one that ignores the header.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "fake_aws.h"
#include "sluice/store.h"

namespace sluice::s3 {
namespace {

// Objects by path ("/bucket/key"); conditional writes honoured unless `ignore_condition`.
class FakeS3 {
 public:
  explicit FakeS3(bool ignore_condition = false)
      : ignore_(ignore_condition), server_([this](const SeenRequest& r) { return answer(r); }) {}
  std::string url() const { return server_.url(); }
  std::vector<SeenRequest> requests() const { return server_.requests(); }
  // The next `n` conditional writes of `path` answer 409.
  void conflict(const std::string& path, int n) {
    std::lock_guard lock(mu_);
    conflicts_[path] = n;
  }
  std::optional<std::string> object(const std::string& path) {
    std::lock_guard lock(mu_);
    auto it = objects_.find(path);
    return it == objects_.end() ? std::nullopt : std::optional(it->second);
  }

 private:
  FakeReply answer(const SeenRequest& r) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (r.header("authorization").find("AWS4-HMAC-SHA256 Credential=AKIDFAKE/") != 0) return {403, ""};
    std::lock_guard lock(mu_);
    if (r.method == "GET" && r.target.find("list-type=2") != std::string::npos) {
      return {200, "<ListBucketResult></ListBucketResult>"};
    }
    if (r.method == "PUT") {
      const bool conditional = r.header("if-none-match") == "*";
      if (conditional && !ignore_) {
        if (int& c = conflicts_[path]; c > 0) {
          --c;
          return {409, "<Error><Code>ConditionalRequestConflict</Code><Message>busy</Message></Error>"};
        }
        if (objects_.contains(path)) {
          return {412,
                  "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
                  "specified did not hold</Message></Error>"};
        }
      }
      objects_[path] = r.body;
      return {200, ""};
    }
    if (r.method == "GET") {
      auto it = objects_.find(path);
      return it == objects_.end() ? FakeReply{404, "<Error><Code>NoSuchKey</Code></Error>"}
                                  : FakeReply{200, it->second};
    }
    if (r.method == "DELETE") {
      objects_.erase(path);
      return {204, ""};
    }
    return {400, ""};
  }

  const bool ignore_;
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
  std::map<std::string, int> conflicts_;
  FakeAws server_;  // last: it answers from the members above
};

class ConditionalWrites : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = ::testing::TempDir() + "/sluice-cw-" + std::to_string(::getpid());
    std::filesystem::remove_all(journal_);
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "fake-secret", 1);
  }
  void TearDown() override {
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
  }
  std::unique_ptr<ObjectStore> open(const FakeS3& s3) {
    auto store = open_store("s3://jobs/out", {.s3_endpoint = s3.url(), .s3_max_attempts = 1, .journal_dir = journal_});
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string journal_;
};

TEST_F(ConditionalWrites, TheFirstCreateWinsAndAnotherWritersIsRefused) {
  FakeS3 s3;
  auto store = open(s3);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_exclusive("_job-shard-1-of-4-commit.json", "attempt a").ok());
  EXPECT_EQ(s3.object("/jobs/out/_job-shard-1-of-4-commit.json"), "attempt a");
  const Status second = store->create_exclusive("_job-shard-1-of-4-commit.json", "attempt b");
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists) << second.to_string();
  EXPECT_EQ(s3.object("/jobs/out/_job-shard-1-of-4-commit.json"), "attempt a") << "the winner's stays";
  // Every create carried the condition; the probe (two creates of one key,
  // the second refused) left nothing behind.
  std::size_t puts = 0;
  for (const SeenRequest& r : s3.requests()) {
    if (r.method != "PUT") continue;
    ++puts;
    EXPECT_EQ(r.header("if-none-match"), "*") << r.target;
  }
  EXPECT_EQ(puts, 4u) << "two for the probe, two creates";
  for (const SeenRequest& r : s3.requests()) {
    if (r.target.find("_sluice-conditional-write-probe-") != std::string::npos && r.method == "PUT") {
      EXPECT_FALSE(s3.object(r.target.substr(0, r.target.find('?'))).has_value()) << "the probe is removed";
    }
  }
}

TEST_F(ConditionalWrites, ACreateWhoseAnswerWasLostFindsItsOwnObject) {
  FakeS3 s3;
  auto store = open(s3);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_exclusive("commit.json", "mine").ok());
  // Sent again (its first answer lost): 412, but the object is this writer's bytes.
  EXPECT_TRUE(store->create_exclusive("commit.json", "mine").ok());
}

TEST_F(ConditionalWrites, AConflictWithAnotherConditionalWriteIsRetried) {
  FakeS3 s3;
  auto store = open(s3);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_exclusive("warm-up", "x").ok());  // the probe is done
  s3.conflict("/jobs/out/busy.json", 2);
  EXPECT_TRUE(store->create_exclusive("busy.json", "data").ok());
  std::size_t puts = 0;
  for (const SeenRequest& r : s3.requests()) puts += r.method == "PUT" && r.target == "/jobs/out/busy.json";
  EXPECT_EQ(puts, 3u) << "two 409s, then created";

  s3.conflict("/jobs/out/stuck.json", 100);
  const Status stuck = store->create_exclusive("stuck.json", "data");
  EXPECT_FALSE(stuck.ok());
  EXPECT_NE(stuck.message().find("ConditionalRequestConflict"), std::string::npos) << stuck.to_string();
}

TEST_F(ConditionalWrites, AServiceThatIgnoresTheConditionIsRefused) {
  FakeS3 s3(/*ignore_condition=*/true);
  auto store = open(s3);
  ASSERT_NE(store, nullptr);
  const Status s = store->create_exclusive("commit.json", "a");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.to_string();
  EXPECT_NE(s.message().find("ignored If-None-Match: *"), std::string::npos) << s.message();
  EXPECT_FALSE(s3.object("/jobs/out/commit.json").has_value()) << "nothing created on such a service";
}

}  // namespace
}  // namespace sluice::s3
