#include "response_parser.h"

#include <libdeflate.h>

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

// libdeflate inflates a whole body in one call, 1.6 times as fast as zlib's
// streaming inflate on a page of events (bench/json_benchmark); it needs room for all of the output, which
// a gzip body states in its last four bytes (ISIZE, the size modulo 2^32),
// and which is otherwise guessed and doubled as needed.
struct Inflater {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() { libdeflate_free_decompressor(d); }
};

enum class Wrapper : std::uint8_t { kGzip, kZlib, kRaw };

// Inflates `in` into `out` (its capacity used first), refusing to grow past
// `limit`. Bytes after the end of the compressed stream are ignored, as
// zlib's inflate does.
Status inflate_into(std::string_view in, Wrapper wrapper, std::size_t limit, std::string& out) {
  thread_local Inflater inflater;
  if (inflater.d == nullptr) return Status::ResourceExhausted("libdeflate: out of memory");
  std::size_t room = std::max({in.size() * 4, out.capacity(), std::size_t{4096}});
  if (wrapper == Wrapper::kGzip && in.size() >= 18) {
    const auto* tail = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    const std::size_t isize =
        tail[0] | (std::size_t{tail[1]} << 8) | (std::size_t{tail[2]} << 16) | (std::size_t{tail[3]} << 24);
    // Deflate cannot shrink data more than ~1032 to 1: a larger ISIZE is
    // not believed (a body that is not gzip at all gets no huge buffer).
    room = std::clamp<std::size_t>(isize, 1, in.size() * 1032);
  }
  room = std::min(room, limit);
  for (;;) {
    out.resize(room);
    std::size_t used = 0, made = 0;
    libdeflate_result rc = LIBDEFLATE_BAD_DATA;
    switch (wrapper) {
      case Wrapper::kGzip:
        rc = libdeflate_gzip_decompress_ex(inflater.d, in.data(), in.size(), out.data(), room, &used, &made);
        break;
      case Wrapper::kZlib:
        rc = libdeflate_zlib_decompress_ex(inflater.d, in.data(), in.size(), out.data(), room, &used, &made);
        break;
      case Wrapper::kRaw:
        rc = libdeflate_deflate_decompress_ex(inflater.d, in.data(), in.size(), out.data(), room, &used, &made);
        break;
    }
    if (rc == LIBDEFLATE_SUCCESS) {
      out.resize(made);
      return Status();
    }
    if (rc != LIBDEFLATE_INSUFFICIENT_SPACE) {
      out.clear();
      return Status::DataLoss("the compressed body is malformed or truncated");
    }
    if (room >= limit) {
      out.clear();
      return Status::ResourceExhausted("the decoded body is larger than max_body_bytes (" + std::to_string(limit) +
                                       ")");
    }
    room = std::min(limit, room * 2);
  }
}

}  // namespace

Status decode_body(std::string_view body, std::string_view content_encoding, std::size_t limit, std::string& out) {
  const Coding coding = coding_of(content_encoding);
  if (coding == Coding::kIdentity) {
    out.assign(body);
    return Status();
  }
  // gzip as it says, or zlib-wrapped (zlib's inflate took either); "deflate"
  // zlib-wrapped (RFC 9110), or raw, as some servers send it.
  Status s = inflate_into(body, coding == Coding::kGzip ? Wrapper::kGzip : Wrapper::kZlib, limit, out);
  if (s.code() == StatusCode::kDataLoss)
    s = inflate_into(body, coding == Coding::kGzip ? Wrapper::kZlib : Wrapper::kRaw, limit, out);
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
