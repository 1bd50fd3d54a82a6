// Signature Version 4 against AWS's published worked examples.
#include "../../src/store/sigv4.h"

#include <gtest/gtest.h>

namespace sluice::s3 {
namespace {

TEST(SigV4, SigningKeyMatchesTheSpecificationsExample) {
  // The signing-key walkthrough of the SigV4 documentation.
  EXPECT_EQ(to_hex(signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4, IamListUsersExample) {
  // The documentation's IAM ListUsers request: canonical request, its hash in
  // the string to sign, and the signature.
  SigningInput in{.method = "GET",
                  .path = "/",
                  .query = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}},
                  .headers = {{"Host", "iam.amazonaws.com"},
                              {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                              {"X-Amz-Date", "20150830T123600Z"}},
                  .payload_hash = sha256_hex(""),
                  .amz_date = "20150830T123600Z",
                  .region = "us-east-1",
                  .service = "iam"};
  Signed s =
      sign(in, {.access_key_id = "AKIDEXAMPLE", .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"});
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(s.canonical_request), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, S3GetObjectExample) {
  // The S3 API reference's GET Object example (first 10 bytes of test.txt).
  SigningInput in{.method = "GET",
                  .path = "/test.txt",
                  .headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                              {"Range", "bytes=0-9"},
                              {"x-amz-content-sha256", sha256_hex("")},
                              {"x-amz-date", "20130524T000000Z"}},
                  .payload_hash = sha256_hex(""),
                  .amz_date = "20130524T000000Z",
                  .region = "us-east-1"};
  Signed s = sign(
      in, {.access_key_id = "AKIAIOSFODNN7EXAMPLE", .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"});
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, EncodesKeysTheWayS3Expects) {
  EXPECT_EQ(uri_encode("/photos/a b+c/é.txt", Slash::kKeep), "/photos/a%20b%2Bc/%C3%A9.txt");
  EXPECT_EQ(uri_encode("a/b=c&d", Slash::kEncode), "a%2Fb%3Dc%26d");
  EXPECT_EQ(uri_encode("-_.~AZaz09", Slash::kEncode), "-_.~AZaz09");
}

TEST(SigV4, HeaderValuesAreTrimmedAndQueryParametersSorted) {
  SigningInput in{.method = "GET",
                  .path = "/b",
                  .query = {{"z", "1"}, {"a", "2 3"}, {"a", "1"}},
                  .headers = {{"Host", "h"}, {"X-Amz-Meta-Note", "  two   spaces  "}},
                  .payload_hash = "UNSIGNED-PAYLOAD",
                  .amz_date = "20240101T000000Z",
                  .region = "eu-west-1"};
  Signed s = sign(in, {.access_key_id = "A", .secret_access_key = "S"});
  EXPECT_EQ(s.canonical_request,
            "GET\n/b\na=1&a=2%203&z=1\nhost:h\nx-amz-meta-note:two spaces\n\nhost;x-amz-meta-note\nUNSIGNED-PAYLOAD");
}

TEST(SigV4, AmzDateIsUtcInTheBasicFormat) {
  EXPECT_EQ(amz_date(std::chrono::system_clock::from_time_t(1369353600)), "20130524T000000Z");
  EXPECT_EQ(amz_date(std::chrono::system_clock::from_time_t(1796051045)), "20261130T150405Z");
}

}  // namespace
}  // namespace sluice::s3
