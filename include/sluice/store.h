// ObjectStore: where a pipeline's files go — a local directory or an S3
// bucket (AWS or any S3-compatible service) — behind one interface of keys
// and bytes.
//
// Keys are '/'-separated relative paths ("features/part-00000.parquet");
// ".." segments, empty segments and a leading '/' are refused.
// An object written through open_write() becomes visible under its key only
// when the stream's close() succeeds; abort() (or dropping the stream)
// leaves nothing. Calls block: make them from a pipeline's CPU or file
// threads, never from an event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/output_stream.h"
#include "sluice/status.h"

namespace sluice {

class Runtime;

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<std::unique_ptr<OutputStream>> open_write(const std::string& key) = 0;
  virtual Status put(const std::string& key, std::string_view data);  // open_write + write + close
  virtual Result<std::string> get(const std::string& key) = 0;        // kNotFound if absent
  virtual Result<std::optional<ObjectInfo>> head(const std::string& key) = 0;
  virtual Result<std::vector<ObjectInfo>> list(const std::string& prefix) = 0;  // sorted by key
  virtual Status remove(const std::string& key) = 0;                            // OK if already absent
  // Creates `key` holding `data` only if no object has that key, as one
  // atomic act: of writers racing for a key, exactly one gets OK, the others
  // kAlreadyExists. kUnimplemented when the store cannot make the create
  // atomic (an S3-compatible service without conditional writes): callers
  // that need it must stop, never fall back to put().
  virtual Status create_exclusive(const std::string& key, std::string_view data);
  // Removes what killed writers left of objects whose file name (the key's
  // last part) starts with `name` (a local directory: hidden
  // ".<file>.tmp-XXXXXXXX" files beside them; S3 needs nothing: the upload
  // journal ends abandoned uploads at open). Returns the keys of what was
  // removed.
  // REQUIRES: no writer of such objects is running.
  virtual Result<std::vector<std::string>> remove_abandoned(const std::string& name);
  // Where `key` lives, for messages ("/data/out/a.parquet", "s3://b/p/a.parquet").
  virtual std::string describe(const std::string& key) const = 0;
};

// A key's problems, or OK.
Status check_key(std::string_view key);

// A directory as a store (created if missing).
Result<std::unique_ptr<ObjectStore>> open_local_store(const std::string& root);

struct StoreOptions {
  // S3 (s3://bucket[/prefix]) only. Credentials come from the environment or
  // the shared AWS files (AWS_ACCESS_KEY_ID..., AWS_PROFILE), never from here.
  std::string s3_endpoint;               // an S3-compatible service, path-style addressing; else
                                         // AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; else AWS itself
  std::string s3_region;                 // else AWS_REGION / AWS_DEFAULT_REGION / the config file / us-east-1
  bool s3_sign_payload = true;           // false: UNSIGNED-PAYLOAD (less CPU; TLS still protects it)
  std::size_t s3_part_bytes = 16 << 20;  // multipart part size, at least 5 MiB
  std::size_t s3_parts_in_flight = 4;    // memory: about part size x (parts in flight + 1)
  int s3_max_attempts = 5;               // per request (each part separately)
  // Requests wait for an endpoint that stops answering (probing it), up to
  // this long, rather than spend their attempts; then they fail.
  std::chrono::seconds s3_give_up_after{900};
  std::string journal_dir;  // uploads in progress; default: see below
  // The runtime whose event loop carries S3's requests; null: the store
  // runs its own (one thread). Either way, call the store from threads
  // that are not that runtime's event-loop threads.
  Runtime* runtime = nullptr;
  // Told what opening the store did that the user should know (an
  // unfinished upload of an earlier run completed or aborted).
  std::function<void(const std::string&)> on_notice;
};

// A store for a URL: a plain path or file://path for a local directory, or
// s3://bucket[/prefix] for S3. Opening an S3 store first finishes the
// multipart uploads an earlier, ended run left unfinished in that bucket
// (the journal is $SLUICE_UPLOAD_JOURNAL, else $XDG_STATE_HOME/sluice/uploads,
// else ~/.local/state/sluice/uploads), and checks that the bucket answers.
Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, const StoreOptions& options = {});

// The environment variables open_store(url) would read, checked without
// opening anything: for s3:// the endpoint (AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL), the credentials and region (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
// AWS_REGION, AWS_DEFAULT_REGION, AWS_CONFIG_FILE) and the upload journal
// (SLUICE_UPLOAD_JOURNAL). kInvalidArgument naming the variable and its
// value (never a secret's).
Status check_store_environment(const std::string& url);

}  // namespace sluice
