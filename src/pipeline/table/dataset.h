// A dataset loaded up front (CSV or JSON Lines) and indexed by its key, for
// the join.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/file/config.h"
#include "sluice/detail/mutex.h"

namespace sluice::pipeline {

class Dataset {
 public:
  // Reads every row. Errors name the file and line: a missing column, a
  // value that is not of its column's type, a duplicate key.
  static Result<Dataset> load(const std::string& name, const TableConfig& config);

  const std::string& name() const { return name_; }
  const std::vector<ColumnDecl>& columns() const { return columns_; }
  std::size_t rows() const { return rows_; }
  std::size_t memory_bytes() const;

  // The row whose key equals `key` (one value per key column), or -1.
  std::int64_t find(const std::vector<const Value*>& key) const;
  Value at(std::size_t row, std::size_t column) const { return data_.columns[column].at(row); }

 private:
  std::string encode_key(const std::vector<const Value*>& key) const;
  Status add_row(std::vector<Value> row, const std::string& path, std::uint64_t line);

  std::string name_;
  std::vector<ColumnDecl> columns_;
  std::vector<std::size_t> key_columns_;
  ArrayData data_;  // column by column: typed vectors, strings in one buffer
  std::size_t rows_ = 0;
  bool int_key_ = false;  // one int64 key column: the fast index
  // One int64 key: open addressing, linear probing, at most half full.
  struct IntIndex {
    std::vector<std::int64_t> keys;
    std::vector<std::uint32_t> rows;  // kEmpty: a free slot
    std::size_t size = 0;
    static constexpr std::uint32_t kEmpty = 0xFFFFFFFF;
    void reserve(std::size_t n);                       // room for n keys
    bool insert(std::int64_t key, std::uint32_t row);  // false: the key is there already
    std::int64_t find(std::int64_t key) const;
    std::size_t bytes() const { return keys.capacity() * 8 + rows.capacity() * 4; }
  };
  IntIndex int_index_;
  std::unordered_map<std::string, std::uint32_t> index_;
};

// A plan's datasets, loaded (in the order the file declares them; null for
// one not loaded). A reload (`sluice serve` on SIGHUP) replaces them whole;
// a record being evaluated keeps the set it took, so that every record sees
// one set, and the old set goes when its last record has.
class LoadedDatasets {
 public:
  using Set = std::vector<std::shared_ptr<const Dataset>>;
  std::shared_ptr<const Set> now() const {
    MutexLock lock(mu_);
    return set_;
  }
  void replace(Set s) {
    auto next = std::make_shared<const Set>(std::move(s));
    MutexLock lock(mu_);
    set_.swap(next);  // the old set is let go outside the lock, with `next`
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const Set> set_ SLUICE_GUARDED_BY(mu_) = std::make_shared<const Set>();
};

}  // namespace sluice::pipeline
