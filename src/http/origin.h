// The origin a client sends to: the parts of its base URL, the TLS context
// for https, and how a request is written for it (its target percent-encoded
// as RFC 3986 says, its head with the header lines every request carries).
// Internal to the HTTP client.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/http/client.h"

namespace sluice::http::detail {

// A request's bytes: the head (request line, the origin's fixed header
// lines, the request's own headers), then the body, sent from where it is
// (a large upload is not copied).
struct Wire {
  std::string head;
  std::string_view body;
  std::uint64_t priority = 0;  // the request's, for the receive budget
  bool decode = true;          // the request's: decode a gzip or deflate body
};

// Whether a target shows the values of secret query parameters.
enum class Secrets : std::uint8_t { kShow, kRedact };

class Origin {
 public:
  // From options that check_options() accepted; fails only when the
  // ca_file cannot be loaded.
  static Result<Origin> create(const ClientOptions& options);

  const std::string& host() const { return host_; }
  const std::string& port() const { return port_; }
  // The TLS context of an https origin; null for http.
  boost::asio::ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }

  // The request target: the base path, the request's path, then its query.
  std::string target(const Request& r, Secrets secrets) const;
  // For messages: the whole URL, secret query values replaced by REDACTED.
  std::string display_url(const Request& r) const;
  Wire serialize(const Request& r) const;

 private:
  Origin() = default;

  std::string scheme_, host_, port_, host_header_, base_path_;
  std::optional<boost::asio::ssl::context> tls_;
  std::string fixed_headers_;              // Host, User-Agent, Accept-Encoding and the client's headers
  std::vector<std::string> secret_query_;  // lower case
};

}  // namespace sluice::http::detail
