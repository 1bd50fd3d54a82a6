#include "upload_journal.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "sigv4.h"
#include "sluice/output_stream.h"

namespace sluice::s3 {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "sluice-upload 1";

// The start time of a process in clock ticks after boot (field 22 of
// /proc/PID/stat), or 0 if there is no such process.
unsigned long long start_ticks(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  for (int i = 3; i <= 22 && fields >> f; ++i) {
    if (i == 22) return std::strtoull(f.c_str(), nullptr, 10);
  }
  return 0;
}

bool alive(const JournalEntry& e) { return e.pid > 0 && start_ticks(e.pid) == e.start_ticks; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> pct_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Result<JournalEntry> parse(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read upload journal entry " + path);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) {
    return Status::DataLoss(path + ":1: not an upload journal entry (expected '" + std::string(kMagic) + "')");
  }
  JournalEntry e;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    auto sp = line.find(' ');
    std::string name = line.substr(0, sp);
    std::optional<std::string> value =
        sp == std::string::npos ? std::optional<std::string>() : pct_decode(std::string_view(line).substr(sp + 1));
    if (!value) return Status::DataLoss(path + ":" + std::to_string(n) + ": malformed line");
    if (name == "service")
      e.service = *value;
    else if (name == "bucket")
      e.bucket = *value;
    else if (name == "key")
      e.key = *value;
    else if (name == "upload_id")
      e.upload_id = *value;
    else if (name == "state")
      e.completing = *value == "completing";
    else if (name == "etag")
      e.etags.push_back(*value);
    else if (name == "pid")
      e.pid = std::strtol(value->c_str(), nullptr, 10);
    else if (name == "start")
      e.start_ticks = std::strtoull(value->c_str(), nullptr, 10);
    else
      return Status::DataLoss(path + ":" + std::to_string(n) + ": unknown field '" + name + "'");
  }
  if (e.bucket.empty() || e.key.empty() || e.upload_id.empty()) {
    return Status::DataLoss(path + ": incomplete entry (bucket, key and upload_id are required)");
  }
  return e;
}

}  // namespace

std::string UploadJournal::path_of(const JournalEntry& e) const {
  return dir_ + "/" + sha256_hex(e.service + '\n' + e.bucket + '\n' + e.key + '\n' + e.upload_id).substr(0, 24) +
         ".upload";
}

Status UploadJournal::add(JournalEntry& e) const {
  e.pid = ::getpid();
  e.start_ticks = start_ticks(e.pid);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IoError("cannot create the upload journal " + dir_ + ": " + ec.message());
  return write(e);
}

Status UploadJournal::write(const JournalEntry& e) const {
  std::string text(kMagic);
  auto field = [&](std::string_view name, std::string_view value) {
    text += '\n';
    text += name;
    text += ' ';
    text += uri_encode(value, Slash::kKeep);
  };
  field("service", e.service);
  field("bucket", e.bucket);
  field("key", e.key);
  field("upload_id", e.upload_id);
  field("pid", std::to_string(e.pid));
  field("start", std::to_string(e.start_ticks));
  field("state", e.completing ? "completing" : "uploading");
  for (const auto& t : e.etags) field("etag", t);
  text += '\n';
  const std::string path = path_of(e);
  auto out = open_local_file(path);
  if (!out.ok()) return out.status();
  SLUICE_RETURN_IF_ERROR((*out)->write(text));
  return (*out)->close();
}

void UploadJournal::remove(const JournalEntry& e) const {
  std::error_code ec;
  fs::remove(path_of(e), ec);
}

Result<std::vector<JournalEntry>> UploadJournal::abandoned(const std::string& service,
                                                           const std::string& bucket) const {
  std::vector<JournalEntry> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".upload") continue;  // temporaries of an interrupted write
    Result<JournalEntry> e = parse(it->path().string());
    if (!e.ok()) return e.status();
    if (e->service == service && e->bucket == bucket && !alive(*e)) out.push_back(std::move(*e));
  }
  if (ec) return Status::IoError("cannot list the upload journal " + dir_ + ": " + ec.message());
  return out;
}

Status check_journal_env() {
  const char* d = std::getenv("SLUICE_UPLOAD_JOURNAL");
  if (d == nullptr || *d == '\0' || *d == '/') return Status();
  return Status::InvalidArgument(std::string("SLUICE_UPLOAD_JOURNAL='") + d +
                                 "': expected an absolute path (a directory for the upload journal)");
}

std::string default_journal_dir() {
  if (const char* d = std::getenv("SLUICE_UPLOAD_JOURNAL"); d && *d) return d;
  // The XDG Base Directory specification: a relative value is to be ignored.
  if (const char* d = std::getenv("XDG_STATE_HOME"); d && *d == '/') return std::string(d) + "/sluice/uploads";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/state/sluice/uploads";
}

}  // namespace sluice::s3
