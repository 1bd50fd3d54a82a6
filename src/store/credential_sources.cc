#include "credential_sources.h"

#include <fcntl.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "sluice/http/client.h"

extern char** environ;

namespace sluice::s3 {

namespace asio = boost::asio;
using std::chrono::system_clock;

namespace {

class StaticSource final : public CredentialSource {
 public:
  StaticSource(Credentials c, std::string d) : credentials_(std::move(c)), description_(std::move(d)) {}
  std::string describe() const override { return description_; }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime&) override {
    co_return TimedCredentials{credentials_, std::nullopt};
  }

 private:
  Credentials credentials_;
  std::string description_;
};

// One request to `url` on a client of its own. The message of a failure
// names the URL (never a header or a body).
asio::awaitable<Result<http::Response>> send_once(Runtime& rt, const std::string& url, http::Request request,
                                                  std::chrono::milliseconds timeout, int attempts) {
  auto u = boost::urls::parse_uri(url);
  if (!u) co_return Status::InvalidArgument("'" + url + "' is not a URL");
  http::ClientOptions o;
  o.base_url = std::string(u->scheme()) + "://" + std::string(u->encoded_host_and_port());
  o.max_connections = 1;
  o.max_in_flight = 1;
  o.connect_timeout = timeout;
  o.read_timeout = timeout;
  o.attempt_timeout = timeout;
  o.request_timeout = timeout * (attempts + 1);
  o.retry.max_attempts = attempts;
  o.retry.base_backoff = std::chrono::milliseconds(100);
  o.outage.enabled = false;  // no waiting for an endpoint to come back: the caller keeps its old set meanwhile
  Result<http::Client> client = http::Client::create(rt, std::move(o));
  if (!client.ok()) co_return client.status();
  request.path = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  request.path_is_encoded = true;
  for (auto p : u->params()) request.query.emplace_back(p.key, p.value);
  Result<http::Response> r = co_await client->send(std::move(request));
  client->close();
  co_return r;
}

std::string form_encode(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (auto [k, v] : fields) {
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += std::string(k) + "=" + uri_encode(v, Slash::kEncode);
  }
  return out;
}

// The credentials of an STS answer (AssumeRole and AssumeRoleWithWebIdentity
// answer alike), or its error.
Result<TimedCredentials> parse_sts_answer(const std::string& what, const http::Response& r) {
  if (r.status != 200) {
    std::string m = what + ": HTTP " + std::to_string(r.status);
    if (auto e = parse_s3_error(r.body)) m += " " + e->code + ": " + e->message + " (request id " + e->request_id + ")";
    return Status(r.status == 403 || r.status == 400 ? StatusCode::kFailedPrecondition : StatusCode::kUnavailable, m);
  }
  auto key = xml_element(r.body, "AccessKeyId");
  auto secret = xml_element(r.body, "SecretAccessKey");
  auto token = xml_element(r.body, "SessionToken");
  auto expiration = xml_element(r.body, "Expiration");
  if (!key || !secret || !token || key->empty() || secret->empty()) {
    return Status::DataLoss(what + ": the answer holds no credentials");
  }
  TimedCredentials out{{*key, *secret, *token}, std::nullopt};
  if (expiration) {
    out.expires = parse_aws_time(*expiration);
    if (!out.expires) return Status::DataLoss(what + ": the answer's Expiration '" + *expiration + "' is not a time");
  }
  return out;
}

// Credentials in JSON, as the container endpoint, IMDS and credential_process
// give them; `token_key` names the session token's field.
Result<TimedCredentials> parse_json_credentials(const std::string& what, const std::string& body,
                                                std::string_view token_key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Status::DataLoss(what + ": the answer is not a JSON object");
  }
  auto text = [&](std::string_view key) -> std::optional<std::string> {
    std::string_view v;
    if (doc[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
    return std::string(v);
  };
  if (auto code = text("Code"); code && *code != "Success") {
    return Status::Unavailable(what + ": the answer's Code is '" + *code + "'");
  }
  auto key = text("AccessKeyId");
  auto secret = text("SecretAccessKey");
  if (!key || !secret || key->empty() || secret->empty()) {
    return Status::DataLoss(what + ": the answer has no AccessKeyId and SecretAccessKey");
  }
  TimedCredentials out{{*key, *secret, text(token_key).value_or("")}, std::nullopt};
  if (auto e = text("Expiration")) {
    out.expires = parse_aws_time(*e);
    if (!out.expires) return Status::DataLoss(what + ": its Expiration '" + *e + "' is not a time");
  }
  return out;
}

Result<std::string> read_token(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return Status::FailedPrecondition(what + ": cannot read " + path + ": " + errno_text(errno));
  std::stringstream s;
  s << in.rdbuf();
  std::string t = s.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return Status::FailedPrecondition(what + ": " + path + " is empty");
  return t;
}

class WebIdentitySource final : public CredentialSource {
 public:
  WebIdentitySource(std::string file, RoleRequest role) : file_(std::move(file)), role_(std::move(role)) {}
  std::string describe() const override {
    return "web identity (" + file_ + ", role " + role_.role_arn + ", STS " + role_.sts.url + ")";
  }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) override {
    const std::string what = "AssumeRoleWithWebIdentity";  // the role and STS: describe()
    Result<std::string> token = read_token(file_, what);
    if (!token.ok()) co_return token.status();
    const std::string duration = role_.duration_seconds ? std::to_string(*role_.duration_seconds) : "";
    http::Request req{.method = http::Method::kPost,
                      .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                      .body = form_encode({{"Action", "AssumeRoleWithWebIdentity"},
                                           {"Version", "2011-06-15"},
                                           {"RoleArn", role_.role_arn},
                                           {"RoleSessionName", role_.session_name},
                                           {"DurationSeconds", duration},
                                           {"WebIdentityToken", *token}})};
    Result<http::Response> r = co_await send_once(rt, role_.sts.url, std::move(req), std::chrono::seconds(10), 3);
    if (!r.ok()) co_return r.status().with_context(what);
    co_return parse_sts_answer(what, *r);
  }

 private:
  std::string file_;
  RoleRequest role_;
};

class AssumeRoleSource final : public CredentialSource {
 public:
  AssumeRoleSource(std::shared_ptr<CredentialSource> base, RoleRequest role, std::string external_id)
      : base_(std::move(base)), role_(std::move(role)), external_id_(std::move(external_id)) {}
  std::string describe() const override {
    return "role " + role_.role_arn + " (STS " + role_.sts.url + ") assumed with " + base_->describe();
  }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) override {
    const std::string what = "AssumeRole";
    Result<TimedCredentials> base = co_await base_->fetch(rt);
    if (!base.ok()) co_return base.status().with_context(what);
    auto u = boost::urls::parse_uri(role_.sts.url);
    if (!u) co_return Status::InvalidArgument("'" + role_.sts.url + "' is not a URL");
    const std::string duration = role_.duration_seconds ? std::to_string(*role_.duration_seconds) : "";
    std::string body = form_encode({{"Action", "AssumeRole"},
                                    {"Version", "2011-06-15"},
                                    {"RoleArn", role_.role_arn},
                                    {"RoleSessionName", role_.session_name},
                                    {"DurationSeconds", duration},
                                    {"ExternalId", external_id_}});
    const std::string date = amz_date(system_clock::now());
    const std::string path = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
    SigningInput in{.method = "POST",
                    .path = path,
                    .headers = {{"content-type", "application/x-www-form-urlencoded"},
                                {"host", std::string(u->encoded_host_and_port())},
                                {"x-amz-date", date}},
                    .payload_hash = sha256_hex(body),
                    .amz_date = date,
                    .region = role_.sts.region,
                    .service = "sts"};
    if (!base->credentials.session_token.empty()) {
      in.headers.emplace_back("x-amz-security-token", base->credentials.session_token);
    }
    const Signed s = sign(in, base->credentials);
    http::Request req{.method = http::Method::kPost, .body = std::move(body)};
    for (const auto& [k, v] : in.headers) {
      if (k != "host") req.headers.emplace_back(k, v);
    }
    req.headers.emplace_back("Authorization", s.authorization);
    Result<http::Response> r = co_await send_once(rt, role_.sts.url, std::move(req), std::chrono::seconds(10), 3);
    if (!r.ok()) co_return r.status().with_context(what);
    co_return parse_sts_answer(what, *r);
  }

