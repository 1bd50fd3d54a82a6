// AWS credentials: where they come from, and keeping them fresh.
//
// The chain, in the order the AWS SDKs use (the first source configured is
// the one used; a source configured but broken is an error, not a reason to
// try the next):
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   2. a web identity token: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      (Kubernetes service accounts, IRSA), exchanged at STS with
//      AssumeRoleWithWebIdentity; the file is read again at each refresh;
//   3. the profile AWS_PROFILE (default "default") of the shared credentials
//      and config files: role_arn (with source_profile, web_identity_token_file
//      or credential_source), static keys, or credential_process;
//   4. the container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//      (ECS) or _FULL_URI (EKS Pod Identity), with the token of
//      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN;
//   5. the EC2 instance metadata service, IMDSv2 (a session token first),
//      unless AWS_EC2_METADATA_DISABLED=true.
// Temporary credentials are cached and fetched anew ahead of their expiry.
// No message names a secret: keys, tokens and answers' bodies stay out.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "aws_config.h"
#include "credential_sources.h"
#include "sigv4.h"
#include "sluice/detail/mutex.h"
#include "sluice/runtime.h"
#include "sluice/status.h"

namespace sluice::s3 {

using SystemClock = std::function<std::chrono::system_clock::time_point()>;

// The source the chain above chooses, or kInvalidArgument naming what is
// misconfigured (the variable, file, profile or key) or, when nothing is,
// every place looked at. Reads files but sends nothing.
Result<std::shared_ptr<CredentialSource>> choose_credential_source(const EnvLookup& env = process_env());

// Credentials to sign with, from one source: cached; fetched anew when
// within min(5 minutes, half their lifetime) of expiring, by one caller
// while the others go on with the old set. A failed fetch is tried again
// 10 s later, not sooner: meanwhile callers get the old set while it lasts,
// else that failure. Thread-safe.
class CredentialProvider {
 public:
  CredentialProvider(Runtime& rt, std::shared_ptr<CredentialSource> source, SystemClock clock = {});
  // Credentials given once, never refreshed (tests, and callers that have them).
  static std::shared_ptr<CredentialProvider> fixed(Credentials credentials);

  boost::asio::awaitable<Result<Credentials>> current();
  std::string source() const { return description_; }
  std::uint64_t fetches() const;

 private:
  explicit CredentialProvider(Credentials credentials);
  bool fresh(std::chrono::system_clock::time_point now) const SLUICE_REQUIRES(mu_);
  bool usable(std::chrono::system_clock::time_point now) const SLUICE_REQUIRES(mu_);

  Runtime* rt_ = nullptr;
  std::shared_ptr<CredentialSource> source_;
  SystemClock clock_;
  std::string description_;
  mutable Mutex mu_;
  std::optional<TimedCredentials> cached_ SLUICE_GUARDED_BY(mu_);
  std::chrono::system_clock::time_point fetched_at_ SLUICE_GUARDED_BY(mu_);
  std::chrono::system_clock::time_point retry_at_ SLUICE_GUARDED_BY(mu_);  // no fetch before this
  Status last_error_ SLUICE_GUARDED_BY(mu_);                               // of the last fetch that failed
  bool refreshing_ SLUICE_GUARDED_BY(mu_) = false;
  std::uint64_t fetches_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::s3
