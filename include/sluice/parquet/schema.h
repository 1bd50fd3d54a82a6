// The schema of a Parquet file written by sluice: flat columns of scalar
// types, plus lists of doubles or int64 (the LIST logical type, standard
// three-level structure) for array features.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/status.h"

namespace sluice::parquet {

enum class ColumnType : std::uint8_t {
  kBool,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kString,      // BYTE_ARRAY, STRING logical type, UTF-8
  kTimestamp,   // INT64, TIMESTAMP logical type in `unit`, adjusted to UTC
  kDate,        // INT32 days since 1970-01-01, DATE logical type
  kListDouble,  // LIST of required DOUBLE elements
  kListInt64,   // LIST of required INT64 elements
};

enum class TimeUnit : std::uint8_t { kMillis, kMicros, kNanos };

enum class Compression : std::uint8_t { kNone, kSnappy, kGzip, kZstd, kLz4Raw };

std::string_view to_string(ColumnType t);
std::string_view to_string(Compression c);

struct Column {
  std::string name;
  ColumnType type = ColumnType::kInt64;
  bool nullable = false;                   // optional (may hold nulls) or required
  TimeUnit unit = TimeUnit::kMicros;       // kTimestamp only
  std::optional<Compression> compression;  // overrides the file's codec for this column
};

class Schema {
 public:
  // Checks the columns: non-empty, unique non-empty names.
  static Result<Schema> make(std::vector<Column> columns);
  const std::vector<Column>& columns() const { return columns_; }
  std::size_t size() const { return columns_.size(); }
  const Column& operator[](std::size_t i) const { return columns_[i]; }

 private:
  explicit Schema(std::vector<Column> c) : columns_(std::move(c)) {}
  std::vector<Column> columns_;
};

}  // namespace sluice::parquet
