#include "dataset.h"

#include <fcntl.h>
#include <poll.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "extract.h"
#include "sluice/parquet/reader.h"
#include "sluice/sources.h"

namespace sluice::pipeline {

namespace {

// Why `text`, a value of column `name`, is not UTF-8, or OK: strings are
// checked where they are read, so that one bad byte dead-letters its
// record here rather than failing a whole batch in the Parquet writer.
Status check_utf8(std::string_view text, const std::string& name) {
  if (simdjson::validate_utf8(text.data(), text.size())) return Status();
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

Result<Dataset> Dataset::load(const std::string& name, const TableConfig& config) {
  Dataset d;
  d.name_ = name;
  d.columns_ = config.columns;
  for (const auto& k : config.key) {
    for (std::size_t c = 0; c < d.columns_.size(); ++c) {
      if (d.columns_[c].name == k) d.key_columns_.push_back(c);
    }
  }
  d.int_key_ = d.key_columns_.size() == 1 && d.columns_[d.key_columns_[0]].type == Type::kInt64;
  const std::string context = "dataset '" + name + "'";
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<TableReader> reader, TableReader::open(config), context);
  std::vector<Value> row;
  std::uint64_t line = 0;
  std::vector<std::uint64_t> lines;  // of each row, for messages (int64 key only)
  Status row_error;
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(const bool more, reader->next(row, line, row_error), context);
    if (!more) break;
    SLUICE_RETURN_IF_ERROR(row_error, context);
    SLUICE_RETURN_IF_ERROR(d.add_row(std::move(row), reader->path(), line), context);
    if (d.int_key_) lines.push_back(line);
  }
  if (d.int_key_) {
    d.int_index_.reserve(d.rows_);
    const ArrayColumn& keys = d.data_.columns[d.key_columns_[0]];
    for (std::size_t r = 0; r < d.rows_; ++r) {
      if (!d.int_index_.insert(keys.i64[r], static_cast<std::uint32_t>(r))) {
        return Status::InvalidArgument("dataset '" + name + "': " + reader->path() + ":" + std::to_string(lines[r]) +
                                       ": duplicate key " + d.columns_[d.key_columns_[0]].name + "=" +
                                       std::to_string(keys.i64[r]));
      }
    }
  }
  return d;
}

namespace {
std::size_t slot_of(std::int64_t key, std::size_t mask) {
  std::uint64_t x = static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL;  // Fibonacci hashing
  return static_cast<std::size_t>(x ^ (x >> 32)) & mask;
}
}  // namespace

void Dataset::IntIndex::reserve(std::size_t n) {
  std::size_t slots = 16;
  while (slots < 2 * n) slots *= 2;
  if (slots <= rows.size()) return;
  std::vector<std::int64_t> old_keys = std::move(keys);
  std::vector<std::uint32_t> old_rows = std::move(rows);
  keys.assign(slots, 0);
  rows.assign(slots, kEmpty);
  size = 0;
  for (std::size_t i = 0; i < old_rows.size(); ++i) {
    if (old_rows[i] != kEmpty) insert(old_keys[i], old_rows[i]);
  }
}

bool Dataset::IntIndex::insert(std::int64_t key, std::uint32_t row) {
  if (2 * (size + 1) > rows.size()) reserve(size + 1);  // at most half the slots used
  const std::size_t mask = rows.size() - 1;
  for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (rows[i] == kEmpty) {
      keys[i] = key;
      rows[i] = row;
      ++size;
      return true;
    }
    if (keys[i] == key) return false;
  }
}

std::int64_t Dataset::IntIndex::find(std::int64_t key) const {
  if (rows.empty()) return -1;
  const std::size_t mask = rows.size() - 1;
  for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (rows[i] == kEmpty) return -1;
    if (keys[i] == key) return rows[i];
  }
}

std::string Dataset::encode_key(const std::vector<const Value*>& key) const {
  std::string k;
  for (const Value* v : key) {
    k += v->to_json();
    k += '\x1f';
  }
  return k;
}

Status Dataset::add_row(std::vector<Value> row, const std::string& path, std::uint64_t line) {
  auto where = [&] { return path + ":" + std::to_string(line); };  // for messages only
  std::vector<const Value*> key;
  for (std::size_t c : key_columns_) {
    if (row[c].is_null())
      return Status::InvalidArgument(where() + ": the key column '" + columns_[c].name + "' is empty");
    key.push_back(&row[c]);
  }
  const auto r = static_cast<std::uint32_t>(rows_);
  // One int64 key is indexed once every row is in, in a table sized once
  // (growing it on the way would briefly hold two tables).
  bool fresh = int_key_ || index_.emplace(encode_key(key), r).second;
  if (!fresh) {
    std::string shown;
    for (std::size_t i = 0; i < key.size(); ++i)
      shown += (i ? ", " : "") + columns_[key_columns_[i]].name + "=" + key[i]->to_json();
    return Status::InvalidArgument(where() + ": duplicate key " + shown);
  }
  if (data_.columns.empty()) {
    for (const auto& c : columns_) data_.columns.push_back({.type = c.type});
  }
  for (std::size_t c = 0; c < row.size(); ++c) {
    ArrayColumn& col = data_.columns[c];
    const Value& v = row[c];
    if (v.is_null()) {
      if (col.valid.empty()) col.valid.assign(rows_, 1);
      col.valid.push_back(0);
    } else if (!col.valid.empty()) {
      col.valid.push_back(1);
    }
    switch (col.type) {
      case Type::kInt64:
        col.i64.push_back(v.is_null() ? 0 : v.as_int());
        break;
      case Type::kBool:
        col.i64.push_back(v.is_null() ? 0 : v.as_bool());
        break;
      case Type::kDouble:
        col.f64.push_back(v.is_null() ? 0.0 : v.as_double());
        break;
      case Type::kString:
        col.push_str(v.is_null() ? std::string_view() : std::string_view(v.as_string()));
        break;
      case Type::kNull:
        break;
    }
  }
  data_.rows = rows_ + 1;
  ++rows_;
  return Status();
}

std::int64_t Dataset::find(const std::vector<const Value*>& key) const {
  for (const Value* v : key) {
    if (v->is_null()) return -1;
  }
  if (int_key_) {
    if (key[0]->type() != Type::kInt64) return -1;
    return int_index_.find(key[0]->as_int());
  }
  auto it = index_.find(encode_key(key));
  return it == index_.end() ? std::int64_t{-1} : std::int64_t{it->second};
}

std::size_t Dataset::memory_bytes() const {
  std::size_t index = int_key_ ? int_index_.bytes() : index_.size() * 64;
  std::size_t columns = 0;
  for (const auto& c : data_.columns) {
    columns += c.i64.capacity() * 8 + c.f64.capacity() * 8 + c.offsets.capacity() * 4 + c.bytes.capacity() +
               c.valid.capacity();
  }
  return columns + index;
}

}  // namespace sluice::pipeline
