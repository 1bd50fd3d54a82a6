#include "response_parser.h"

#include <zlib.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <cctype>
#include <charconv>
#include <ctime>

namespace sluice::http {

namespace {

enum class Coding : std::uint8_t { kIdentity, kGzip, kDeflate };

Coding coding_of(std::string_view content_encoding) {
  auto is = [&](std::string_view name) {
    return content_encoding.size() == name.size() &&
           std::equal(name.begin(), name.end(), content_encoding.begin(),
                      [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  };
  if (is("gzip") || is("x-gzip")) return Coding::kGzip;
  if (is("deflate")) return Coding::kDeflate;
  return Coding::kIdentity;
}

// Inflates a gzip or zlib body (windowBits 15 + 32 detects which), or a raw
// deflate one, into `out` (its capacity used first), refusing to grow past
// `limit`.
Status inflate_into(std::string_view in, bool raw, std::size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, raw ? -15 : 15 + 32) != Z_OK) return Status::Internal("zlib: inflateInit2 failed");
  out.resize(std::min<std::size_t>(limit + 1, std::max({in.size() * 4, out.capacity(), std::size_t{4096}})));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.total_out == out.size()) {
      if (out.size() > limit) break;
      out.resize(std::min(limit + 1, out.size() * 2));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  const std::size_t n = zs.total_out;
  inflateEnd(&zs);
  out.resize(std::min(n, out.size()));
  if (n > limit)
    return Status::ResourceExhausted("the decoded body is larger than max_body_bytes (" + std::to_string(limit) + ")");
  if (rc != Z_STREAM_END) return Status::DataLoss("the compressed body is malformed or truncated");
  return Status();
}

}  // namespace

Status decode_body(std::string_view body, std::string_view content_encoding, std::size_t limit, std::string& out) {
  const Coding coding = coding_of(content_encoding);
  if (coding == Coding::kIdentity) {
    out.assign(body);
    return Status();
  }
  Status s = inflate_into(body, false, limit, out);
  if (!s.ok() && coding == Coding::kDeflate) s = inflate_into(body, true, limit, out);
  return s;
}

}  // namespace sluice::http

namespace sluice::http::detail {

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  std::int64_t seconds = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (r.ec == std::errc() && r.ptr == v.data() + v.size()) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::milliseconds(std::min<std::int64_t>(seconds, 1'000'000) * 1000);
  }
  std::tm tm{};
  std::string s(v);
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  std::time_t when = timegm(&tm);
  std::time_t now = std::time(nullptr);
  return std::chrono::milliseconds(when > now ? static_cast<std::int64_t>(when - now) * 1000 : 0);
}

void ResponseParser::on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) {
  const std::size_t at = r_.header_block.size();
  r_.header_block.append(name.data(), name.size());
  for (std::size_t i = at; i < r_.header_block.size(); ++i) {
    r_.header_block[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(r_.header_block[i])));
  }
  r_.header_block.append(": ").append(value.data(), value.size()).append("\r\n");
}

void ResponseParser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  if (length)
    r_.body.reserve(static_cast<std::size_t>(*length) + kBodySlack);  // within body_limit: checked before this
}

std::size_t ResponseParser::on_body_impl(string_view s, error_code&) {
  r_.body.append(s.data(), s.size());
  return s.size();
}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, string_view s, error_code&) {
  r_.body.append(s.data(), s.size());
  return s.size();
}

Status decode_body(Response& r, std::size_t limit) {
  const std::string_view encoding = r.header("content-encoding");
  if (coding_of(encoding) == Coding::kIdentity) return Status();
  std::string plain;
  SLUICE_RETURN_IF_ERROR(http::decode_body(r.body, encoding, limit, plain));
  r.body = std::move(plain);
  return Status();
}

Result<Response> parse_response(std::string_view bytes, std::size_t max_body_bytes) {
  Response r;
  ResponseParser parser(r);
  parser.body_limit(max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec == boost::beast::http::error::body_limit)
      return Status::ResourceExhausted("the body is larger than max_body_bytes");
    if (ec) return Status::DataLoss("malformed answer: " + ec.message());
    if (n == 0) break;
    used += n;
  }
  if (!parser.got_some()) return Status::DataLoss("no answer");
  if (!parser.is_done()) {
    parser.put_eof(ec);  // a body that runs to the end of the connection
    if (ec || !parser.is_done()) return Status::DataLoss("the answer is incomplete");
  }
  SLUICE_RETURN_IF_ERROR(decode_body(r, max_body_bytes));
  return r;
}

}  // namespace sluice::http::detail
