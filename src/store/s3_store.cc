// The S3 ObjectStore, and open_store() choosing a store by URL.
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <mutex>

#include "s3_client.h"
#include "sluice/detail/random_id.h"
#include "sluice/runtime.h"
#include "sluice/store.h"

namespace sluice {

namespace {

using s3::S3Client;

class S3Store final : public ObjectStore {
 public:
  S3Store(std::unique_ptr<Runtime> own, Runtime& rt, S3Client client, s3::S3Location where, s3::UploadOptions upload)
      : own_rt_(std::move(own)),
        rt_(rt),
        client_(std::move(client)),
        bucket_(std::move(where.bucket)),
        prefix_(std::move(where.prefix)),
        upload_(std::move(upload)) {
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  }

  Result<std::unique_ptr<OutputStream>> open_write(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    return s3::open_upload(rt_, client_, bucket_, full(key), upload_);
  }

  Result<std::string> get(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    return rt_.block_on(client_.get_object(bucket_, full(key)));
  }

  Result<std::optional<ObjectInfo>> head(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    Result<std::optional<ObjectInfo>> r = rt_.block_on(client_.head_object(bucket_, full(key)));
    if (r.ok() && r->has_value()) (*r)->key = key;
    return r;
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::string token;
    do {
      Result<s3::ListPage> page = rt_.block_on(client_.list_objects(bucket_, full(prefix), token));
      if (!page.ok()) return page.status();
      for (ObjectInfo& o : page->objects) {
        if (!prefix_.empty()) o.key.erase(0, prefix_.size() + 1);
        out.push_back(std::move(o));
      }
      token = std::move(page->next_token);
    } while (!token.empty());
    return out;  // S3 lists in key order already
  }

  Status remove(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    return rt_.block_on(client_.delete_object(bucket_, full(key)));
  }

  // PutObject with If-None-Match: *, after a probe (once per store) that
  // the service honours it: a service that ignored the header would let two
  // writers both believe they created the key, so it is refused instead.
  Status create_exclusive(const std::string& key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    SLUICE_RETURN_IF_ERROR(probe_conditional_writes());
    Status s = rt_.block_on(client_.put_object_if_absent(bucket_, full(key), std::string(data)));
    if (s.code() != StatusCode::kAlreadyExists) return s;
    // A create whose answer was lost and was sent again finds its own
    // object: that is this writer's create, not another's.
    Result<std::string> there = get(key);
    return there.ok() && *there == data ? Status() : s;
  }

  std::string describe(const std::string& key) const override { return "s3://" + bucket_ + "/" + full(key); }

 private:
  Status probe_conditional_writes() {
    std::call_once(probed_, [this] {
      const std::string probe = "_sluice-conditional-write-probe-" + detail::random_hex(8);
      Status first = rt_.block_on(client_.put_object_if_absent(bucket_, full(probe), "probe"));
      if (!first.ok()) {
        probe_result_ = first;
        return;
      }
      Status second = rt_.block_on(client_.put_object_if_absent(bucket_, full(probe), "probe"));
      (void)rt_.block_on(client_.delete_object(bucket_, full(probe)));
      if (second.ok()) {
        probe_result_ = Status::Unimplemented(
            describe(probe) + ": the S3 service ignored If-None-Match: * (a second create of one key succeeded)");
      } else if (second.code() != StatusCode::kAlreadyExists) {
        probe_result_ = second;
      }
    });
    return probe_result_;
  }

  std::once_flag probed_;
  Status probe_result_;
  std::string full(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }

