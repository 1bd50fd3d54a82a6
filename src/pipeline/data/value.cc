#include "pipeline/data/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sluice::pipeline {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kInt64:
      return "int64";
    case Type::kDouble:
      return "double";
    case Type::kString:
      return "string";
  }
  return "?";
}

std::string Value::to_json() const {
  switch (type()) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return as_bool() ? "true" : "false";
    case Type::kInt64:
      return std::to_string(as_int());
    case Type::kDouble: {
      double d = std::get<double>(v);
      if (!std::isfinite(d)) return "null";
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      return std::string(buf, r.ptr);
    }
    case Type::kString: {
      std::string out;
      detail::append_json_string(as_string(), out);
      return out;
    }
  }
  return "null";
}

bool parse_value(std::string_view text, Type type, Value& out) {
  if (type == Type::kString) {
    out = Value(std::string(text));
    return true;
  }
  if (text.empty()) {
    out = Value();
    return true;
  }
  const char* b = text.data();
  const char* e = b + text.size();
  switch (type) {
    case Type::kInt64: {
      std::int64_t i = 0;
      auto r = std::from_chars(b, e, i);
      if (r.ec != std::errc() || r.ptr != e) return false;
      out = Value(i);
      return true;
    }
    case Type::kDouble: {
      double d = 0;
      auto r = std::from_chars(b, e, d);
      if (r.ec != std::errc() || r.ptr != e) return false;
      out = Value(d);
      return true;
    }
    case Type::kBool:
      if (text == "true" || text == "1")
        out = Value(true);
      else if (text == "false" || text == "0")
        out = Value(false);
      else
        return false;
      return true;
    default:
      return false;
  }
}

Value ArrayColumn::at(std::size_t i) const {
  if (!is_valid(i)) return Value();
  switch (type) {
    case Type::kBool:
      return Value(i64[i] != 0);
    case Type::kInt64:
      return Value(i64[i]);
    case Type::kDouble:
      return Value(f64[i]);
    case Type::kString:
      return Value(std::string(str(i)));
    case Type::kNull:
      break;
  }
  return Value();
}

std::string value_text(const Value& v) { return v.type() == Type::kString ? v.as_string() : v.to_json(); }

}  // namespace sluice::pipeline
