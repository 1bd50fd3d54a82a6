// AWS Signature Version 4: the canonical request, the string to sign, the
// signing key and the Authorization header, as the specification defines
// them. Pure functions; no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // never logged, never part of an error
  std::string session_token;      // empty unless temporary credentials
};

struct SigningInput {
  std::string method;                                        // "GET"
  std::string path;                                          // not yet encoded: "/bucket/a b.txt"
  std::vector<std::pair<std::string, std::string>> query;    // not yet encoded
  std::vector<std::pair<std::string, std::string>> headers;  // host and x-amz-date included
  std::string payload_hash;                                  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
  std::string amz_date;                                      // "20130524T000000Z"
  std::string region;                                        // "us-east-1"
  std::string service = "s3";
};

struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string signature;       // 64 lower-case hex digits
  std::string authorization;   // the Authorization header's value
};

Signed sign(const SigningInput& in, const Credentials& creds);

// Percent-encodes as SigV4 requires: A-Z a-z 0-9 - _ . ~ stay, everything
// else becomes %XX (upper case); '/' too unless kKeep (paths keep theirs).
enum class Slash : std::uint8_t { kKeep, kEncode };
std::string uri_encode(std::string_view s, Slash slash);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);

// A time as x-amz-date writes it: "20130524T000000Z" (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes
std::string to_hex(std::string_view bytes);

}  // namespace sluice::s3
