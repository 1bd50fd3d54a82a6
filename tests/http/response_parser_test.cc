// How the bytes of an answer become a Response, as the client reads them:
// headers, bodies by length, chunks or to the end, decoding, limits.
#include "../../src/http/response_parser.h"

#include <gtest/gtest.h>

#include "gzip_util.h"

namespace sluice::http::detail {
namespace {

using testing::gzip;

TEST(ResponseParser, HeadersAndABodyByLengthWithRoomForSimdParsers) {
  auto r = parse_response(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Two: a\r\nx-two: b\r\nContent-Length: 4\r\n\r\n{\"a\"",
      100);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"a\"");
  EXPECT_GE(r->body.capacity(), r->body.size() + kBodySlack) << "no copy needed to pad it for simdjson";
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("x-two"), "a") << "the first of a repeated header";
}

TEST(ResponseParser, ChunkedGzipAndABodyToTheEndOfTheConnection) {
  const std::string plain(3000, 'z');
  const std::string packed = gzip(plain);
  char size[16];
  std::snprintf(size, sizeof size, "%zx", packed.size());
  auto r = parse_response("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
                              std::string(size) + "\r\n" + packed + "\r\n0\r\n\r\n",
                          10000);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, plain);
  auto to_end = parse_response("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", 100);
  ASSERT_TRUE(to_end.ok()) << to_end.status().to_string();
  EXPECT_EQ(to_end->body, "all of it");
}

TEST(ResponseParser, LimitsHoldForTheBodyAndForWhatItDecodesTo) {
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", 10).status().code(),
            StatusCode::kResourceExhausted);
  const std::string packed = gzip(std::string(100000, 'a'));  // a small body that decodes to 100 kB
  auto bomb =
      parse_response("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(packed.size()) +
                         "\r\n\r\n" + packed,
                     50000);
  EXPECT_EQ(bomb.status().code(), StatusCode::kResourceExhausted);
  auto broken = parse_response("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnot z", 100);
  EXPECT_EQ(broken.status().code(), StatusCode::kDataLoss);
}

// decode_body on its own, as a caller that asked for the body as it came
// uses it on a CPU thread: every coding, its limit, and a reused buffer.
TEST(DecodeBody, DecodesEachCodingIntoTheCallersBufferWithinTheLimit) {
  const std::string plain = "{\"events\":[" + std::string(20000, '1') + "]}";
  std::string out = "left from before";
  ASSERT_TRUE(http::decode_body(gzip(plain), "gzip", 1 << 20, out).ok());
  EXPECT_EQ(out, plain);
  const std::size_t capacity = out.capacity();
  ASSERT_TRUE(http::decode_body(gzip("short"), "X-GZIP", 1 << 20, out).ok());  // names in any case
  EXPECT_EQ(out, "short");
  EXPECT_EQ(out.capacity(), capacity) << "the buffer is reused, not reallocated";
  ASSERT_TRUE(http::decode_body("as it is", "", 100, out).ok());
  EXPECT_EQ(out, "as it is");
  ASSERT_TRUE(http::decode_body("as it is", "br", 100, out).ok());  // a coding it does not know: left alone
  EXPECT_EQ(out, "as it is");

  // deflate as servers send it: zlib-wrapped, or raw (RFC 1951) by mistake.
  ASSERT_TRUE(http::decode_body(testing::deflate_with(plain, 15), "deflate", 1 << 20, out).ok());
  EXPECT_EQ(out, plain);
  const std::string raw = testing::deflate_with(plain, -15);
  ASSERT_TRUE(http::decode_body(raw, "deflate", 1 << 20, out).ok());
  EXPECT_EQ(out, plain);

  EXPECT_EQ(http::decode_body(gzip(plain), "gzip", plain.size() - 1, out).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(http::decode_body(gzip(plain).substr(0, 40), "gzip", 1 << 20, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(http::decode_body("not z", "gzip", 100, out).code(), StatusCode::kDataLoss);
  // Said to be gzip but zlib-wrapped: read all the same.
  ASSERT_TRUE(http::decode_body(testing::deflate_with(plain, 15), "gzip", 1 << 20, out).ok());
  EXPECT_EQ(out, plain);
  // Garbage whose last four bytes claim 4 GB: an error, not a 4 GB buffer.
  const std::string garbage = std::string(30, 'x') + "\xff\xff\xff\xff";
  std::string fresh;
  EXPECT_EQ(http::decode_body(garbage, "gzip", std::size_t{1} << 40, fresh).code(), StatusCode::kDataLoss);
  EXPECT_LE(fresh.capacity(), garbage.size() * 1032 * 2);
}

// Found by fuzzing: no bytes at all reached a parser precondition (an
// assertion in Beast) instead of an error.
TEST(ResponseParser, NoBytesOrHalfAnAnswerIsAnError) {
  EXPECT_EQ(parse_response("", 100).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 100).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(parse_response("garbage\r\n\r\n", 100).status().code(), StatusCode::kDataLoss);
}

TEST(ResponseParser, RetryAfterIsSecondsOrAnHttpDate) {
  EXPECT_EQ(parse_retry_after(" 3 "), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::chrono::milliseconds(0))
      << "a date in the past: at once";
  EXPECT_FALSE(parse_retry_after("soon"));
  EXPECT_FALSE(parse_retry_after("-1"));
}

}  // namespace
}  // namespace sluice::http::detail
