#include "s3_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>
#include <future>

#include "sigv4.h"
#include "sluice/detail/mutex.h"
#include "sluice/sleep.h"

namespace sluice::s3 {

namespace asio = boost::asio;

struct S3Client::State {
  Runtime& rt;
  S3Options options;
  bool path_style = false;
  std::string scheme;
  std::string endpoint_host;  // host[:port] of the endpoint (path style)
  Mutex mu;
  std::map<std::string, http::Client> clients SLUICE_GUARDED_BY(mu);  // by host

  State(Runtime& r, S3Options o) : rt(r), options(std::move(o)) {}

  std::string host_for(const std::string& bucket) const {
    return path_style ? endpoint_host : bucket + ".s3." + options.region + ".amazonaws.com";
  }

  Result<http::Client> client_for(const std::string& host) {
    MutexLock lock(mu);
    if (auto it = clients.find(host); it != clients.end()) return it->second;
    http::ClientOptions o = options.http;
    o.base_url = scheme + "://" + host;
    Result<http::Client> c = http::Client::create(rt, std::move(o));
    if (!c.ok()) return c.status();
    clients.emplace(host, *c);
    return *c;
  }

  // Signs and sends one request; the response whatever its status.
  asio::awaitable<Result<http::Response>> call(http::Method method, const std::string& bucket, const std::string& key,
                                               std::vector<std::pair<std::string, std::string>> query, std::string body,
                                               std::vector<std::pair<std::string, std::string>> more_headers = {}) {
    const std::string host = host_for(bucket);
    Result<http::Client> client = client_for(host);
    if (!client.ok()) co_return client.status();
    const std::string path = (path_style ? "/" + bucket : std::string()) + "/" + key;
    Result<Credentials> creds = co_await options.credentials->current();
    if (!creds.ok()) co_return creds.status().with_context(describe(bucket, key));
    const std::string date = amz_date(std::chrono::system_clock::now());
    const std::string payload = options.sign_payload ? sha256_hex(body) : "UNSIGNED-PAYLOAD";
    SigningInput in{.method = std::string(http::to_string(method)),
                    .path = path,
                    .query = query,
                    .headers = {{"host", host}, {"x-amz-content-sha256", payload}, {"x-amz-date", date}},
                    .payload_hash = payload,
                    .amz_date = date,
                    .region = options.region};
    if (!creds->session_token.empty()) in.headers.emplace_back("x-amz-security-token", creds->session_token);
    for (auto& h : more_headers) in.headers.push_back(std::move(h));
    Signed s = sign(in, *creds);
    http::Request req{.method = method,
                      .path = uri_encode(path, Slash::kKeep),
                      .path_is_encoded = true,
                      .query = std::move(query),
                      .body = std::move(body)};
    for (auto& [k, v] : in.headers) {
      if (k != "host") req.headers.emplace_back(k, v);
    }
    req.headers.emplace_back("Authorization", s.authorization);
    Result<http::Response> r = co_await client->send(std::move(req));
    if (!r.ok()) co_return r.status().with_context(describe(bucket, key));
    co_return r;
  }

  // A Status for an S3 error answer, naming the operation and object.
  static Status error(const std::string& what, const http::Response& r) {
    std::optional<S3Error> e = parse_s3_error(r.body);
    std::string m = what + ": HTTP " + std::to_string(r.status);
    if (e) m += " " + e->code + ": " + e->message + " (request id " + e->request_id + ")";
    StatusCode code = r.status == 404   ? StatusCode::kNotFound
                      : r.status == 403 ? StatusCode::kFailedPrecondition
                      : r.status >= 500 ? StatusCode::kUnavailable
                                        : StatusCode::kInvalidArgument;
    return Status(code, std::move(m));
  }

  std::string describe(const std::string& bucket, const std::string& key) const { return "s3://" + bucket + "/" + key; }
};

Result<S3Client> S3Client::create(Runtime& rt, S3Options options) {
  if (options.credentials == nullptr) return Status::InvalidArgument("S3: no credentials");
  if (options.region.empty()) return Status::InvalidArgument("S3: no region");
  auto state = std::make_shared<State>(rt, std::move(options));
  if (!state->options.endpoint.empty()) {
    const std::string& e = state->options.endpoint;
    auto sep = e.find("://");
    if (sep == std::string::npos)
      return Status::InvalidArgument("S3 endpoint '" + e + "': expected http[s]://host[:port]");
    state->scheme = e.substr(0, sep);
    state->endpoint_host = e.substr(sep + 3);
    while (!state->endpoint_host.empty() && state->endpoint_host.back() == '/') state->endpoint_host.pop_back();
    state->path_style = true;
  } else {
    state->scheme = "https";
  }
  return S3Client(std::move(state));
}

asio::awaitable<Status> S3Client::create_bucket(std::string bucket) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kPut, bucket, "", {}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("create bucket s3://" + bucket, *r);
  co_return Status();
}