 private:
  std::shared_ptr<CredentialSource> base_;
  RoleRequest role_;
  std::string external_id_;
};

// Runs command with /bin/sh -c; its standard output, or why it failed.
Result<std::string> run_process(const std::string& command, const std::string& what) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::Internal(what + ": pipe: " + errno_text(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  const int e = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (e != 0) {
    ::close(out[0]);
    return Status::Internal(what + ": cannot start /bin/sh: " + errno_text(e));
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return Status::FailedPrecondition(what + ": killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return Status::FailedPrecondition(what + ": exited with status " + std::to_string(WEXITSTATUS(status)));
  }
  return text;
}

class ProcessSource final : public CredentialSource {
 public:
  ProcessSource(std::string command, std::string description)
      : command_(std::move(command)), description_(std::move(description)) {}
  std::string describe() const override { return description_; }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) override {
    const std::string what = "credential_process";
    // The process may take a while (a browser login, a vault): off the event loop.
    auto [error, out] =
        co_await rt.run_on_cpu([&] { return run_process(command_, what); }, asio::as_tuple(asio::deferred));
    if (error) std::rethrow_exception(error);
    if (!out->ok()) co_return out->status();
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::int64_t version = 0;
    if (parser.parse(**out).get(doc) != simdjson::SUCCESS || doc["Version"].get_int64().get(version) || version != 1) {
      co_return Status::DataLoss(what + ": its output is not JSON with \"Version\": 1");
    }
    co_return parse_json_credentials(what, **out, "SessionToken");
  }

 private:
  std::string command_;
  std::string description_;
};

class ContainerSource final : public CredentialSource {
 public:
  ContainerSource(std::string url, std::string token_file, std::string token)
      : url_(std::move(url)), token_file_(std::move(token_file)), token_(std::move(token)) {}
  std::string describe() const override { return "container credentials (" + url_ + ")"; }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) override {
    const std::string what = "GET";
    http::Request req;
    if (!token_file_.empty()) {
      Result<std::string> t = read_token(token_file_, what);
      if (!t.ok()) co_return t.status();
      req.headers.emplace_back("Authorization", *t);
    } else if (!token_.empty()) {
      req.headers.emplace_back("Authorization", token_);
    }
    Result<http::Response> r = co_await send_once(rt, url_, std::move(req), std::chrono::seconds(2), 3);
    if (!r.ok()) co_return r.status().with_context(what);
    if (r->status != 200) co_return Status::Unavailable(what + ": HTTP " + std::to_string(r->status));
    co_return parse_json_credentials(what, r->body, "Token");
  }

 private:
  std::string url_, token_file_, token_;
};

