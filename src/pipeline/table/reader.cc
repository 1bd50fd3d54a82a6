#include "pipeline/table/reader.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pipeline/json/extract.h"
#include "sluice/detail/json.h"
#include "sluice/parquet/reader.h"
#include "sluice/sources.h"

namespace sluice::pipeline {

Result<std::vector<std::string>> input_files(const TableConfig& input) {
  std::vector<std::string> files;
  if (input.path == "-" || input.path.find_first_of("*?[") == std::string::npos) {
    files.push_back(input.path);
    return files;
  }
  glob_t g{};
  // Called before the run's threads start (glob reads the locale and environment).
  const int rc = ::glob(input.path.c_str(), 0, nullptr, &g);  // NOLINT(concurrency-mt-unsafe)
  for (std::size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (files.empty()) return Status::NotFound(input.where.str() + ": input: no file matches '" + input.path + "'");
  return files;
}

namespace {

// Why `text`, a value of column `name`, is not UTF-8, or OK: strings are
// checked where they are read, so that one bad byte dead-letters its
// record here rather than failing a whole batch in the Parquet writer.
Status check_utf8(std::string_view text, const std::string& name) {
  if (detail::valid_utf8(text)) return Status();
  std::size_t at = 0;
  while (at < text.size() && static_cast<unsigned char>(text[at]) < 0x80) ++at;  // where it goes wrong, roughly
  return Status::InvalidArgument("column '" + name + "': not valid UTF-8 (near byte " + std::to_string(at) + ")");
}

class CsvTable final : public TableReader {
 public:
  CsvTable(std::unique_ptr<CsvReader> r, std::vector<ColumnDecl> cols, std::vector<int> index, std::string path)
      : reader_(std::move(r)), columns_(std::move(cols)), index_(std::move(index)), path_(std::move(path)) {}

  Result<bool> next(std::vector<Value>& values, std::uint64_t& line, Status& row_error) override {
    Result<bool> more = reader_->next(rec_);
    if (!more.ok() || !*more) return more;
    line = rec_.line;
    row_error = rec_.malformed;
    values.resize(columns_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const auto i = static_cast<std::size_t>(index_[c]);
      if (i >= rec_.fields.size()) {  // a malformed record: what could be read of it (its key, for its dead letter)
        values[c] = Value();
        continue;
      }
      const std::string& text = rec_.fields[i];
      Status bad;
      if (!parse_value(text, columns_[c].type, values[c])) {
        bad =
            Status::InvalidArgument("column '" + columns_[c].name + "': expected " +
                                    std::string(type_name(columns_[c].type)) + ", found '" + text.substr(0, 64) + "'");
      } else if (columns_[c].type == Type::kString) {
        bad = check_utf8(text, columns_[c].name);
      }
      if (!bad.ok()) {
        values[c] = Value();
        if (row_error.ok())
          row_error = Status::InvalidArgument(path_ + ":" + std::to_string(line) + ": " + bad.message());
      }
    }
    return true;
  }
  const std::string& path() const override { return path_; }
  std::uint64_t position() const override { return reader_->position(); }

 private:
  std::unique_ptr<CsvReader> reader_;
  CsvRecord rec_;
  std::vector<ColumnDecl> columns_;
  std::vector<int> index_;
  std::string path_;
};

// JSON lines, read from a file descriptor a buffer at a time. While it waits
// for more (standard input from a pipe or a terminal), it looks at the stop
// flag every 100 ms: once that is set, the input ends there, so a run
// stopped by a signal does not hang on a reader that sends nothing.
class JsonlTable final : public TableReader {
 public:
  JsonlTable(int fd, const TableConfig& config, std::string path)
      : fd_(fd), path_(std::move(path)), max_line_(config.max_record_bytes) {
    std::vector<FieldSpec> specs, keys;
    for (const auto& c : config.columns) {
      FieldSpec f{.name = c.name, .path = c.name, .type = c.type, .optional = true};
      specs.push_back(f);
      if (std::find(config.key.begin(), config.key.end(), c.name) != config.key.end()) {
        keys.push_back(f);
        key_columns_.push_back(specs.size() - 1);
      }
    }
    extractor_ = std::make_unique<Extractor>(std::move(specs));
    keys_ = std::make_unique<Extractor>(std::move(keys));
  }
  ~JsonlTable() override {
    if (fd_ != STDIN_FILENO) ::close(fd_);
  }
  JsonlTable(const JsonlTable&) = delete;
  JsonlTable& operator=(const JsonlTable&) = delete;

  void stop_when(const std::atomic<bool>* stop) override { stop_ = stop; }

  Result<bool> next(std::vector<Value>& values, std::uint64_t& line, Status& row_error) override {
    row_error = Status();
    for (;;) {
      text_.clear();
      bool any = false;
      std::uint64_t length = 0;  // of the line, though no more than max_line_ of it is kept
      for (;;) {
        if (pos_ == end_) {
          Result<bool> more = fill();
          if (!more.ok()) return more.status();
          if (!*more) break;
        }
        const char* from = buf_.data() + pos_;
        const auto* nl = static_cast<const char*>(std::memchr(from, '\n', end_ - pos_));
        any = true;
        const auto n = static_cast<std::size_t>((nl == nullptr ? buf_.data() + end_ : nl) - from);
        length += n;
        if (length <= max_line_) text_.append(from, n);
        pos_ += n;
        if (nl == nullptr) continue;
        ++pos_;
        break;
      }
      if (!any) return false;
      ++line_;
      line = line_;
      if (length > max_line_) {
        row_error =
            Status::InvalidArgument(path_ + ":" + std::to_string(line) + ": the line is " + std::to_string(length) +
                                    " bytes, more than max_record_bytes (" + std::to_string(max_line_) + ")");
        values.assign(extractor_->fields().size(), Value());
        return true;
      }
      if (line_ == 1 && text_.starts_with("\xEF\xBB\xBF")) text_.erase(0, 3);  // a UTF-8 byte order mark
      if (text_.find_first_not_of(" \t\r") == std::string::npos) continue;     // a blank line is not a record
      if (Status s = extractor_->extract(text_, values); !s.ok()) {
        row_error = Status::InvalidArgument(path_ + ":" + std::to_string(line) + ": " + s.message());
        keys_only(values);
      }
      return true;
    }
  }
  const std::string& path() const override { return path_; }
  std::uint64_t position() const override { return consumed_ - (end_ - pos_); }

 private:
  // More bytes into the buffer: false at the end of the input, or once the
  // stop flag is set while none come.
  Result<bool> fill() {
    for (;;) {
      if (stop_ != nullptr) {
        pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
        const int ready = ::poll(&p, 1, 100);
        if (ready < 0 && errno != EINTR) return Status::IoError("cannot read " + path_ + ": " + errno_text(errno));
        if (ready <= 0) {
          if (stop_->load(std::memory_order_relaxed)) return false;
          continue;
        }
      }
      const ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::IoError("cannot read " + path_ + ": " + errno_text(errno));
      pos_ = 0;
      end_ = static_cast<std::size_t>(n);
      consumed_ += end_;
      return n > 0;
    }
  }

  // After a line that does not fit the columns: its key, if that can be
  // read, so that its dead letter names the record; the rest null.
  void keys_only(std::vector<Value>& values) {
    values.assign(extractor_->fields().size(), Value());
    std::vector<Value> keys;
    if (key_columns_.empty() || !keys_->extract(text_, keys).ok()) return;
    for (std::size_t k = 0; k < key_columns_.size(); ++k) values[key_columns_[k]] = std::move(keys[k]);
  }

  int fd_;
  std::string path_;
  std::size_t max_line_;
  std::vector<char> buf_ = std::vector<char>(std::size_t{64} * 1024);
  std::size_t pos_ = 0, end_ = 0;
  std::uint64_t consumed_ = 0;
  const std::atomic<bool>* stop_ = nullptr;
  std::string text_;
  std::uint64_t line_ = 0;
  std::unique_ptr<Extractor> extractor_;
  std::unique_ptr<Extractor> keys_;  // the key columns alone
  std::vector<std::size_t> key_columns_;
};

// A Parquet file (as sluice's reader renders it: doubles in their shortest
// exact form, strings quoted with \" \\ \xNN escapes), a row group at a time.
class ParquetTable final : public TableReader {
 public:
  ParquetTable(std::unique_ptr<parquet::ParquetReader> r, std::vector<ColumnDecl> cols, std::vector<int> index,
               std::string path)
      : reader_(std::move(r)), columns_(std::move(cols)), index_(std::move(index)), path_(std::move(path)) {}

  Result<bool> next(std::vector<Value>& values, std::uint64_t& line, Status& row_error) override {
    while (at_ >= rows_.size()) {
      if (group_ >= reader_->info().row_groups.size()) return false;
      auto rows = reader_->row_group(group_++);
      if (!rows.ok()) return rows.status();
      rows_ = std::move(*rows);
      at_ = 0;
    }
    const auto& row = rows_[at_++];
    line = ++row_number_;
    row_error = Status();
    values.resize(columns_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& text = row[static_cast<std::size_t>(index_[c])];
      if (text == "null") {
        values[c] = Value();
      } else if (columns_[c].type == Type::kString) {
        std::string v = unquote(text);
        if (Status bad = check_utf8(v, columns_[c].name); !bad.ok() && row_error.ok()) {
          row_error = Status::InvalidArgument(path_ + ": row " + std::to_string(line) + ": " + bad.message());
        }
        values[c] = Value(std::move(v));
      } else if (columns_[c].type == Type::kBool) {
        values[c] = Value(text == "true");
      } else if (!parse_value(text, columns_[c].type, values[c])) {
        row_error =
            Status::InvalidArgument(path_ + ": row " + std::to_string(line) + ": column '" + columns_[c].name +
                                    "': expected " + std::string(type_name(columns_[c].type)) + ", found " + text);
      }
    }
    return true;
  }
  const std::string& path() const override { return path_; }
  std::uint64_t position() const override { return 0; }

 private:
  static std::string unquote(const std::string& q) {
    std::string out;
    for (std::size_t i = 1; i + 1 < q.size(); ++i) {
      if (q[i] != '\\' || i + 2 >= q.size()) {
        out += q[i];
      } else if (q[i + 1] == 'x' && i + 3 < q.size()) {
        out += static_cast<char>(std::stoi(q.substr(i + 2, 2), nullptr, 16));
        i += 3;
      } else {
        out += q[++i];
      }
    }
    return out;
  }

  std::unique_ptr<parquet::ParquetReader> reader_;
  std::vector<ColumnDecl> columns_;
  std::vector<int> index_;
  std::string path_;
  std::vector<std::vector<std::string>> rows_;
  std::size_t group_ = 0, at_ = 0;
  std::uint64_t row_number_ = 0;
};

Result<std::unique_ptr<TableReader>> open_parquet(const TableConfig& config) {
  auto r = parquet::ParquetReader::open(config.path);
  if (!r.ok()) return r.status();
  std::vector<int> index;
  const auto& cols = (*r)->info().columns;
  for (const auto& c : config.columns) {
    auto it = std::find_if(cols.begin(), cols.end(), [&](const parquet::Column& p) { return p.name == c.name; });
    if (it == cols.end()) {
      return Status::InvalidArgument(config.path + ": no column '" + c.name + "' in the file (declared at " +
                                     c.where.str() + ")");
    }
    using parquet::ColumnType;
    const bool fits =
        (c.type == Type::kInt64 && (it->type == ColumnType::kInt64 || it->type == ColumnType::kInt32)) ||
        (c.type == Type::kDouble && (it->type == ColumnType::kDouble || it->type == ColumnType::kFloat)) ||
        (c.type == Type::kString && it->type == ColumnType::kString) ||
        (c.type == Type::kBool && it->type == ColumnType::kBool);
    if (!fits) {
      return Status::InvalidArgument(config.path + ": column '" + c.name + "' cannot be read as " +
                                     std::string(type_name(c.type)) + " (declared at " + c.where.str() + ")");
    }
    index.push_back(static_cast<int>(it - cols.begin()));
  }
  return std::unique_ptr<TableReader>(new ParquetTable(std::move(*r), config.columns, std::move(index), config.path));
}

}  // namespace

Result<std::unique_ptr<TableReader>> TableReader::open(const TableConfig& config) {
  if (config.format == Format::kParquet) return open_parquet(config);
  if (config.format == Format::kJsonl) {
    const int fd = config.path == "-" ? STDIN_FILENO : ::open(config.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound("cannot open " + config.path);
    return std::unique_ptr<TableReader>(new JsonlTable(fd, config, config.path == "-" ? "<stdin>" : config.path));
  }
  auto r =
      CsvReader::open(config.path == "-" ? "/dev/stdin" : config.path, {.max_record_bytes = config.max_record_bytes});
  if (!r.ok()) return r.status();
  std::vector<int> index;
  const auto& header = *(*r)->header();
  for (const auto& c : config.columns) {
    auto it = std::find(header.begin(), header.end(), c.name);
    if (it == header.end()) {
      return Status::InvalidArgument(config.path + ":1: no column '" + c.name + "' in the header (declared at " +
                                     c.where.str() + ")");
    }
    index.push_back(static_cast<int>(it - header.begin()));
  }
  return std::unique_ptr<TableReader>(new CsvTable(std::move(*r), config.columns, std::move(index), config.path));
}

}  // namespace sluice::pipeline
