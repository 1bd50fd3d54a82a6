#include "sluice/parquet/schema.h"

#include <set>

namespace sluice::parquet {

std::string_view to_string(ColumnType t) {
  switch (t) {
    case ColumnType::kBool:
      return "bool";
    case ColumnType::kInt32:
      return "int32";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kFloat:
      return "float";
    case ColumnType::kDouble:
      return "double";
    case ColumnType::kString:
      return "string";
    case ColumnType::kTimestamp:
      return "timestamp";
    case ColumnType::kDate:
      return "date";
    case ColumnType::kListDouble:
      return "list<double>";
    case ColumnType::kListInt64:
      return "list<int64>";
  }
  return "?";
}

std::string_view to_string(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kLz4Raw:
      return "lz4_raw";
  }
  return "?";
}

Result<Schema> Schema::make(std::vector<Column> columns) {
  if (columns.empty()) return Status::InvalidArgument("schema: no columns");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name.empty())
      return Status::InvalidArgument("schema: column " + std::to_string(i + 1) + " has no name");
    if (!names.insert(columns[i].name).second) {
      return Status::InvalidArgument("schema: column name '" + columns[i].name + "' appears twice");
    }
  }
  return Schema(std::move(columns));
}

}  // namespace sluice::parquet
