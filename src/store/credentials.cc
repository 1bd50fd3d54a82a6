#include "credentials.h"

#include <boost/url/parse.hpp>
#include <set>

#include "sluice/detail/random_id.h"
#include "sluice/sleep.h"

namespace sluice::s3 {

namespace asio = boost::asio;
using std::chrono::system_clock;

// ---- The provider ----

CredentialProvider::CredentialProvider(Runtime& rt, std::shared_ptr<CredentialSource> source, SystemClock clock)
    : rt_(&rt),
      source_(std::move(source)),
      clock_(clock ? std::move(clock) : SystemClock([] { return system_clock::now(); })),
      description_(source_->describe()) {}

CredentialProvider::CredentialProvider(Credentials credentials)
    : clock_([] { return system_clock::now(); }), description_("given") {
  cached_ = TimedCredentials{std::move(credentials), std::nullopt};
}

std::shared_ptr<CredentialProvider> CredentialProvider::fixed(Credentials credentials) {
  return std::shared_ptr<CredentialProvider>(new CredentialProvider(std::move(credentials)));
}

std::uint64_t CredentialProvider::fetches() const {
  MutexLock lock(mu_);
  return fetches_;
}

bool CredentialProvider::fresh(system_clock::time_point now) const {
  if (!cached_) return false;
  if (!cached_->expires) return true;
  const auto lifetime = *cached_->expires - fetched_at_;
  const auto ahead = std::min<system_clock::duration>(std::chrono::minutes(5), lifetime / 2);
  return now < *cached_->expires - ahead;
}

bool CredentialProvider::usable(system_clock::time_point now) const {
  // A margin for the clocks' skew and the request's time on the wire.
  return cached_ && (!cached_->expires || now < *cached_->expires - std::chrono::seconds(10));
}

asio::awaitable<Result<Credentials>> CredentialProvider::current() {
  for (;;) {
    {
      MutexLock lock(mu_);
      const auto now = clock_();
      if (fresh(now)) co_return cached_->credentials;
      if (!refreshing_ && now >= retry_at_) {
        refreshing_ = true;
        break;
      }
      // Someone is refreshing them, or did and failed less than 10 s ago:
      // the old set while it lasts, else that failure (not another request).
      if (usable(now)) co_return cached_->credentials;
      if (!refreshing_) co_return last_error_;
    }
    co_await sleep_for(std::chrono::milliseconds(10));  // the refresh under way, with nothing to use meanwhile
  }
  struct Done {
    CredentialProvider* p;
    ~Done() {
      MutexLock lock(p->mu_);
      p->refreshing_ = false;
    }
  } done{this};
  Result<TimedCredentials> r = co_await source_->fetch(*rt_);
  MutexLock lock(mu_);
  const auto now = clock_();
  ++fetches_;
  if (r.ok()) {
    cached_ = std::move(*r);
    fetched_at_ = now;
    co_return cached_->credentials;
  }
  retry_at_ = now + std::chrono::seconds(10);
  last_error_ = r.status().with_context("AWS credentials from " + description_);
  if (usable(now)) co_return cached_->credentials;
  co_return last_error_;
}

// ---- The chain ----

namespace {

RoleRequest role_request(const EnvLookup& env, std::string role_arn, const std::optional<std::string>& session_name,
                         const std::string& region) {
  return RoleRequest{.role_arn = std::move(role_arn),
                     .session_name = session_name.value_or("sluice-" + detail::random_hex(8)),
                     .duration_seconds = std::nullopt,
                     .sts = sts_endpoint(env, region)};
}

std::optional<std::string> get(const ProfileFiles::Section& s, const char* key) {
  auto it = s.find(key);
  if (it == s.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// The container endpoint's URL from the environment (nullopt: not set).
Result<std::optional<std::string>> container_url(const EnvLookup& env) {
  if (auto rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    return std::optional<std::string>("http://169.254.170.2" + *rel);
  }
  auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!full) return std::optional<std::string>();
  auto u = boost::urls::parse_uri(*full);
  if (!u || (u->scheme() != "http" && u->scheme() != "https")) {
    return Status::InvalidArgument("AWS_CONTAINER_CREDENTIALS_FULL_URI '" + *full + "': expected an http(s) URL");
  }
  // Over plain http the token would travel in the clear: only to this host or
  // the addresses ECS and EKS serve credentials on, as the SDKs allow.
  const std::string host(u->host());
  const bool allowed = host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "169.254.170.2" ||
                       host == "169.254.170.23" || host == "[fd00:ec2::23]";
  if (u->scheme() == "http" && !allowed) {
    return Status::InvalidArgument("AWS_CONTAINER_CREDENTIALS_FULL_URI '" + *full +
                                   "': over http only a loopback address, 169.254.170.2, 169.254.170.23 or "
                                   "[fd00:ec2::23] is allowed (use https)");
  }
  return std::optional<std::string>(*full);
}

std::shared_ptr<CredentialSource> container_from_env(const EnvLookup& env, const std::string& url) {
  return container_source(url, env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or(""),
                          env("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or(""));
}

std::shared_ptr<CredentialSource> imds_from_env(const EnvLookup& env, std::string note = "") {
  return imds_source(env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254"),
                     std::chrono::milliseconds(1000), std::move(note));
}

Result<std::shared_ptr<CredentialSource>> from_environment(const EnvLookup& env, const std::string& why) {
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key && secret) return static_source({*key, *secret, env("AWS_SESSION_TOKEN").value_or("")}, "environment");
  return Status::InvalidArgument(why + ": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
}

// The base credentials a profile's credential_source names.
Result<std::shared_ptr<CredentialSource>> named_source(const EnvLookup& env, const std::string& where,
                                                       const std::string& name) {
  if (name == "Environment") return from_environment(env, where + ": credential_source Environment");
  if (name == "Ec2InstanceMetadata") return imds_from_env(env);
  if (name == "EcsContainer") {
    Result<std::optional<std::string>> url = container_url(env);
    if (!url.ok()) return url.status();
    if (!*url) {
      return Status::InvalidArgument(
          where +
          ": credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI is set");
    }
    return container_from_env(env, **url);
  }
  return Status::InvalidArgument(where + ": credential_source '" + name +
                                 "': expected Environment, Ec2InstanceMetadata or EcsContainer");
}

Result<std::shared_ptr<CredentialSource>> from_profile(const EnvLookup& env, const ProfileFiles& files,
                                                       const std::string& name, const std::string& region,
                                                       std::set<std::string>& seen) {
  std::optional<ProfileFiles::Section> p = files.profile(name);
  const std::string where = files.where(name);
  if (!p) {
    return Status::InvalidArgument("profile '" + name + "' is in neither " + files.credentials_path() + " nor " +
                                   files.config_path());
  }
  auto key = get(*p, "aws_access_key_id");
  auto secret = get(*p, "aws_secret_access_key");
  auto static_keys = [&]() -> Result<std::shared_ptr<CredentialSource>> {
    if (!key || !secret)
      return Status::InvalidArgument(where + ": no " + (key ? "aws_secret_access_key" : "aws_access_key_id"));
    return static_source({*key, *secret, get(*p, "aws_session_token").value_or("")}, where);
  };
  // A profile reached as another's source_profile a second time is used
  // for its keys (a profile may name itself); a loop without keys is an error.
  if (!seen.insert(name).second) {
    if (key || secret) return static_keys();
    return Status::InvalidArgument(where + ": source_profile loops back to profile '" + name + "'");
  }
  if (auto role = get(*p, "role_arn")) {
    std::shared_ptr<CredentialSource> base;
    if (auto source = get(*p, "source_profile")) {
      Result<std::shared_ptr<CredentialSource>> b = from_profile(env, files, *source, region, seen);
      if (!b.ok()) return b.status().with_context(where + ": source_profile '" + *source + "'");
      base = *b;
    } else if (auto token_file = get(*p, "web_identity_token_file")) {
      return web_identity_source(*token_file, role_request(env, *role, get(*p, "role_session_name"), region));
    } else if (auto cs = get(*p, "credential_source")) {
      Result<std::shared_ptr<CredentialSource>> b = named_source(env, where, *cs);
      if (!b.ok()) return b.status();
      base = *b;
    } else {
      return Status::InvalidArgument(where +
                                     ": role_arn needs source_profile, web_identity_token_file or "
                                     "credential_source");
    }
    RoleRequest r = role_request(env, *role, get(*p, "role_session_name"), region);
    if (auto d = get(*p, "duration_seconds")) {
      char* end = nullptr;
      const long v = std::strtol(d->c_str(), &end, 10);
      if (*end != '\0' || v < 900 || v > 43200) {
        return Status::InvalidArgument(where + ": duration_seconds '" + *d + "': expected 900 to 43200");
      }
      r.duration_seconds = static_cast<int>(v);
    }
    return assume_role_source(std::move(base), std::move(r), get(*p, "external_id").value_or(""));
  }
  if (key || secret) return static_keys();
  if (auto command = get(*p, "credential_process")) return process_source(*command, where);
  if (p->contains("sso_session") || p->contains("sso_start_url")) {
    return Status::InvalidArgument(where +
                                   ": SSO profiles are not read by sluice; add credential_process = "
                                   "aws configure export-credentials --profile " +
                                   name + " --format process");
  }
  return Status::InvalidArgument(where + ": no aws_access_key_id, role_arn or credential_process");
}

}  // namespace

Result<std::shared_ptr<CredentialSource>> choose_credential_source(const EnvLookup& env) {
  // 1. The environment.
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key || secret) {
    if (!key || !secret) {
      return Status::InvalidArgument(std::string(key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is set but " +
                                     (key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") + " is not");
    }
    return from_environment(env, "environment");
  }
  Result<std::string> region = resolve_region(env);
  if (!region.ok()) return region.status();

  // 2. A web identity token.
  auto token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role = env("AWS_ROLE_ARN");
  if (token_file || role) {
    if (!token_file || !role) {
      return Status::InvalidArgument(std::string(token_file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN") +
                                     " is set but " + (token_file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE") +
                                     " is not");
    }
    return web_identity_source(*token_file, role_request(env, *role, env("AWS_ROLE_SESSION_NAME"), *region));
  }

  // 3. The shared files' profile.
  const ProfileFiles files(env);
  const std::string name = profile_name(env);
  if (files.profile(name) || env("AWS_PROFILE")) {
    std::set<std::string> seen;
    return from_profile(env, files, name, *region, seen);
  }

  // 4. The container's endpoint.
  Result<std::optional<std::string>> url = container_url(env);
  if (!url.ok()) return url.status();
  if (*url) return container_from_env(env, **url);

  // 5. The instance's metadata.
  const std::string nothing =
      "nothing in the environment (AWS_ACCESS_KEY_ID, AWS_WEB_IDENTITY_TOKEN_FILE), no "
      "profile '" +
      name + "' in " + files.credentials_path() + " or " + files.config_path() +
      ", no container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)";
  if (env("AWS_EC2_METADATA_DISABLED").value_or("") == "true") {
    return Status::InvalidArgument("no AWS credentials: " + nothing +
                                   ", and instance metadata is off (AWS_EC2_METADATA_DISABLED)");
  }
  return imds_from_env(env, ", tried last: " + nothing + " (AWS_EC2_METADATA_DISABLED=true skips it)");
}

}  // namespace sluice::s3
