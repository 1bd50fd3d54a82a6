#include "pipeline/data/value.h"

#include <simdjson.h>

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

namespace {

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no
// overlong forms, surrogates or code points past U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // a surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

// JSON text is UTF-8 (RFC 8259): a byte that is not part of a well-formed
// sequence is written as U+FFFD, so that a dead letter or a line about a
// value with a bad byte is still JSON every reader takes.
void append_json_string(std::string_view s, std::string& out) {
  out += '"';
  const bool valid = simdjson::validate_utf8(s.data(), s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!valid && static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out += "\\ufffd";
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(s, out);
  return out;
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
      append_json_string(as_string(), out);
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
