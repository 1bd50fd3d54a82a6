// How the bytes of an answer become a Response: the header lines into one
// block (names in lower case), the body into one string reserved from its
// Content-Length, a gzip or deflate body decoded within a limit, and
// Retry-After read. Internal to the HTTP client, and what its fuzzer feeds
// raw bytes to (parse_response).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/http/client.h"

namespace sluice::http::detail {

// Room a body's string keeps past its Content-Length: what SIMD JSON
// parsers read past the end, so that they need not copy it.
constexpr std::size_t kBodySlack = 64;

// Parses an answer straight into a Response: no header field is allocated
// on its own. Not thread-safe; one per exchange.
class ResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(Response& r) : r_(r) {}

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { r_.status = code; }
  void on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override;
  std::size_t on_body_impl(string_view s, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view s, error_code&) override;
  void on_finish_impl(error_code&) override {}

  Response& r_;
};

// Decodes the body by its Content-Encoding (gzip, x-gzip, deflate; any
// other is left as it is), growing it to `limit` bytes at most:
// kResourceExhausted past it, kDataLoss for a malformed body.
Status decode_body(Response& r, std::size_t limit);

// Retry-After: delay-seconds or an HTTP-date (RFC 9110); nullopt if neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v);

// The whole of an answer's bytes parsed and decoded as the client does it:
// kDataLoss if they are not one complete answer, kResourceExhausted if its
// body passes max_body_bytes.
Result<Response> parse_response(std::string_view bytes, std::size_t max_body_bytes);

}  // namespace sluice::http::detail
