#include "extract.h"

#include <simdjson.h>

namespace sluice::json {

namespace od = simdjson::ondemand;

namespace {

std::string to_pointer(const std::string& dotted) {
  std::string p;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    p += '/';
    for (char c : dotted.substr(start, dot - start)) {  // JSON pointer escapes
      if (c == '~') p += "~0";
      else if (c == '/') p += "~1";
      else p += c;
    }
    start = dot + 1;
  }
  return p;
}

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

Status field_error(const FieldSpec& f, std::string_view what) {
  return Status::DataLoss("field '" + f.name + "' (path '" + f.path + "'): " + std::string(what));
}

// Reads one value of type t. ok=false: wrong type (the message says which).
template <class V>
Status read_value(V&& v, const FieldSpec& f, Value& out) {
  bool is_null = false;
  if (v.is_null().get(is_null) == simdjson::SUCCESS && is_null) {
    out = Value();
    return Status();
  }
  switch (f.type) {
    case Type::kInt64: {
      std::int64_t i;
      if (auto e = v.get_int64().get(i)) return field_error(f, std::string("expected an int64: ") + simdjson::error_message(e));
      out = Value(i);
      return Status();
    }
    case Type::kDouble: {
      double d;
      if (auto e = v.get_double().get(d)) return field_error(f, std::string("expected a number: ") + simdjson::error_message(e));
      out = Value(d);
      return Status();
    }
    case Type::kString: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return field_error(f, std::string("expected a string: ") + simdjson::error_message(e));
      out = Value(std::string(s));
      return Status();
    }
    case Type::kBool: {
      bool b;
      if (auto e = v.get_bool().get(b)) return field_error(f, std::string("expected a bool: ") + simdjson::error_message(e));
      out = Value(b);
      return Status();
    }
    case Type::kNull: break;
  }
  return field_error(f, "no type");
}

void append(pipeline::ArrayColumn& c, const Value& v) {
  if (v.is_null()) {
    if (c.valid.empty()) c.valid.assign(c.i64.size() + c.f64.size() + c.str.size(), 1);
    c.valid.push_back(0);
  } else if (!c.valid.empty()) {
    c.valid.push_back(1);
  }
  switch (c.type) {
    case Type::kInt64: c.i64.push_back(v.is_null() ? 0 : v.as_int()); break;
    case Type::kBool: c.i64.push_back(v.is_null() ? 0 : v.as_bool()); break;
    case Type::kDouble: c.f64.push_back(v.is_null() ? 0.0 : v.as_double()); break;
    case Type::kString: c.str.push_back(v.is_null() ? std::string() : v.as_string()); break;
    case Type::kNull: break;
  }
}

}  // namespace

void pad(std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
}

Extractor::Extractor(std::vector<FieldSpec> fields) : fields_(std::move(fields)) {
  for (const auto& f : fields_) pointers_.push_back(to_pointer(f.path));
}

Status Extractor::extract(std::string& body, std::vector<Value>& out) const {
  pad(body);
  out.resize(fields_.size());
  od::document doc;
  if (auto e = thread_parser().iterate(body.data(), body.size(), body.capacity()).get(doc)) {
    return Status::DataLoss(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    od::value v;
    auto err = doc.at_pointer(pointers_[i]).get(v);
    if (err == simdjson::NO_SUCH_FIELD || err == simdjson::INDEX_OUT_OF_BOUNDS) {
      if (fields_[i].optional) {
        out[i] = Value();
        continue;
      }
      return field_error(fields_[i], "missing");
    }
    if (err) return Status::DataLoss(std::string("malformed JSON: ") + simdjson::error_message(err));
    if (Status s = read_value(v, fields_[i], out[i]); !s.ok()) return s;
  }
  return Status();
}

ArrayExtractor::ArrayExtractor(std::string path, std::vector<FieldSpec> fields)
    : path_(std::move(path)), pointer_(to_pointer(path_)), fields_(std::move(fields)) {}

pipeline::ArrayData ArrayExtractor::empty() const {
  pipeline::ArrayData d;
  for (const auto& f : fields_) d.columns.push_back({.type = f.type});
  return d;
}

Status ArrayExtractor::extract(std::string& body, pipeline::ArrayData& out) const {
  pad(body);
  if (out.columns.size() != fields_.size()) out = empty();
  od::document doc;
  if (auto e = thread_parser().iterate(body.data(), body.size(), body.capacity()).get(doc)) {
    return Status::DataLoss(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  od::array arr;
  if (auto e = doc.at_pointer(pointer_).get_array().get(arr)) {
    return Status::DataLoss("array '" + path_ + "': " + simdjson::error_message(e));
  }
  Value v;
  for (auto element : arr) {
    od::object obj;
    if (auto e = element.get_object().get(obj)) {
      return Status::DataLoss("array '" + path_ + "', element " + std::to_string(out.rows) + ": " + simdjson::error_message(e));
    }
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      od::value fv;
      auto err = obj.find_field_unordered(fields_[i].path).get(fv);
      if (err == simdjson::NO_SUCH_FIELD && fields_[i].optional) {
        append(out.columns[i], Value());
        continue;
      }
      if (err) {
        return Status::DataLoss("array '" + path_ + "', element " + std::to_string(out.rows) + ", field '" +
                                fields_[i].path + "': " + simdjson::error_message(err));
      }
      if (Status s = read_value(fv, fields_[i], v); !s.ok()) {
        return Status::DataLoss("array '" + path_ + "', element " + std::to_string(out.rows) + ": " + s.message());
      }
      append(out.columns[i], v);
    }
    ++out.rows;
  }
  return Status();
}

}  // namespace sluice::json
