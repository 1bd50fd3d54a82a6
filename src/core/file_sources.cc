#include <cerrno>
#include <cstring>

#include "sluice/sources.h"

namespace sluice {

namespace {

constexpr std::size_t kReadChunk = 1 << 20;  // 1 MiB: few syscalls, small footprint

Status open_error(const std::string& path, int err) {
  std::string m = path + ": " + errno_text(err);
  return err == ENOENT ? Status::NotFound(std::move(m)) : Status::IoError(std::move(m));
}

}  // namespace

const std::string* CsvRecord::get(std::string_view column) const {
  if (!header) return nullptr;
  for (std::size_t i = 0; i < header->size() && i < fields.size(); ++i) {
    if ((*header)[i] == column) return &fields[i];
  }
  return nullptr;
}

CsvReader::CsvReader(std::string path, std::FILE* f, char delimiter)
    : path_(std::move(path)), file_(f), delimiter_(delimiter), buf_(kReadChunk) {}

CsvReader::~CsvReader() { std::fclose(file_); }

Result<std::unique_ptr<CsvReader>> CsvReader::open(const std::string& path, char delimiter) {
  if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
    return Status::InvalidArgument("csv delimiter: a quote or line break cannot be the delimiter");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return open_error(path, errno);
  std::unique_ptr<CsvReader> r(new CsvReader(path, f, delimiter));
  // A UTF-8 byte order mark (as spreadsheet programs write) is not part of
  // the first column's name.
  if (r->peek() == 0xEF && r->end_ - r->pos_ >= 3 && static_cast<unsigned char>(r->buf_[1]) == 0xBB &&
      static_cast<unsigned char>(r->buf_[2]) == 0xBF) {
    r->pos_ += 3;
  }
  std::vector<std::string> header;
  Result<bool> got = r->parse_record(header);
  if (!got.ok()) return got.status();
  if (!*got) return Status::InvalidArgument(path + ": the file is empty; expected a header line");
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) return r->error_at(1, "header column " + std::to_string(i + 1) + " has no name");
  }
  r->header_ = std::make_shared<const std::vector<std::string>>(std::move(header));
  return r;
}

Status CsvReader::error_at(std::uint64_t line, std::string_view what) const {
  return Status::InvalidArgument(path_ + ":" + std::to_string(line) + ": " + std::string(what));
}

int CsvReader::peek() {
  if (pos_ == end_) {
    end_ = std::fread(buf_.data(), 1, buf_.size(), file_);
    pos_ = 0;
    if (end_ == 0) return EOF;
  }
  return static_cast<unsigned char>(buf_[pos_]);
}

int CsvReader::get() {
  int c = peek();
  if (c != EOF) ++pos_;
  return c;
}

Result<bool> CsvReader::parse_record(std::vector<std::string>& fields) {
  fields.clear();
  quoted_ = false;
  if (peek() == EOF) {
    if (std::ferror(file_)) return Status::IoError(path_ + ": read failed: " + errno_text(errno));
    return false;
  }
  std::string field;
  for (;;) {
    int c = get();
    if (c == '"' && field.empty()) {
      quoted_ = true;
      // Quoted field: runs to the next lone quote.
      const std::uint64_t opened = line_;
      for (;;) {
        c = get();
        if (c == EOF) return error_at(opened, "a quoted field is not closed before the end of the file");
        if (c == '"') {
          if (peek() != '"') break;
          get();
        } else if (c == '\n') {
          ++line_;
        }
        field.push_back(static_cast<char>(c));
      }
      c = get();
      if (c == '\r' && peek() == '\n') c = get();
      if (c != delimiter_ && c != '\n' && c != EOF) {
        return error_at(line_, "unexpected text after the closing quote of field " + std::to_string(fields.size() + 1));
      }
    } else {
      while (c != delimiter_ && c != '\n' && c != EOF) {
        if (c == '"') return error_at(line_, "a quote inside unquoted field " + std::to_string(fields.size() + 1));
        if (c == '\r' && peek() == '\n') {
          c = get();
          break;
        }
        field.push_back(static_cast<char>(c));
        c = get();
      }
    }
    fields.push_back(std::move(field));
    field.clear();
    if (c == '\n') {
      ++line_;
      break;
    }
    if (c == EOF) break;
  }
  return true;
}

Result<bool> CsvReader::next(CsvRecord& rec) {
  Result<bool> got = true;
  for (;;) {
    rec.line = line_;
    got = parse_record(rec.fields);
    if (!got.ok() || !*got) return got;
    // A blank line is not a record (a quoted empty field, "", is one).
    if (rec.fields.size() == 1 && rec.fields[0].empty() && !quoted_) {
      ++blank_lines_;
      continue;
    }
    break;
  }
  if (rec.fields.size() != header_->size()) {
    return error_at(rec.line, "expected " + std::to_string(header_->size()) + " field" +
                                  (header_->size() == 1 ? "" : "s") + " (as in the header), found " +
                                  std::to_string(rec.fields.size()));
  }
  rec.header = header_;
  return true;
}

std::uint64_t CsvReader::position() const {
  long at = std::ftell(file_);
  return at < 0 ? 0 : static_cast<std::uint64_t>(at) - (end_ - pos_);
}

CsvSource from_csv(std::string path, CsvOptions opt) {
  return CsvSource([path = std::move(path), opt = std::move(opt)](detail::FlowState& flow) -> Stream<CsvRecord> {
    auto& c = flow.add_stage(opt.name, "source");
    auto out = detail::make_output<CsvRecord>(flow, c, opt.capacity, 1);
    flow.spawn_thread(c, [path, delimiter = opt.delimiter, out, &c]() -> Status {
      detail::SenderGuard guard(*out);
      Result<std::unique_ptr<CsvReader>> reader = CsvReader::open(path, delimiter);
      if (!reader.ok()) return reader.status();
      for (;;) {
        CsvRecord rec;
        Result<bool> got = (*reader)->next(rec);
        if (!got.ok()) return got.status();
        if (!*got) return Status();
        c.count_in();
        if (!out->send_blocking(std::move(rec))) return Status();  // the run stopped
        c.count_out();
      }
    });
    return out;
  });
}

JsonlSource from_jsonl(std::string path, StageOptions opt) {
  return JsonlSource([path = std::move(path), opt = std::move(opt)](detail::FlowState& flow) -> Stream<JsonlRecord> {
    auto& c = flow.add_stage(opt.name, "source");
    auto out = detail::make_output<JsonlRecord>(flow, c, opt.capacity, 1);
    flow.spawn_thread(c, [path, out, &c]() -> Status {
      detail::SenderGuard guard(*out);
      std::FILE* f = std::fopen(path.c_str(), "rb");
      if (f == nullptr) return open_error(path, errno);
      std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
      char* line = nullptr;
      std::size_t cap = 0;
      std::unique_ptr<char, void (*)(void*)> line_owner(nullptr, &std::free);
      std::uint64_t number = 0;
      for (;;) {
        ssize_t n = ::getline(&line, &cap, f);
        static_cast<void>(line_owner.release());  // getline may have moved the buffer: own the new one
        line_owner.reset(line);
        if (n < 0) {
          if (std::ferror(f)) return Status::IoError(path + ": read failed: " + errno_text(errno));
          return Status();
        }
        ++number;
        std::string_view text(line, static_cast<std::size_t>(n));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
        if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank: not a record
        c.count_in();
        if (!out->send_blocking(JsonlRecord{number, std::string(text)})) return Status();
        c.count_out();
      }
    });
    return out;
  });
}

}  // namespace sluice