asio::awaitable<Status> S3Client::put_object(std::string bucket, std::string key, std::string body) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kPut, bucket, key, {}, std::move(body));
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("put " + s->describe(bucket, key), *r);
  co_return Status();
}

asio::awaitable<Status> S3Client::put_object_if_absent(std::string bucket, std::string key, std::string body) {
  auto s = state_;
  // 409 ConditionalRequestConflict: another conditional write to the key is
  // under way; S3 asks for a retry, which then gets 412 or 200.
  for (int attempt = 0;; ++attempt) {
    auto r = co_await s->call(http::Method::kPut, bucket, key, {}, body, {{"if-none-match", "*"}});
    if (!r.ok()) co_return r.status();
    if (r->status == 200) co_return Status();
    if (r->status == 412) co_return Status::AlreadyExists(s->describe(bucket, key) + ": exists");
    if (r->status == 501) {
      co_return Status::Unimplemented(State::error("put " + s->describe(bucket, key) + " if absent", *r).message() +
                                      ": the S3 service does not support conditional writes (If-None-Match: *)");
    }
    if (r->status != 409 || attempt == 4) co_return State::error("put " + s->describe(bucket, key) + " if absent", *r);
    co_await sleep_for(std::chrono::milliseconds(50 << attempt));
  }
}

asio::awaitable<Result<std::string>> S3Client::get_object(std::string bucket, std::string key) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kGet, bucket, key, {}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("get " + s->describe(bucket, key), *r);
  co_return std::move(r->body);
}

asio::awaitable<Result<std::optional<ObjectInfo>>> S3Client::head_object(std::string bucket, std::string key) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kHead, bucket, key, {}, "");
  if (!r.ok()) co_return r.status();
  if (r->status == 404) co_return std::optional<ObjectInfo>();
  if (r->status != 200) co_return State::error("head " + s->describe(bucket, key), *r);
  co_return std::optional<ObjectInfo>(
      ObjectInfo{key, std::strtoull(std::string(r->header("content-length")).c_str(), nullptr, 10)});
}

asio::awaitable<Status> S3Client::delete_object(std::string bucket, std::string key) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kDelete, bucket, key, {}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 204 && r->status != 200 && r->status != 404)
    co_return State::error("delete " + s->describe(bucket, key), *r);
  co_return Status();
}

asio::awaitable<Result<ListPage>> S3Client::list_objects(std::string bucket, std::string prefix, std::string token,
                                                         int max_keys) {
  auto s = state_;
  std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}};
  if (!prefix.empty()) q.emplace_back("prefix", prefix);
  if (!token.empty()) q.emplace_back("continuation-token", token);
  auto r = co_await s->call(http::Method::kGet, bucket, "", q, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("list s3://" + bucket + "/" + prefix, *r);
  ListPage page;
  page.objects = parse_list_contents(r->body);
  if (xml_element(r->body, "IsTruncated") == "true")
    page.next_token = xml_element(r->body, "NextContinuationToken").value_or("");
  co_return page;
}

asio::awaitable<Result<std::string>> S3Client::create_multipart(std::string bucket, std::string key) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kPost, bucket, key, {{"uploads", ""}}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("start upload " + s->describe(bucket, key), *r);
  auto id = xml_element(r->body, "UploadId");
  if (!id || id->empty())
    co_return Status::DataLoss("start upload " + s->describe(bucket, key) + ": no UploadId in the answer");
  co_return *id;
}

asio::awaitable<Result<std::string>> S3Client::upload_part(std::string bucket, std::string key, std::string upload_id,
                                                           int part_number, std::string body) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kPut, bucket, key,
                            {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}}, std::move(body));
  if (!r.ok()) co_return r.status();
  if (r->status != 200) {
    co_return State::error("upload part " + std::to_string(part_number) + " of " + s->describe(bucket, key), *r);
  }
  std::string etag(r->header("etag"));
  if (etag.empty())
    co_return Status::DataLoss("upload part of " + s->describe(bucket, key) + ": no ETag in the answer");
  co_return etag;
}

