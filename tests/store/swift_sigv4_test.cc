// sluice's SigV4 signatures checked by an independent verifier: OpenStack
// Swift's S3 API on loopback (tests/s3/swift_server.sh), through sluice's
// own HTTP client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <random>

#include "../../src/store/aws_config.h"
#include "../../src/store/s3_client.h"
#include "../../src/store/sigv4.h"
#include "../parquet/parquet_test_util.h"
#include "sluice/http/client.h"
#include "sluice/parquet/writer.h"
#include "swift_fixture.h"

namespace sluice::s3 {
namespace {

TEST_F(SwiftTest, SignedRequestsAreAcceptedAndTheObjectReadsBack) {
  auto bucket = send(http::Method::kPut, "PUT", "/sluice-sigv4", "", kGood);
  ASSERT_TRUE(bucket.ok()) << bucket.status().to_string();
  ASSERT_EQ(bucket->status, 200) << bucket->body;
  const std::string data = "id,v\n1,2.5\n";
  auto put = send(http::Method::kPut, "PUT", "/sluice-sigv4/dir/a b+c.csv", data, kGood);
  ASSERT_TRUE(put.ok()) << put.status().to_string();
  ASSERT_EQ(put->status, 200) << put->body;
  auto get = send(http::Method::kGet, "GET", "/sluice-sigv4/dir/a b+c.csv", "", kGood);
  ASSERT_TRUE(get.ok()) << get.status().to_string();
  EXPECT_EQ(get->status, 200) << get->body;
  EXPECT_EQ(get->body, data);
}

TEST_F(SwiftTest, AWrongSecretIsRefusedWithAnS3Error) {
  auto r = send(http::Method::kGet, "GET", "/sluice-sigv4-missing", "",
                {.access_key_id = "test:tester", .secret_access_key = "not-the-secret"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 403);
  auto e = parse_s3_error(r->body);
  ASSERT_TRUE(e.has_value()) << r->body;
  EXPECT_EQ(e->code, "SignatureDoesNotMatch");
  EXPECT_FALSE(e->request_id.empty());
}

TEST_F(S3ClientTest, PutGetHeadListDelete) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-ops")).ok());
  ASSERT_TRUE(rt_.block_on(s3.put_object("sluice-ops", "runs/1/part-0.parquet", "0123456789")).ok());
  auto body = rt_.block_on(s3.get_object("sluice-ops", "runs/1/part-0.parquet"));
  ASSERT_TRUE(body.ok()) << body.status().to_string();
  EXPECT_EQ(*body, "0123456789");
  auto head = rt_.block_on(s3.head_object("sluice-ops", "runs/1/part-0.parquet"));
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status().to_string();
  EXPECT_EQ((*head)->size, 10u);
  EXPECT_FALSE(rt_.block_on(s3.head_object("sluice-ops", "runs/1/none"))->has_value());
  auto missing = rt_.block_on(s3.get_object("sluice-ops", "runs/1/none"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("NoSuchKey"), std::string::npos) << missing.status().message();
  ASSERT_TRUE(rt_.block_on(s3.delete_object("sluice-ops", "runs/1/part-0.parquet")).ok());
  EXPECT_FALSE(rt_.block_on(s3.head_object("sluice-ops", "runs/1/part-0.parquet"))->has_value());
}

TEST_F(S3ClientTest, ListingPagesThroughEveryKey) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-list")).ok());
  std::vector<std::string> keys = {"p/a", "p/b", "p/c d", "p/e&f", "p/g", "q/other"};
  for (const auto& k : keys) ASSERT_TRUE(rt_.block_on(s3.put_object("sluice-list", k, "x")).ok()) << k;
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = rt_.block_on(s3.list_objects("sluice-list", "p/", token, 2));
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    for (const auto& o : page->objects) seen.push_back(o.key);
    token = page->next_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"p/a", "p/b", "p/c d", "p/e&f", "p/g"}));
  EXPECT_EQ(pages, 3);
}

