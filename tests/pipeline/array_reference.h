// The array of objects at a path read the long way, with simdjson's DOM
// (a tree of the whole answer, then a walk over it): the reference that
// detail::read_array is held to, in a unit test and under the fuzzer.
#pragma once

#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/json/extract.h"

namespace sluice::pipeline::testing {

// The member's last value (a key given twice counts with its last value).
inline bool reference_member(simdjson::dom::object obj, const std::string& key, simdjson::dom::element& out) {
  bool found = false;
  for (auto field : obj) {
    if (field.key == key) {
      out = field.value;
      found = true;
    }
  }
  return found;
}

// Appends as read_array does; false where read_array must fail.
inline bool reference_read_array(std::string body, const std::vector<std::string>& path,
                                 const std::vector<FieldSpec>& fields, ArrayData& out) {
  namespace dom = simdjson::dom;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  thread_local dom::parser parser;
  if (parser.capacity() == 0 && parser.allocate(4096)) return false;  // a parser never allocated cannot say "empty"
  dom::element at;
  if (parser.parse(body.data(), body.size(), false).get(at)) return false;
  for (const std::string& key : path) {
    dom::object obj;
    if (at.get_object().get(obj) || !reference_member(obj, key, at)) return false;
  }
  dom::array arr;
  if (at.get_array().get(arr)) return false;
  for (dom::element e : arr) {
    dom::object obj;
    if (e.get_object().get(obj)) return false;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      ArrayColumn& c = out.columns[i];
      dom::element v;
      const bool found = reference_member(obj, fields[i].path, v);
      if (!found && !fields[i].optional) return false;
      const bool null = !found || v.is_null();
      if (null) {
        if (c.valid.empty()) c.valid.assign(out.rows, 1);
        c.valid.push_back(0);
      } else if (!c.valid.empty()) {
        c.valid.push_back(1);
      }
      switch (c.type) {
        case Type::kInt64: {
          std::int64_t x = 0;
          if (!null && v.get_int64().get(x)) return false;
          c.i64.push_back(x);
          break;
        }
        case Type::kBool: {
          bool x = false;
          if (!null && v.get_bool().get(x)) return false;
          c.i64.push_back(x);
          break;
        }
        case Type::kDouble: {
          double x = 0;
          if (!null && v.get_double().get(x)) return false;
          c.f64.push_back(x);
          break;
        }
        case Type::kString: {
          std::string_view x;
          if (!null && v.get_string().get(x)) return false;
          c.push_str(x);
          break;
        }
        case Type::kNull:
          break;
      }
    }
    ++out.rows;
  }
  return true;
}

// Whether two readings hold the same rows, doubles compared bit for bit.
inline bool same_rows(const ArrayData& a, const ArrayData& b) {
  if (a.rows != b.rows || a.columns.size() != b.columns.size()) return false;
  for (std::size_t i = 0; i < a.columns.size(); ++i) {
    const ArrayColumn& x = a.columns[i];
    const ArrayColumn& y = b.columns[i];
    if (x.i64 != y.i64 || x.offsets != y.offsets || x.bytes != y.bytes || x.f64.size() != y.f64.size()) return false;
    if (!x.f64.empty() && std::memcmp(x.f64.data(), y.f64.data(), x.f64.size() * sizeof(double)) != 0) return false;
    for (std::size_t r = 0; r < a.rows; ++r) {
      if (x.is_valid(r) != y.is_valid(r)) return false;
    }
  }
  return true;
}

}  // namespace sluice::pipeline::testing
