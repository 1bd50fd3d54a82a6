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

CsvReader::CsvReader(std::string path, std::FILE* f, CsvReaderOptions options)
    : path_(std::move(path)), file_(f), options_(options), buf_(kReadChunk) {}

CsvReader::~CsvReader() { std::fclose(file_); }

Result<std::unique_ptr<CsvReader>> CsvReader::open(const std::string& path, CsvReaderOptions options) {
  if (options.delimiter == '"' || options.delimiter == '\n' || options.delimiter == '\r') {
    return Status::InvalidArgument("csv delimiter: a quote or line break cannot be the delimiter");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return open_error(path, errno);
  std::unique_ptr<CsvReader> r(new CsvReader(path, f, options));
  // A UTF-8 byte order mark (as spreadsheet programs write) is not part of
  // the first column's name.
  if (r->peek() == 0xEF && r->end_ - r->pos_ >= 3 && static_cast<unsigned char>(r->buf_[1]) == 0xBB &&
      static_cast<unsigned char>(r->buf_[2]) == 0xBF) {
    r->pos_ += 3;
  }
  std::vector<std::string> header;
  Status malformed;
  Result<bool> got = r->parse_record(header, malformed);
  if (!got.ok()) return got.status();
  if (!*got) return Status::InvalidArgument(path + ": the file is empty; expected a header line");
  if (!malformed.ok()) return malformed;
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
    buf_offset_ += end_;
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

// Passes over the rest of the line (its line break included).
void CsvReader::skip_line() {
  for (int c = get(); c != EOF; c = get()) {
    if (c == '\n') {
      ++line_;
      return;
    }
  }
}

// A quoted field opened on line `opened` and not closed by the end of the
// file (`at_end`) or within max_record_bytes. If it ran over a line break,
// the file is read again from the line after `opened` (at byte
// `next_line_offset`): those lines are records of their own, not part of a
// field that never ends.
Result<bool> CsvReader::unclosed(std::uint64_t opened, std::uint64_t next_line_offset, bool at_end, Status& malformed) {
  const std::string limit = std::to_string(options_.max_record_bytes);
  if (next_line_offset == 0) {  // all on one line
    malformed = error_at(opened, at_end ? "a quoted field is not closed before the end of the file"
                                        : "the record is longer than max_record_bytes (" + limit + ")");
    if (!at_end) skip_line();
    return true;
  }
  const std::string why = at_end ? "a quoted field is not closed before the end of the file"
                                 : "a quoted field is not closed within max_record_bytes (" + limit + ")";
  if (std::fseek(file_, static_cast<long>(next_line_offset), SEEK_SET) != 0) {
    return error_at(opened, why + ", and the input cannot be read again from the next line: " + errno_text(errno));
  }
  std::clearerr(file_);
  buf_offset_ = next_line_offset;
  pos_ = end_ = 0;
  line_ = opened + 1;
  malformed = error_at(opened, why + "; read on from line " + std::to_string(line_));
  return true;
}

Result<bool> CsvReader::parse_record(std::vector<std::string>& fields, Status& malformed) {
  fields.clear();
  quoted_ = false;
  malformed = Status();
  if (peek() == EOF) {
    if (std::ferror(file_)) return Status::IoError(path_ + ": read failed: " + errno_text(errno));
    return false;
  }
  const std::uint64_t start = position();
  auto too_long = [&] { return position() - start > options_.max_record_bytes; };
  const char delimiter = options_.delimiter;
  std::string field;
  for (;;) {
    int c = get();
    if (c == '"' && field.empty()) {
      quoted_ = true;
      // Quoted field: runs to the next lone quote.
      const std::uint64_t opened = line_;
      std::uint64_t next_line = 0;  // where the line after `opened` starts, once the field reaches it
      for (;;) {
        c = get();
        if (c == EOF || too_long()) return unclosed(opened, next_line, c == EOF, malformed);
        if (c == '"') {
          if (peek() != '"') break;
          get();
        } else if (c == '\n') {
          ++line_;
          if (next_line == 0) next_line = position();
        }
        field.push_back(static_cast<char>(c));
      }
      c = get();
      if (c == '\r' && peek() == '\n') c = get();
      if (c != delimiter && c != '\n' && c != EOF) {
        malformed =
            error_at(line_, "unexpected text after the closing quote of field " + std::to_string(fields.size() + 1));
        fields.push_back(std::move(field));
        skip_line();
        return true;
      }
    } else {
      while (c != delimiter && c != '\n' && c != EOF) {
        if (c == '"' || too_long()) {
          malformed = error_at(line_, c == '"' ? "a quote inside unquoted field " + std::to_string(fields.size() + 1)
                                               : "the record is longer than max_record_bytes (" +
                                                     std::to_string(options_.max_record_bytes) + ")");
          skip_line();
          return true;
        }
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
  for (;;) {
    rec.line = line_;
    Result<bool> got = parse_record(rec.fields, rec.malformed);
    if (!got.ok() || !*got) return got;
    // A blank line is not a record (a quoted empty field, "", is one).
    if (rec.malformed.ok() && rec.fields.size() == 1 && rec.fields[0].empty() && !quoted_) {
      ++blank_lines_;
      continue;
    }
    break;
  }
  if (rec.malformed.ok() && rec.fields.size() != header_->size()) {
    rec.malformed = error_at(rec.line, "expected " + std::to_string(header_->size()) + " field" +
                                           (header_->size() == 1 ? "" : "s") + " (as in the header), found " +
                                           std::to_string(rec.fields.size()));
  }
  rec.header = header_;
  return true;
}

CsvSource from_csv(std::string path, CsvOptions opt) {
  return CsvSource([path = std::move(path), opt = std::move(opt)](detail::FlowState& flow) -> Stream<CsvRecord> {
    auto& c = flow.add_stage(opt.name, "source");
    auto out = detail::make_output<CsvRecord>(flow, c, opt.capacity, 1);
    flow.spawn_thread(c, [path, delimiter = opt.delimiter, out, &c]() -> Status {
      detail::SenderGuard guard(*out);
      Result<std::unique_ptr<CsvReader>> reader = CsvReader::open(path, {.delimiter = delimiter});
      if (!reader.ok()) return reader.status();
      for (;;) {
        CsvRecord rec;
        Result<bool> got = (*reader)->next(rec);
        if (!got.ok()) return got.status();
        if (!*got) return Status();
        if (!rec.malformed.ok()) return rec.malformed;
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