asio::awaitable<Status> S3Client::complete_multipart(std::string bucket, std::string key, std::string upload_id,
                                                     std::vector<std::string> etags) {
  auto s = state_;
  std::string body = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  auto r = co_await s->call(http::Method::kPost, bucket, key, {{"uploadId", upload_id}}, std::move(body));
  if (!r.ok()) co_return r.status();
  // S3 may answer 200 and still fail, with an <Error> body.
  if (r->status != 200 || parse_s3_error(r->body))
    co_return State::error("complete upload " + s->describe(bucket, key), *r);
  co_return Status();
}

asio::awaitable<Status> S3Client::abort_multipart(std::string bucket, std::string key, std::string upload_id) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kDelete, bucket, key, {{"uploadId", upload_id}}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 204 && r->status != 200 && r->status != 404)
    co_return State::error("abort upload " + s->describe(bucket, key), *r);
  co_return Status();
}

asio::awaitable<Result<std::vector<S3Client::UploadInfo>>> S3Client::list_multipart_uploads(std::string bucket) {
  auto s = state_;
  auto r = co_await s->call(http::Method::kGet, bucket, "", {{"uploads", ""}}, "");
  if (!r.ok()) co_return r.status();
  if (r->status != 200) co_return State::error("list uploads of s3://" + bucket, *r);
  std::vector<UploadInfo> out;
  std::string_view xml = r->body;
  for (std::size_t at = 0; (at = xml.find("<Upload>", at)) != std::string_view::npos;) {
    auto end = xml.find("</Upload>", at);
    if (end == std::string_view::npos) break;
    std::string_view block = xml.substr(at, end - at);
    out.push_back({xml_element(block, "Key").value_or(""), xml_element(block, "UploadId").value_or("")});
    at = end;
  }
  co_return out;
}

std::string S3Client::service() const {
  return state_->path_style ? state_->options.endpoint : "aws:" + state_->options.region;
}

namespace {

class UploadStream final : public OutputStream {
 public:
  UploadStream(Runtime& rt, S3Client client, std::string bucket, std::string key, UploadOptions o)
      : rt_(rt), client_(std::move(client)), bucket_(std::move(bucket)), key_(std::move(key)), options_(std::move(o)) {}
  ~UploadStream() override { abort(); }

  Status write(std::string_view bytes) override {
    if (!failed_.ok()) return failed_;
    if (closed_) return Status::FailedPrecondition("write after close: s3://" + bucket_ + "/" + key_);
    written_ += bytes.size();
    while (!bytes.empty()) {
      std::size_t take = std::min(bytes.size(), options_.part_bytes - buffer_.size());
      buffer_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buffer_.size() == options_.part_bytes) {
        if (Status s = send_part(); !s.ok()) return fail(s);
      }
    }
    return Status();
  }

  Status close() override {
    if (!failed_.ok()) return failed_;
    if (closed_) return Status::FailedPrecondition("already closed: s3://" + bucket_ + "/" + key_);
    closed_ = true;
    if (upload_id_.empty()) {  // it all fit one part: one PutObject
      Status s = rt_.block_on(client_.put_object(bucket_, key_, std::move(buffer_)));
      return s.ok() ? s : fail(s);
    }
    if (!buffer_.empty()) {
      if (Status s = send_part(); !s.ok()) return fail(s);
    }
    while (!in_flight_.empty()) {
      if (Status s = collect_oldest(); !s.ok()) return fail(s);
    }
    if (journal()) {
      entry_.completing = true;
      entry_.etags = etags_;
      if (Status s = journal()->update(entry_); !s.ok()) return fail(s);
    }
    Status s = rt_.block_on(client_.complete_multipart(bucket_, key_, upload_id_, etags_));
    if (!s.ok()) return fail(s);
    if (journal()) journal()->remove(entry_);
    upload_id_.clear();
    return Status();
  }

  void abort() override {
    while (!in_flight_.empty()) (void)collect_oldest();
    if (!upload_id_.empty()) {
      // If S3 cannot be told now, the journal entry stays for the next run.
      if (rt_.block_on(client_.abort_multipart(bucket_, key_, upload_id_)).ok() && journal()) journal()->remove(entry_);
      upload_id_.clear();
    }
    buffer_.clear();
    closed_ = true;
  }

  std::uint64_t position() const override { return written_; }

