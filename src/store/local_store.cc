#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "sluice/detail/random_id.h"
#include "sluice/store.h"

namespace sluice {

namespace fs = std::filesystem;

Result<std::vector<std::string>> ObjectStore::remove_abandoned(const std::string&) {
  return std::vector<std::string>();
}

Status ObjectStore::put(const std::string& key, std::string_view data) {
  Result<std::unique_ptr<OutputStream>> out = open_write(key);
  if (!out.ok()) return out.status();
  if (Status s = (*out)->write(data); !s.ok()) {
    (*out)->abort();
    return s;
  }
  return (*out)->close();
}

Status ObjectStore::create_exclusive(const std::string& key, std::string_view) {
  return Status::Unimplemented(describe(key) + ": this store cannot create an object only if it is absent");
}

Status check_key(std::string_view key) {
  auto bad = [&](const char* why) { return Status::InvalidArgument("key '" + std::string(key) + "': " + why); };
  if (key.empty()) return bad("empty");
  if (key.front() == '/') return bad("must not begin with '/'");
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty()) return bad("has an empty segment ('//' or a trailing '/')");
    if (seg == "." || seg == "..") return bad("has a '.' or '..' segment");
    start = end + 1;
  }
  if (key.find('\0') != std::string_view::npos) return bad("holds a NUL byte");
  return Status();
}

namespace {

// A new name in a directory is durable once the directory is synced.
void sync_directory(const fs::path& dir) {
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// The temporaries of open_local_file: ".<name>.tmp-" and eight hex digits.
bool is_temporary(const std::string& name) {
  auto at = name.rfind(".tmp-");
  return name.starts_with('.') && at != std::string::npos && at > 0 && name.size() - at == 13;
}

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(fs::path root) : root_(std::move(root)) {}

  Result<std::unique_ptr<OutputStream>> open_write(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    fs::path p = root_ / key;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Status::IoError("cannot create " + p.parent_path().string() + ": " + ec.message());
    return open_local_file(p.string());
  }

  Result<std::string> get(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    fs::path p = root_ / key;
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      return errno == ENOENT ? Status::NotFound(describe(key) + ": no such object")
                             : Status::IoError(describe(key) + ": " + errno_text(errno));
    }
    std::string data((std::istreambuf_iterator<char>(in)), {});
    if (in.bad()) return Status::IoError(describe(key) + ": read failed");
    return data;
  }

  Result<std::optional<ObjectInfo>> head(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    std::error_code ec;
    auto st = fs::status(root_ / key, ec);
    if (ec || !fs::is_regular_file(st)) return std::optional<ObjectInfo>();
    auto size = fs::file_size(root_ / key, ec);
    if (ec) return Status::IoError(describe(key) + ": " + ec.message());
    return std::optional<ObjectInfo>(ObjectInfo{key, size});
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec) || is_temporary(it->path().filename().string())) continue;
      std::string key = fs::relative(it->path(), root_, ec).generic_string();
      if (key.starts_with(prefix)) out.push_back({key, it->file_size(ec)});
    }
    if (ec) return Status::IoError("cannot list " + root_.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Status remove(const std::string& key) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    std::error_code ec;
    fs::remove(root_ / key, ec);
    if (ec) return Status::IoError("cannot remove " + describe(key) + ": " + ec.message());
    return Status();
  }

  // The data goes to a temporary beside the key, synced, then gets its name
  // by link(2), which fails if the name exists (rename would replace it).
  Status create_exclusive(const std::string& key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(check_key(key));
    const fs::path p = root_ / key;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Status::IoError("cannot create " + p.parent_path().string() + ": " + ec.message());
    const std::string temp =
        (p.parent_path() / ("." + p.filename().string() + ".tmp-" + detail::random_hex(8))).string();
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoError("cannot create a file beside " + p.string() + ": " + errno_text(errno));
    Status s;
    for (std::size_t done = 0; s.ok() && done < data.size();) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s = Status::IoError("cannot write " + temp + ": " + errno_text(errno));
      if (n > 0) done += static_cast<std::size_t>(n);
    }
    if (s.ok() && ::fsync(fd) != 0) s = Status::IoError("cannot sync " + temp + ": " + errno_text(errno));
    ::close(fd);
    if (s.ok() && ::link(temp.c_str(), p.c_str()) != 0) {
      s = errno == EEXIST ? Status::AlreadyExists(p.string() + ": exists")
                          : Status::IoError("cannot link " + temp + " to " + p.string() + ": " + errno_text(errno));
    }
    ::unlink(temp.c_str());
    if (s.ok()) sync_directory(p.parent_path());
    return s;
  }

  Result<std::vector<std::string>> remove_abandoned(const std::string& name) override {
    std::vector<std::string> removed;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return removed;
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (it->is_regular_file(ec) && is_temporary(file) && file.substr(1).starts_with(name))
        found.push_back(it->path());
    }
    if (ec) return Status::IoError("cannot list " + root_.string() + ": " + ec.message());
    for (const auto& p : found) {
      if (!fs::remove(p, ec) && ec) return Status::IoError("cannot remove " + p.string() + ": " + ec.message());
      removed.push_back(fs::relative(p, root_, ec).generic_string());
    }
    return removed;
  }

  std::string describe(const std::string& key) const override { return (root_ / key).string(); }

 private:
  fs::path root_;
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> open_local_store(const std::string& root) {
  if (root.empty()) return Status::InvalidArgument("local store: empty path");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IoError("cannot create " + root + ": " + ec.message());
  if (!fs::is_directory(root, ec)) return Status::InvalidArgument(root + ": not a directory");
  return std::unique_ptr<ObjectStore>(new LocalStore(root));
}

}  // namespace sluice
