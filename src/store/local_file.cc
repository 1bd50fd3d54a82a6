// A local file that becomes visible under its name only when complete.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sluice/detail/random_id.h"
#include "sluice/output_stream.h"

namespace sluice {
namespace {

Status os_error(const std::string& what, const std::string& path, int err) {
  return Status::IoError(what + " " + path + ": " + errno_text(err));
}

class LocalFileStream final : public OutputStream {
 public:
  LocalFileStream(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  ~LocalFileStream() override { abort(); }

  // Small writes (page headers, the footer) gather in a buffer; large ones
  // (pages) go straight to the file after it.
  Status write(std::string_view bytes) override {
    if (fd_ < 0) return Status::FailedPrecondition("write to a closed file " + path_);
    if (buffer_.size() + bytes.size() <= kBufferBytes) {
      buffer_.append(bytes);
      return Status();
    }
    SLUICE_RETURN_IF_ERROR(flush());
    if (bytes.size() < kBufferBytes) {
      buffer_.append(bytes);
      return Status();
    }
    return write_all(bytes);
  }

  Status close() override {
    if (fd_ < 0) return Status::FailedPrecondition("file already closed: " + path_);
    if (Status s = flush(); !s.ok()) {
      abort();
      return s;
    }
    if (::fsync(fd_) != 0) {
      Status s = os_error("cannot sync", temp_, errno);
      abort();
      return s;
    }
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
      Status s = os_error("cannot close", temp_, errno);
      ::unlink(temp_.c_str());
      return s;
    }
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
      Status s = os_error("cannot rename " + temp_ + " to", path_, errno);
      ::unlink(temp_.c_str());
      return s;
    }
    // The rename is durable once the directory is: sync it too.
    std::string dir = path_.substr(0, path_.find_last_of('/') == std::string::npos ? 0 : path_.find_last_of('/'));
    if (dir.empty()) dir = ".";
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return Status();
  }

  void abort() override {
    if (fd_ < 0) return;
    ::close(std::exchange(fd_, -1));
    ::unlink(temp_.c_str());
  }

  std::uint64_t position() const override { return written_ + buffer_.size(); }

 private:
  static constexpr std::size_t kBufferBytes = 64 << 10;

  Status flush() {
    std::string_view pending = buffer_;
    Status s = write_all(pending);
    buffer_.clear();
    return s;
  }

  Status write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error("cannot write", temp_, errno);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      written_ += static_cast<std::uint64_t>(n);
    }
    return Status();
  }

  std::string path_;
  std::string temp_;
  int fd_;
  std::uint64_t written_ = 0;
  std::string buffer_;
};

}  // namespace

Result<std::unique_ptr<OutputStream>> open_local_file(const std::string& path) {
  const std::string suffix = ".tmp-" + detail::random_hex(8);
  // Beside the final file, hidden (a leading '.'): readers that list the
  // directory (Spark, Hive, a *.parquet glob) never see a file being written.
  const auto slash = path.rfind('/');
  const std::size_t base = slash == std::string::npos ? 0 : slash + 1;
  std::string temp = path.substr(0, base) + "." + path.substr(base) + suffix;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("cannot create", temp, errno);
  return std::unique_ptr<OutputStream>(new LocalFileStream(path, std::move(temp), fd));
}

}  // namespace sluice