  std::unique_ptr<Runtime> own_rt_;  // first: it outlives the client
  Runtime& rt_;
  S3Client client_;
  std::string bucket_;
  std::string prefix_;
  s3::UploadOptions upload_;
};

// The first of `names` set in the environment: its name and value.
std::pair<std::string, std::string> first_env(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (const char* v = std::getenv(n); v && *v) return {n, v};
  }
  return {};
}

// An endpoint must be an http(s) URL; `from` says where it was set.
Status check_endpoint(const std::string& endpoint, const std::string& from) {
  if (endpoint.empty()) return Status();
  auto u = boost::urls::parse_uri(endpoint);
  if (u && (u->scheme() == "http" || u->scheme() == "https") && !u->host().empty()) return Status();
  return Status::InvalidArgument(from + " '" + endpoint +
                                 "': expected an http:// or https:// URL of an S3-compatible service");
}

Status check_s3_environment(const std::string& url) {
  const auto [endpoint_var, endpoint_env] = first_env({"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  SLUICE_RETURN_IF_ERROR(check_endpoint(endpoint_env, endpoint_var));
  SLUICE_RETURN_IF_ERROR(s3::choose_credential_source(), "'" + url + "'");
  return s3::check_journal_env();
}

Result<std::unique_ptr<ObjectStore>> open_s3_store(const std::string& url, const StoreOptions& o) {
  Result<s3::S3Location> where = s3::parse_s3_url(url);
  if (!where.ok()) return where.status();
  Result<std::shared_ptr<s3::CredentialSource>> source = s3::choose_credential_source();
  if (!source.ok()) return source.status().with_context("'" + url + "'");
  Result<std::string> region = s3::resolve_region();
  if (!region.ok()) return region.status().with_context("'" + url + "'");
  if (o.s3_part_bytes < (5u << 20)) return Status::InvalidArgument("S3 part size: at least 5 MiB (S3's minimum)");

  s3::S3Options s3o;
  s3o.region = !o.s3_region.empty() ? o.s3_region : !region->empty() ? *region : "us-east-1";
  const auto [endpoint_var, endpoint_env] = first_env({"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  s3o.endpoint = !o.s3_endpoint.empty() ? o.s3_endpoint : endpoint_env;
  SLUICE_RETURN_IF_ERROR(check_endpoint(s3o.endpoint, o.s3_endpoint.empty() ? endpoint_var : "s3_endpoint"));
  s3o.sign_payload = o.s3_sign_payload;
  s3o.http.max_connections = 64;
  s3o.http.max_in_flight = 64;
  s3o.http.read_timeout = std::chrono::seconds(60);
  s3o.http.attempt_timeout = std::chrono::minutes(5);   // a 16 MiB part over a slow link
  s3o.http.request_timeout = std::chrono::minutes(15);  // its retries included
  s3o.http.max_body_bytes = std::size_t{1} << 30;
  s3o.http.retry.max_attempts = std::max(1, o.s3_max_attempts);
  s3o.http.retry.base_backoff = std::chrono::milliseconds(100);
  s3o.http.retry.max_backoff = std::chrono::seconds(10);
  s3o.http.retry.retry_statuses = {429, 500, 502, 503, 504};  // S3's InternalError and SlowDown are transient
  // S3's failures are the endpoint's, not the object's: any request failing
  // makes the client wait for the endpoint (probing it)
  // instead of spending the attempts of the parts in flight (s3_give_up_after).
  s3o.http.outage = {.failures = 1, .give_up_after = o.s3_give_up_after};

  std::unique_ptr<Runtime> own;
  Runtime* rt = o.runtime;
  if (rt == nullptr) {
    own = std::make_unique<Runtime>(RuntimeOptions{.io_threads = 1, .cpu_threads = 1});
    rt = own.get();
  }
  s3o.credentials = std::make_shared<s3::CredentialProvider>(*rt, std::move(*source));
  // Credentials first, so that a failure to get them says so rather than
  // looking like the bucket's.
  Result<s3::Credentials> creds = rt->block_on(s3o.credentials->current());
  if (!creds.ok()) return creds.status().with_context("'" + url + "'");
  if (o.on_notice) o.on_notice("'" + url + "': AWS credentials from " + s3o.credentials->source());
  Result<S3Client> client = S3Client::create(*rt, std::move(s3o));
  if (!client.ok()) return client.status();

  // Fail now, not after hours of work, if the bucket cannot be reached or read.
  Result<s3::ListPage> probe = rt->block_on(client->list_objects(where->bucket, where->prefix, "", 1));
  if (!probe.ok()) return probe.status().with_context("cannot use '" + url + "'");

  auto journal =
      std::make_shared<const s3::UploadJournal>(o.journal_dir.empty() ? s3::default_journal_dir() : o.journal_dir);
  s3::RecoveryReport rec = s3::recover_uploads(*rt, *client, *journal, where->bucket);
  if (o.on_notice) {
    for (const auto& n : rec.notes) o.on_notice(n);
  }
  s3::UploadOptions upload{.part_bytes = o.s3_part_bytes,
                           .parts_in_flight = std::max<std::size_t>(1, o.s3_parts_in_flight),
                           .journal = std::move(journal)};
  return std::unique_ptr<ObjectStore>(
      new S3Store(std::move(own), *rt, std::move(*client), std::move(*where), std::move(upload)));
}

}  // namespace

Status check_store_environment(const std::string& url) {
  return url.starts_with("s3://") ? check_s3_environment(url) : Status();
}

Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, const StoreOptions& options) {
  if (url.starts_with("s3://")) return open_s3_store(url, options);
  if (url.starts_with("file://")) return open_local_store(url.substr(7));
  if (url.find("://") != std::string::npos) {
    return Status::InvalidArgument("'" + url + "': expected a path, file://path or s3://bucket/prefix");
  }
  return open_local_store(url);
}

}  // namespace sluice
