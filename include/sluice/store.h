// ObjectStore: where a pipeline's files go — a local directory or (soon) S3 —
// behind one interface of keys and bytes.
//
// Keys are '/'-separated relative paths ("features/part-00000.parquet");
// ".." segments, empty segments and a leading '/' are refused.
// An object written through open_write() becomes visible under its key only
// when the stream's close() succeeds; abort() (or dropping the stream)
// leaves nothing. Calls block: make them from a pipeline's CPU or file
// threads, never from an event-loop thread.
#pragma once

#include "sluice/output_stream.h"
#include "sluice/status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<std::unique_ptr<OutputStream>> open_write(const std::string& key) = 0;
  virtual Status put(const std::string& key, std::string_view data);  // open_write + write + close
  virtual Result<std::string> get(const std::string& key) = 0;       // kNotFound if absent
  virtual Result<std::optional<ObjectInfo>> head(const std::string& key) = 0;
  virtual Result<std::vector<ObjectInfo>> list(const std::string& prefix) = 0;  // sorted by key
  virtual Status remove(const std::string& key) = 0;                  // OK if already absent
  // Where `key` lives, for messages ("/data/out/a.parquet", "s3://b/p/a.parquet").
  virtual std::string describe(const std::string& key) const = 0;
};

// A key's problems, or OK.
Status check_key(std::string_view key);

// A directory as a store (created if missing).
Result<std::unique_ptr<ObjectStore>> open_local_store(const std::string& root);

// A store for a URL: a plain path or file://path for a local directory.
// s3:// URLs are not supported yet and fail with kFailedPrecondition.
Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url);

}  // namespace sluice
