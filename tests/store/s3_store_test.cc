// The S3 ObjectStore against Swift's S3 API on loopback: the store's
// operations under a prefix, large streamed objects, credentials refused at
// open, and the journal that lets a later run clean up after a run whose
// server went away in the middle of an upload.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "../../src/store/upload_journal.h"
#include "flaky_proxy.h"
#include "sluice/store.h"
#include "swift_fixture.h"

namespace sluice::s3 {
namespace {

namespace fs = std::filesystem;

class S3StoreTest : public S3ClientTest {
 protected:
  void SetUp() override {
    S3ClientTest::SetUp();
    ::setenv("AWS_ACCESS_KEY_ID", kGood.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kGood.secret_access_key.c_str(), 1);
    ::setenv("AWS_REGION", "us-east-1", 1);
    journal_ = dir_ + "/journal-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  StoreOptions options() {
    return {.s3_endpoint = "http://127.0.0.1:" + std::to_string(port_),
            .s3_part_bytes = 5 << 20,
            .s3_parts_in_flight = 2,
            .s3_max_attempts = 2,
            .journal_dir = journal_,
            .on_notice = [this](const std::string& n) {
              // Where the credentials came from is said at each open: not what these tests count.
              if (n.find("AWS credentials from") == std::string::npos) notices_.push_back(n);
              credentials_said_ = credentials_said_ || n.find("AWS credentials from environment") != std::string::npos;
            }};
  }

  std::size_t journal_entries() const {
    std::error_code ec;
    std::size_t n = 0;
    for (fs::directory_iterator it(journal_, ec), end; !ec && it != end; it.increment(ec))
      n += it->path().extension() == ".upload";
    return n;
  }

  std::string journal_;
  std::vector<std::string> notices_;
  bool credentials_said_ = false;
};

TEST_F(S3StoreTest, OperationsWorkUnderThePrefix) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-store")).ok());
  ASSERT_TRUE(rt_.block_on(s3.put_object("sluice-store", "elsewhere/x", "not ours")).ok());
  auto opened = open_store("s3://sluice-store/runs/7/", options());
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_TRUE(credentials_said_) << "opening says where the credentials came from";
  ObjectStore& store = **opened;
  ASSERT_TRUE(store.put("part-0.parquet", "abc").ok());
  ASSERT_TRUE(store.put("sub/part-1.parquet", "defg").ok());
  EXPECT_EQ(*store.get("part-0.parquet"), "abc");
  EXPECT_EQ(*rt_.block_on(s3.get_object("sluice-store", "runs/7/sub/part-1.parquet")), "defg");
  auto head = store.head("sub/part-1.parquet");
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->key, "sub/part-1.parquet");
  EXPECT_EQ((*head)->size, 4u);
  EXPECT_FALSE(store.head("missing")->has_value());
  EXPECT_EQ(store.get("missing").status().code(), StatusCode::kNotFound);
  auto all = store.list("");
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, "part-0.parquet");
  EXPECT_EQ((*all)[1].key, "sub/part-1.parquet");
  EXPECT_EQ(store.list("sub/")->size(), 1u);
  EXPECT_EQ(store.describe("a.parquet"), "s3://sluice-store/runs/7/a.parquet");
  ASSERT_TRUE(store.remove("part-0.parquet").ok());
  EXPECT_FALSE(store.head("part-0.parquet")->has_value());
  EXPECT_EQ(store.put("../escape", "x").code(), StatusCode::kInvalidArgument);
}

// Swift's S3 API answers a conditional PUT 501: a create that must be
// atomic is refused there with a message that says why, and nothing is
// written (never a plain PUT in its place).
TEST_F(S3StoreTest, CreateExclusiveIsRefusedWhereTheServiceHasNoConditionalWrites) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-exclusive")).ok());
  auto opened = open_store("s3://sluice-exclusive/job/", options());
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  ObjectStore& store = **opened;
  Status s = store.create_exclusive("_commit.json", "attempt a");
  ASSERT_EQ(s.code(), StatusCode::kUnimplemented) << s.to_string();
  EXPECT_NE(s.message().find("does not support conditional writes (If-None-Match: *)"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("NotImplemented"), std::string::npos) << s.message();
  EXPECT_FALSE(store.head("_commit.json")->has_value());
  EXPECT_TRUE(store.list("")->empty()) << "no probe object is left either";
  EXPECT_EQ(store.create_exclusive("_commit.json", "attempt b").code(), StatusCode::kUnimplemented);
}

