// Where AWS credentials come from: a source is asked for a fresh set, which
// may expire. One factory per kind of source; the chain that chooses one,
// and the provider that keeps a set fresh, are in credentials.h. Each fetch
// sends its requests on a client of its own, made for the fetch and closed
// after it: credentials are fetched once an hour or so.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws_config.h"
#include "sigv4.h"
#include "sluice/runtime.h"
#include "sluice/status.h"

namespace sluice::s3 {

struct TimedCredentials {
  Credentials credentials;
  std::optional<std::chrono::system_clock::time_point> expires;  // none: they do not expire
};

// One place credentials come from.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // For messages and the summary: "environment", "web identity (role ...)".
  virtual std::string describe() const = 0;
  // A fresh set. Called by one coroutine at a time (CredentialProvider,
  // which puts describe() before the message of a failure).
  virtual boost::asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) = 0;
};

// ISO 8601 UTC times as AWS writes them ("2026-11-30T15:04:05Z", with or
// without fractional seconds); nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> parse_aws_time(std::string_view text);

// Credentials known without asking anyone (environment, profile keys).
std::shared_ptr<CredentialSource> static_source(Credentials credentials, std::string description);

// Where STS is: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional
// endpoint (https://sts.REGION.amazonaws.com), else the global one.
struct StsEndpoint {
  std::string url;
  std::string region;  // for signing: the endpoint's region, us-east-1 for the global one
};
StsEndpoint sts_endpoint(const EnvLookup& env, const std::string& region);

// What is common to AssumeRole and AssumeRoleWithWebIdentity.
struct RoleRequest {
  std::string role_arn;
  std::string session_name;  // RoleSessionName
  std::optional<int> duration_seconds;
  StsEndpoint sts;
};

// AssumeRoleWithWebIdentity (unsigned) with the token read from token_file
// at each fetch (Kubernetes rotates it).
std::shared_ptr<CredentialSource> web_identity_source(std::string token_file, RoleRequest role);

// AssumeRole, signed with the credentials of `base` (a source_profile or a
// credential_source). external_id: sent if not empty.
std::shared_ptr<CredentialSource> assume_role_source(std::shared_ptr<CredentialSource> base, RoleRequest role,
                                                     std::string external_id);

// credential_process: runs `command` with /bin/sh -c and reads its JSON
// ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
// "Expiration"}) from its standard output; its standard error passes through.
std::shared_ptr<CredentialSource> process_source(std::string command, std::string description);

// The container credentials endpoint (ECS, EKS Pod Identity): GET url, with
// an Authorization header from token_file (read at each fetch) or token.
std::shared_ptr<CredentialSource> container_source(std::string url, std::string token_file, std::string token);

// The EC2 instance metadata service, version 2: a session token (PUT
// /latest/api/token), the instance's role, then its credentials.
// `note` follows the description in messages (why this source was chosen).
std::shared_ptr<CredentialSource> imds_source(std::string endpoint, std::chrono::milliseconds timeout,
                                              std::string note = "");

}  // namespace sluice::s3
