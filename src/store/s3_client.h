// S3Client: the S3 REST operations sluice needs, signed with SigV4, over
// sluice's HTTP client (pooled connections, deadlines, retries).
//
// Addressing: virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com)
// by default; path style (<endpoint>/<bucket>/<key>) when an endpoint is set
// for an S3-compatible service (MinIO, Ceph, R2, Swift's s3api).
// Errors carry S3's code, message and request id; never a credential or a
// signature.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws_config.h"
#include "credentials.h"
#include "sluice/http/client.h"
#include "sluice/store.h"
#include "upload_journal.h"

namespace sluice::s3 {

struct S3Options {
  std::string region = "us-east-1";
  std::string endpoint;                             // e.g. "http://127.0.0.1:9000"; empty: AWS
  std::shared_ptr<CredentialProvider> credentials;  // asked before each request
  bool sign_payload = true;                         // false: UNSIGNED-PAYLOAD
  http::ClientOptions http;                         // timeouts, retries, limits (base_url is set here)
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::string next_token;  // empty: the last page
};

class S3Client {
 public:
  static Result<S3Client> create(Runtime& rt, S3Options options);

  boost::asio::awaitable<Status> create_bucket(std::string bucket);
  boost::asio::awaitable<Status> put_object(std::string bucket, std::string key, std::string body);
  // PutObject with If-None-Match: * (kAlreadyExists: the key is there;
  // kUnimplemented: the service answered 501, it has no conditional writes).
  boost::asio::awaitable<Status> put_object_if_absent(std::string bucket, std::string key, std::string body);
  boost::asio::awaitable<Result<std::string>> get_object(std::string bucket, std::string key);
  boost::asio::awaitable<Result<std::optional<ObjectInfo>>> head_object(std::string bucket, std::string key);
  boost::asio::awaitable<Status> delete_object(std::string bucket, std::string key);
  // One page of ListObjectsV2: up to max_keys keys under prefix, after `token`.
  boost::asio::awaitable<Result<ListPage>> list_objects(std::string bucket, std::string prefix, std::string token,
                                                        int max_keys = 1000);

  // Multipart upload: the upload id; each part's ETag; complete with the
  // ETags in part order; abort frees every part uploaded.
  boost::asio::awaitable<Result<std::string>> create_multipart(std::string bucket, std::string key);
  boost::asio::awaitable<Result<std::string>> upload_part(std::string bucket, std::string key, std::string upload_id,
                                                          int part_number, std::string body);
  boost::asio::awaitable<Status> complete_multipart(std::string bucket, std::string key, std::string upload_id,
                                                    std::vector<std::string> etags);
  boost::asio::awaitable<Status> abort_multipart(std::string bucket, std::string key, std::string upload_id);
  struct UploadInfo {
    std::string key;
    std::string upload_id;
  };
  // The multipart uploads in progress in a bucket (one page, up to 1000).
  boost::asio::awaitable<Result<std::vector<UploadInfo>>> list_multipart_uploads(std::string bucket);

  // Which service this client talks to: the endpoint, or "aws:<region>".
  std::string service() const;

 private:
  struct State;
  explicit S3Client(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

}  // namespace sluice::s3

namespace sluice::s3 {

struct UploadOptions {
  std::size_t part_bytes = 16 << 20;  // at least 5 MiB (S3's minimum for all but the last part)
  std::size_t parts_in_flight = 4;    // memory: about part_bytes * (parts_in_flight + 1)
  // Where multipart uploads in progress are recorded (none: not recorded).
  std::shared_ptr<const UploadJournal> journal;
};

// An OutputStream into one S3 object: a single PutObject if the data fits
// one part, else a multipart upload whose parts are sent while later data is
// still being written, at most parts_in_flight at once. close() completes
// the upload (the object appears whole); abort() or any failure aborts it,
// leaving no parts behind. REQUIRES: used from a thread that is not one of
// the runtime's event-loop threads (its calls block).
Result<std::unique_ptr<OutputStream>> open_upload(Runtime& rt, S3Client client, std::string bucket, std::string key,
                                                  UploadOptions options = {});

// Finishes the uploads an earlier, ended run left in `journal` for this
// client's service and `bucket`: completes those whose parts were all sent,
// aborts the others, and removes their entries. Blocking, like open_upload.
struct RecoveryReport {
  int completed = 0;
  int aborted = 0;
  std::vector<std::string> notes;  // one line per upload, for the user
  Status status;                   // the first failure; its entry is kept for the next run
};
RecoveryReport recover_uploads(Runtime& rt, S3Client client, const UploadJournal& journal, const std::string& bucket);

}  // namespace sluice::s3