TEST_F(S3ClientTest, AWrongSecretGivesTheS3ErrorAndNoSecret) {
  S3Client s3 = make({.access_key_id = "test:tester", .secret_access_key = "WRONG-SECRET-VALUE"});
  auto r = rt_.block_on(s3.get_object("sluice-ops", "x"));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("get s3://sluice-ops/x: HTTP 403 SignatureDoesNotMatch"), std::string::npos) << m;
  EXPECT_NE(m.find("request id tx"), std::string::npos) << m;
  EXPECT_EQ(m.find("WRONG-SECRET-VALUE"), std::string::npos);
  EXPECT_EQ(m.find("Signature="), std::string::npos);
}

TEST_F(S3ClientTest, MultipartStreamReadsBackByteIdentical) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-multipart")).ok());
  const std::string data = random_bytes((12 << 20) + 12345, 7);
  auto out = open_upload(rt_, s3, "sluice-multipart", "big.bin", {.part_bytes = 5 << 20, .parts_in_flight = 2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  for (std::size_t at = 0; at < data.size(); at += 100'003) {  // odd-sized writes across part boundaries
    Status w = (*out)->write(std::string_view(data).substr(at, 100'003));
    ASSERT_TRUE(w.ok()) << w.to_string();
  }
  EXPECT_FALSE(rt_.block_on(s3.head_object("sluice-multipart", "big.bin"))->has_value()) << "not visible before close";
  Status closed = (*out)->close();
  ASSERT_TRUE(closed.ok()) << closed.to_string();
  auto back = rt_.block_on(s3.get_object("sluice-multipart", "big.bin"));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == data) << "read back " << back->size() << " bytes of " << data.size();
}

TEST_F(S3ClientTest, SmallStreamIsOnePutAndAbortLeavesNothing) {
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-small")).ok());
  auto out = *open_upload(rt_, s3, "sluice-small", "small.txt", {.part_bytes = 5 << 20});
  ASSERT_TRUE(out->write("hello").ok());
  ASSERT_TRUE(out->close().ok());
  EXPECT_EQ(*rt_.block_on(s3.get_object("sluice-small", "small.txt")), "hello");

  auto aborted = *open_upload(rt_, s3, "sluice-small", "gone.bin", {.part_bytes = 5 << 20, .parts_in_flight = 2});
  ASSERT_TRUE(aborted->write(random_bytes(11 << 20, 3)).ok());  // two parts already sent
  aborted->abort();
  EXPECT_FALSE(rt_.block_on(s3.head_object("sluice-small", "gone.bin"))->has_value());
  EXPECT_EQ(open_upload(rt_, s3, "b", "k", {.part_bytes = 1 << 20}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3ClientTest, ParquetStreamedThroughAMultipartUploadReadsBackInDuckdb) {
  using namespace sluice::parquet;
  S3Client s3 = make();
  ASSERT_TRUE(rt_.block_on(s3.create_bucket("sluice-parquet")).ok());
  Schema schema =
      *Schema::make({{.name = "id", .type = ColumnType::kInt64}, {.name = "v", .type = ColumnType::kDouble}});
  ColumnBatch b;
  b.rows = 500'000;
  b.columns.resize(2);
  std::mt19937_64 rng(11);
  for (std::size_t i = 0; i < b.rows; ++i) {
    b.columns[0].i64.push_back(static_cast<std::int64_t>(rng()));
    b.columns[1].f64.push_back(std::uniform_real_distribution<double>(-1e9, 1e9)(rng));
  }
  auto stream = open_upload(rt_, s3, "sluice-parquet", "features/part-00000.parquet", {.part_bytes = 5 << 20});
  ASSERT_TRUE(stream.ok());
  auto writer =
      *ParquetWriter::open(schema, {.compression = Compression::kNone, .dictionary = false}, std::move(*stream));
  ASSERT_TRUE(writer->write(b).ok());
  auto summary = writer->close();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_GT(summary->bytes, 5u << 20) << "the file must need more than one part";
  auto bytes = rt_.block_on(s3.get_object("sluice-parquet", "features/part-00000.parquet"));
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  std::string local = dir_ + "/from-s3.parquet";
  std::ofstream(local, std::ios::binary) << *bytes;
  auto r = sluice::parquet::testing::check_with("duckdb", local, sluice::parquet::testing::expected_json(schema, {b}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace sluice::s3