TEST_F(S3StoreTest, FiftyMebibytesStreamInPartsAndReadBackByteIdentical) {
  ASSERT_TRUE(rt_.block_on(make().create_bucket("sluice-big")).ok());
  auto store = open_store("s3://sluice-big", options());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const std::string data = random_bytes((50 << 20) + 777, 50);
  auto out = (*store)->open_write("big/fifty.bin");
  ASSERT_TRUE(out.ok());
  for (std::size_t at = 0; at < data.size(); at += 1'000'003) {
    ASSERT_TRUE((*out)->write(std::string_view(data).substr(at, 1'000'003)).ok());
  }
  EXPECT_EQ(journal_entries(), 1u) << "an upload in progress is in the journal";
  EXPECT_FALSE((*store)->head("big/fifty.bin")->has_value()) << "not visible before close";
  Status closed = (*out)->close();
  ASSERT_TRUE(closed.ok()) << closed.to_string();
  EXPECT_EQ(journal_entries(), 0u) << "a completed upload leaves the journal";
  auto back = (*store)->get("big/fifty.bin");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == data) << "read back " << back->size() << " bytes of " << data.size();
}

// The endpoint goes away for two seconds while parts are in flight (every
// connection cut, new ones refused), with two attempts per request: the
// parts wait for it instead of spending their attempts, and the object
// completes byte-identical.
TEST_F(S3StoreTest, AnEndpointDownForSecondsMidUploadIsWaitedFor) {
  ASSERT_TRUE(rt_.block_on(make().create_bucket("sluice-outage")).ok());
  testing::FlakyProxy proxy(static_cast<std::uint16_t>(port_));
  StoreOptions o = options();
  o.s3_endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto store = open_store("s3://sluice-outage", o);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const std::string data = random_bytes((24 << 20) + 5, 24);
  std::thread outage([&] {
    while (proxy.bytes_up() < (7u << 20))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a part is going out
    proxy.set_down(true);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    proxy.set_down(false);
  });
  auto out = (*store)->open_write("outage/object.bin");
  ASSERT_TRUE(out.ok());
  Status written;
  for (std::size_t at = 0; at < data.size() && written.ok(); at += 1'000'003) {
    written = (*out)->write(std::string_view(data).substr(at, 1'000'003));
  }
  Status closed = written.ok() ? (*out)->close() : written;
  outage.join();
  ASSERT_TRUE(closed.ok()) << closed.to_string();
  EXPECT_GT(proxy.refused(), 0) << "the endpoint was really down while the upload needed it";
  auto back = (*store)->get("outage/object.bin");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == data) << "read back " << back->size() << " bytes of " << data.size();
}

TEST_F(S3StoreTest, WrongCredentialsAreRefusedAtOpenWithoutTheSecret) {
  ::setenv("AWS_SECRET_ACCESS_KEY", "WRONG-SECRET-VALUE", 1);
  auto store = open_store("s3://sluice-any/p", options());
  ASSERT_FALSE(store.ok());
  const std::string m = store.status().to_string();
  EXPECT_NE(m.find("cannot use 's3://sluice-any/p'"), std::string::npos) << m;
  EXPECT_NE(m.find("SignatureDoesNotMatch"), std::string::npos) << m;
  EXPECT_EQ(m.find("WRONG-SECRET-VALUE"), std::string::npos) << m;
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir_ + "/no-such-credentials").c_str(), 1);
  EXPECT_FALSE(open_store("s3://sluice-any/p", options()).ok());
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

// The front end is killed while parts are in flight: the writer fails with
// an error (after s3_give_up_after, no hang), nothing is visible, the journal keeps the upload, and
// the next run's open aborts it so no part is left behind.
// The test stops the server: it has one of its own.
class S3StoreOwnSwiftTest : public S3StoreTest {
 protected:
  static void SetUpTestSuite() { start_own(); }
};