class ImdsSource final : public CredentialSource {
 public:
  ImdsSource(std::string endpoint, std::chrono::milliseconds timeout, std::string note)
      : endpoint_(std::move(endpoint)), timeout_(timeout), note_(std::move(note)) {
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  }
  std::string describe() const override { return "instance metadata (IMDSv2 at " + endpoint_ + ")" + note_; }
  asio::awaitable<Result<TimedCredentials>> fetch(Runtime& rt) override {
    const std::string what = "IMDSv2";
    // IMDS answers at once or not at all: one attempt, a short deadline.
    http::Request put{.method = http::Method::kPut, .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}};
    Result<http::Response> token = co_await send_once(rt, endpoint_ + "/latest/api/token", std::move(put), timeout_, 1);
    if (!token.ok()) co_return token.status().with_context(what);
    if (token->status != 200)
      co_return Status::Unavailable(what + ": a session token: HTTP " + std::to_string(token->status));
    const http::Headers auth{{"X-aws-ec2-metadata-token", token->body}};
    const std::string base = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    Result<http::Response> role = co_await send_once(rt, base, http::Request{.headers = auth}, timeout_, 2);
    if (!role.ok()) co_return role.status().with_context(what);
    if (role->status == 404) co_return Status::FailedPrecondition(what + ": the instance has no IAM role");
    if (role->status != 200) co_return Status::Unavailable(what + ": its role: HTTP " + std::to_string(role->status));
    std::string name = role->body.substr(0, role->body.find('\n'));
    if (name.empty()) co_return Status::FailedPrecondition(what + ": the instance has no IAM role");
    Result<http::Response> c =
        co_await send_once(rt, base + uri_encode(name, Slash::kEncode), http::Request{.headers = auth}, timeout_, 2);
    if (!c.ok()) co_return c.status().with_context(what);
    if (c->status != 200) {
      co_return Status::Unavailable(what + ": credentials of role " + name + ": HTTP " + std::to_string(c->status));
    }
    co_return parse_json_credentials(what + ", role " + name, c->body, "Token");
  }

 private:
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::string note_;
};

}  // namespace

std::optional<system_clock::time_point> parse_aws_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS, then an optional fraction, then Z or +00:00.
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    if (rest.empty() || !std::isdigit(static_cast<unsigned char>(rest.front()))) return std::nullopt;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return system_clock::from_time_t(timegm(&tm));
}

std::shared_ptr<CredentialSource> static_source(Credentials credentials, std::string description) {
  return std::make_shared<StaticSource>(std::move(credentials), std::move(description));
}

StsEndpoint sts_endpoint(const EnvLookup& env, const std::string& region) {
  const std::string signing_region = region.empty() ? "us-east-1" : region;
  if (auto e = env("AWS_ENDPOINT_URL_STS")) return {*e, signing_region};
  if (auto e = env("AWS_ENDPOINT_URL")) return {*e, signing_region};
  if (region.empty()) return {"https://sts.amazonaws.com", "us-east-1"};
  return {"https://sts." + region + ".amazonaws.com", region};
}

std::shared_ptr<CredentialSource> web_identity_source(std::string token_file, RoleRequest role) {
  return std::make_shared<WebIdentitySource>(std::move(token_file), std::move(role));
}

std::shared_ptr<CredentialSource> assume_role_source(std::shared_ptr<CredentialSource> base, RoleRequest role,
                                                     std::string external_id) {
  return std::make_shared<AssumeRoleSource>(std::move(base), std::move(role), std::move(external_id));
}

std::shared_ptr<CredentialSource> process_source(std::string command, std::string description) {
  return std::make_shared<ProcessSource>(std::move(command), std::move(description));
}

std::shared_ptr<CredentialSource> container_source(std::string url, std::string token_file, std::string token) {
  return std::make_shared<ContainerSource>(std::move(url), std::move(token_file), std::move(token));
}

std::shared_ptr<CredentialSource> imds_source(std::string endpoint, std::chrono::milliseconds timeout,
                                              std::string note) {
  return std::make_shared<ImdsSource>(std::move(endpoint), timeout, std::move(note));
}

}  // namespace sluice::s3
