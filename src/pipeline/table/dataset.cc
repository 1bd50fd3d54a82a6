#include "pipeline/table/dataset.h"

#include "pipeline/table/reader.h"

namespace sluice::pipeline {

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