TEST_F(S3StoreOwnSwiftTest, ServerKilledMidUploadFailsCleanlyAndTheNextRunAbortsTheUpload) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-killed")).ok());
  {
    StoreOptions o = options();
    o.s3_give_up_after = std::chrono::seconds(2);  // the endpoint is waited for this long
    auto store = open_store("s3://sluice-killed/out", o);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    auto out = (*store)->open_write("part-00000.parquet");
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->write(random_bytes(16 << 20, 1)).ok());  // three parts sent, one buffered
    ASSERT_EQ(std::system(script("kill-proxy " + dir_).c_str()), 0);
    Status w = (*out)->write(random_bytes(6 << 20, 2));
    Status c = w.ok() ? (*out)->close() : w;
    ASSERT_FALSE(c.ok()) << "the upload cannot succeed with the server gone";
    EXPECT_NE(c.message().find("s3://sluice-killed/out/part-00000.parquet"), std::string::npos) << c.to_string();
  }
  EXPECT_EQ(journal_entries(), 1u) << "the abort could not reach S3: the journal keeps the upload";
  ASSERT_EQ(std::system((script("start-proxy " + dir_ + " " + std::to_string(port_)) + " >/dev/null").c_str()), 0);

  EXPECT_FALSE(rt_.block_on(s3.head_object("sluice-killed", "out/part-00000.parquet"))->has_value());
  auto pending = rt_.block_on(s3.list_multipart_uploads("sluice-killed"));
  ASSERT_TRUE(pending.ok()) << pending.status().to_string();
  ASSERT_EQ(pending->size(), 1u) << "the parts are still stored";

  // The entry as an ended process leaves it (this process is still alive).
  for (const auto& f : fs::directory_iterator(journal_)) {
    std::ifstream in(f.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("\npid "), text.find('\n', text.find("\npid ") + 1) - text.find("\npid "), "\npid 0");
    std::ofstream(f.path(), std::ios::trunc) << text;
  }
  auto again = open_store("s3://sluice-killed/out", options());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_NE(notices_[0].find("aborted s3://sluice-killed/out/part-00000.parquet"), std::string::npos) << notices_[0];
  EXPECT_EQ(journal_entries(), 0u);
  EXPECT_TRUE(rt_.block_on(s3.list_multipart_uploads("sluice-killed"))->empty()) << "no orphaned parts";
  EXPECT_TRUE((*again)->list("")->empty()) << "nothing visible";
}

// A run that died after sending every part, while completing: the next run
// completes the upload, and the object appears whole.
TEST_F(S3StoreTest, AnUploadWhoseCompletionWasInterruptedIsCompletedByTheNextRun) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-complete")).ok());
  const std::string a = random_bytes(5 << 20, 3), b = "the last part";
  std::string id = *rt_.block_on(s3.create_multipart("sluice-complete", "f.bin"));
  std::vector<std::string> etags = {*rt_.block_on(s3.upload_part("sluice-complete", "f.bin", id, 1, a)),
                                    *rt_.block_on(s3.upload_part("sluice-complete", "f.bin", id, 2, b))};
  UploadJournal journal(journal_);
  JournalEntry e{.service = s3.service(),
                 .bucket = "sluice-complete",
                 .key = "f.bin",
                 .upload_id = id,
                 .completing = true,
                 .etags = etags};
  ASSERT_TRUE(journal.add(e).ok());
  EXPECT_TRUE(journal.abandoned(e.service, e.bucket)->empty()) << "a live writer's upload is not touched";
  e.pid = 0;  // as a process that has ended leaves it
  ASSERT_TRUE(journal.update(e).ok());
  auto store = open_store("s3://sluice-complete", options());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_NE(notices_[0].find("completed s3://sluice-complete/f.bin"), std::string::npos) << notices_[0];
  EXPECT_TRUE(*(*store)->get("f.bin") == a + b);
  EXPECT_EQ(journal_entries(), 0u);
}

}  // namespace
}  // namespace sluice::s3
