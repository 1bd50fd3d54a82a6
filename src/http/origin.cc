#include "origin.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>

namespace sluice::http::detail {

namespace asio = boost::asio;

namespace {

// RFC 3986: a path keeps its pchars and '/', a query component only its
// unreserved characters.
constexpr std::string_view kPathChars = "/-._~!$&'()*+,;=:@";
constexpr std::string_view kQueryChars = "-._~";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Appends `in` to `out` with every byte but ASCII letters, digits and those
// in `keep` written as %XX.
void percent_encode(std::string_view in, std::string_view keep, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if (std::isalnum(c) || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

}  // namespace

Result<Origin> Origin::create(const ClientOptions& options) {
  auto parsed = boost::urls::parse_uri(options.base_url);
  if (!parsed) return Status::InvalidArgument("base_url '" + options.base_url + "': not a URL");
  Origin o;
  o.scheme_ = std::string(parsed->scheme());
  o.host_ = std::string(parsed->host());
  const bool https = o.scheme_ == "https";
  o.port_ = parsed->has_port() ? std::string(parsed->port()) : https ? "443" : "80";
  if (https) {
    asio::ssl::context& ctx = o.tls_.emplace(asio::ssl::context::tls_client);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(options.ca_file, ec);
    }
    if (ec) {
      return Status::InvalidArgument("ca_file '" + options.ca_file + "': cannot load certificates (" + ec.message() +
                                     ")");
    }
  }
  o.host_header_ = parsed->has_port() ? o.host_ + ":" + o.port_ : o.host_;
  o.base_path_ = std::string(parsed->path());
  if (!o.base_path_.empty() && o.base_path_.back() == '/') o.base_path_.pop_back();
  o.fixed_headers_ = "Host: " + o.host_header_ + "\r\nUser-Agent: sluice/0.1.0\r\n";
  if (options.accept_compressed) o.fixed_headers_ += "Accept-Encoding: gzip, deflate\r\n";
  for (const auto& [k, v] : options.headers) o.fixed_headers_ += k + ": " + v + "\r\n";
  for (const auto& k : options.secret_query) o.secret_query_.push_back(lower(k));
  return o;
}

std::string Origin::target(const Request& r, Secrets secrets) const {
  std::string t;
  t.reserve(base_path_.size() + r.path.size() + 16 * r.query.size() + 1);
  if (base_path_.empty() && (r.path.empty() || r.path.front() != '/')) t.push_back('/');
  percent_encode(base_path_, kPathChars, t);
  if (r.path_is_encoded) {
    t += r.path;
  } else {
    percent_encode(r.path, kPathChars, t);
  }
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    t.push_back(sep);
    sep = '&';
    percent_encode(k, kQueryChars, t);
    t.push_back('=');
    const bool secret = secrets == Secrets::kRedact &&
                        std::find(secret_query_.begin(), secret_query_.end(), lower(k)) != secret_query_.end();
    percent_encode(secret ? std::string_view("REDACTED") : std::string_view(v), kQueryChars, t);
  }
  return t;
}

std::string Origin::display_url(const Request& r) const {
  return scheme_ + "://" + host_header_ + target(r, Secrets::kRedact);
}

Wire Origin::serialize(const Request& r) const {
  std::string target_text = target(r, Secrets::kShow);
  std::string out;
  out.reserve(target_text.size() + fixed_headers_.size() + 256);
  out.append(to_string(r.method)).append(" ").append(target_text).append(" HTTP/1.1\r\n").append(fixed_headers_);
  for (const auto& [k, v] : r.headers) out.append(k).append(": ").append(v).append("\r\n");
  if (!r.body.empty() || r.method == Method::kPost || r.method == Method::kPut) {
    out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  }
  out.append("\r\n");
  return {std::move(out), r.body, r.priority, r.decode};
}

}  // namespace sluice::http::detail
