// OutputStream: where a file's bytes go, written front to back. The same
// writer targets a local file or an S3 upload (one PUT, or a multipart
// upload for a file larger than a part).
//
// Lifecycle: write()* then exactly one of close() (the object becomes
// visible, complete) or abort() (nothing becomes visible). A stream
// destroyed without either aborts. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/status.h"

namespace sluice {

class OutputStream {
 public:
  virtual ~OutputStream() = default;
  virtual Status write(std::string_view bytes) = 0;
  // Makes the object visible under its final name.
  virtual Status close() = 0;
  // Discards everything written; idempotent.
  virtual void abort() = 0;
  // Bytes written so far.
  virtual std::uint64_t position() const = 0;
};

// A local file written under a temporary name in the same directory
// ("<name>.tmp-<random>") and renamed to `path` by close(), after fsync;
// abort() removes the temporary. A half-written file never has the final name.
Result<std::unique_ptr<OutputStream>> open_local_file(const std::string& path);

// Bytes kept in memory; close() keeps them available through data().
class MemoryOutputStream final : public OutputStream {
 public:
  Status write(std::string_view bytes) override {
    if (closed_) return Status::FailedPrecondition("memory stream: write after close");
    data_.append(bytes);
    return Status();
  }
  Status close() override {
    closed_ = true;
    return Status();
  }
  void abort() override { data_.clear(); }
  std::uint64_t position() const override { return data_.size(); }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
  bool closed_ = false;
};

}  // namespace sluice