 private:
  using PartFuture = std::future<std::optional<Result<std::string>>>;

  // Starts uploading the buffer as the next part; waits for the oldest part
  // when parts_in_flight are already under way.
  Status send_part() {
    if (upload_id_.empty()) {
      Result<std::string> id = rt_.block_on(client_.create_multipart(bucket_, key_));
      if (!id.ok()) return id.status();
      upload_id_ = *id;
      if (journal()) {
        entry_ = {.service = client_.service(), .bucket = bucket_, .key = key_, .upload_id = upload_id_};
        if (Status s = journal()->add(entry_); !s.ok()) {
          return s.with_context("cannot record the upload of s3://" + bucket_ + "/" + key_);
        }
      }
    }
    while (in_flight_.size() >= options_.parts_in_flight) {
      SLUICE_RETURN_IF_ERROR(collect_oldest());
    }
    auto one = [](S3Client c, std::string b, std::string k, std::string id, int n,
                  std::string body) -> asio::awaitable<std::optional<Result<std::string>>> {
      co_return co_await c.upload_part(std::move(b), std::move(k), std::move(id), n, std::move(body));
    };
    std::string part;
    part.swap(buffer_);
    buffer_.reserve(options_.part_bytes);
    in_flight_.push_back(asio::co_spawn(
        rt_.executor(), one(client_, bucket_, key_, upload_id_, next_part_++, std::move(part)), asio::use_future));
    return Status();
  }

  // Parts complete in any order, but are collected in order, so etags_ stays in part order.
  Status collect_oldest() {
    std::optional<Result<std::string>> r = in_flight_.front().get();
    in_flight_.pop_front();
    if (!r->ok()) return r->status();
    etags_.push_back(**r);
    return Status();
  }

  Status fail(Status s) {
    failed_ = s;
    abort();
    return s;
  }

  const UploadJournal* journal() const { return options_.journal.get(); }

  Runtime& rt_;
  S3Client client_;
  std::string bucket_, key_;
  UploadOptions options_;
  std::string buffer_;
  std::string upload_id_;
  std::deque<PartFuture> in_flight_;
  std::vector<std::string> etags_;
  JournalEntry entry_;
  int next_part_ = 1;
  std::uint64_t written_ = 0;
  bool closed_ = false;
  Status failed_;
};

}  // namespace

Result<std::unique_ptr<OutputStream>> open_upload(Runtime& rt, S3Client client, std::string bucket, std::string key,
                                                  UploadOptions options) {
  if (options.part_bytes < (5u << 20))
    return Status::InvalidArgument("part_bytes: at least 5 MiB (S3's minimum part size)");
  if (options.parts_in_flight == 0) return Status::InvalidArgument("parts_in_flight: at least 1");
  SLUICE_RETURN_IF_ERROR(check_key(key));
  return std::unique_ptr<OutputStream>(
      new UploadStream(rt, std::move(client), std::move(bucket), std::move(key), std::move(options)));
}

RecoveryReport recover_uploads(Runtime& rt, S3Client client, const UploadJournal& journal, const std::string& bucket) {
  RecoveryReport report;
  Result<std::vector<JournalEntry>> entries = journal.abandoned(client.service(), bucket);
  if (!entries.ok()) {
    report.status = entries.status();
    return report;
  }
  for (const JournalEntry& e : *entries) {
    const std::string where = "s3://" + e.bucket + "/" + e.key;
    const std::string who =
        " (left unfinished by process " + std::to_string(e.pid) + ", upload id " + e.upload_id + ")";
    Status s = e.completing ? rt.block_on(client.complete_multipart(e.bucket, e.key, e.upload_id, e.etags))
                            : rt.block_on(client.abort_multipart(e.bucket, e.key, e.upload_id));
    if (s.code() == StatusCode::kNotFound) {  // NoSuchUpload: finished before the process ended
      journal.remove(e);
      report.notes.push_back("nothing left to do for " + where + who + ": the upload no longer exists");
      continue;
    }
    if (!s.ok()) {
      report.notes.push_back("could not " + std::string(e.completing ? "complete " : "abort ") + where + who + ": " +
                             s.message());
      if (report.status.ok()) report.status = s;
      continue;
    }
    journal.remove(e);
    ++(e.completing ? report.completed : report.aborted);
    report.notes.push_back(std::string(e.completing ? "completed " : "aborted ") + where + who);
  }
  return report;
}

}  // namespace sluice::s3
