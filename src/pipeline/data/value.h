// Values of the declarative pipeline: what a record's fields, a response's
// fields and an expression's results hold.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/detail/json.h"

namespace sluice::pipeline {

enum class Type : std::uint8_t { kNull, kBool, kInt64, kDouble, kString };

std::string_view type_name(Type t);

struct Value {
  std::variant<std::monostate, bool, std::int64_t, double, std::string> v;

  Value() = default;
  Value(bool b) : v(b) {}                      // NOLINT: values convert freely
  Value(std::int64_t i) : v(i) {}              // NOLINT
  Value(double d) : v(d) {}                    // NOLINT
  Value(std::string s) : v(std::move(s)) {}    // NOLINT
  Value(const char* s) : v(std::string(s)) {}  // NOLINT: not the bool a pointer would become

  Type type() const { return static_cast<Type>(v.index()); }
  bool is_null() const { return v.index() == 0; }
  bool as_bool() const { return std::get<bool>(v); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v); }
  const std::string& as_string() const { return std::get<std::string>(v); }
  // An int64 or a double, as a double. REQUIRES: numeric.
  double as_double() const {
    return v.index() == 2 ? static_cast<double>(std::get<std::int64_t>(v)) : std::get<double>(v);
  }
  bool is_numeric() const { return v.index() == 2 || v.index() == 3; }
  // For messages and the dead-letter file: JSON text of the value.
  std::string to_json() const;
};

// `s` as a JSON string literal, quoted and escaped (sluice's one writer).
using detail::json_quote;

// A value as text in a URL or a path: a string as it is, anything else as
// JSON writes it.
std::string value_text(const Value& v);

// Parses text (a CSV field, a template value) as `type` into `out`; false
// if it does not fit. An empty string is null for every type but string.
bool parse_value(std::string_view text, Type type, Value& out);

// A column of one array field across every element of a record's array,
// flattened over fan-out responses.
struct ArrayColumn {
  Type type = Type::kNull;
  std::vector<std::int64_t> i64;  // kInt64 (and kBool as 0/1)
  std::vector<double> f64;        // kDouble
  // kString: element i is bytes[offsets[i], offsets[i + 1]) (one buffer,
  // not a string per element).
  std::vector<std::uint32_t> offsets{0};
  std::string bytes;
  std::vector<std::uint8_t> valid;  // empty: every element present; else 0 = null

  bool is_valid(std::size_t i) const { return valid.empty() || valid[i] != 0; }
  std::string_view str(std::size_t i) const {
    return std::string_view(bytes).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  void push_str(std::string_view s) {
    bytes.append(s);
    offsets.push_back(static_cast<std::uint32_t>(bytes.size()));
  }
  Value at(std::size_t i) const;
};

struct ArrayData {
  std::size_t rows = 0;
  std::vector<ArrayColumn> columns;  // in the order the array's fields are declared
};

}  // namespace sluice::pipeline
