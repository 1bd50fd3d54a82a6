// ColumnBatch: rows handed to the Parquet writer as columns, so that results
// built column by column (an aggregation) go in without a row-to-column copy.
//
// Each column keeps one slot per row, null or not (as Arrow does), in the
// vector its type uses:
//   kBool: b (0 or 1)      kInt32, kDate: i32      kInt64, kTimestamp: i64
//   kFloat: f32            kDouble: f64
//   kString: offsets (rows + 1 entries, from 0) into bytes
//   kListDouble: offsets (rows + 1) into f64     kListInt64: offsets into i64
// `valid` is empty when every row has a value, else one byte per row (0 = null).
// A null string or list has no bytes or elements (its two offsets are equal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::parquet {

struct ColumnData {
  std::vector<std::uint8_t> valid;
  std::vector<std::uint8_t> b;
  std::vector<std::int32_t> i32;
  std::vector<std::int64_t> i64;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<std::uint32_t> offsets{0};
  std::string bytes;

  // Helpers for building a column a row at a time.
  void append_string(std::string_view s) {
    bytes.append(s);
    offsets.push_back(static_cast<std::uint32_t>(bytes.size()));
  }
  // Ends a list whose elements were appended to f64 or i64.
  void end_list(std::size_t element_count) { offsets.push_back(static_cast<std::uint32_t>(element_count)); }
  // Marks row `row` null, `rows` being the column's rows so far (more than
  // `row`): `valid` becomes explicit if it was not, and grows to `rows`
  // entries (the new ones valid) if it was shorter.
  void set_null(std::size_t row, std::size_t rows) {
    if (valid.size() < rows) valid.resize(rows, 1);
    valid[row] = 0;
  }
  // Building a column a row at a time: after the value (or placeholder) of
  // row `row` is appended, says whether it holds a value. `valid` stays
  // empty until the first null, then has one entry per row.
  void push_validity(std::size_t row, bool has_value) {
    if (valid.empty() && has_value) return;
    if (valid.size() < row) valid.resize(row, 1);
    valid.push_back(has_value ? 1 : 0);
  }
  bool is_valid(std::size_t row) const { return valid.empty() || valid[row] != 0; }
};

struct ColumnBatch {
  std::size_t rows = 0;
  std::vector<ColumnData> columns;  // in schema order
};

}  // namespace sluice::parquet
