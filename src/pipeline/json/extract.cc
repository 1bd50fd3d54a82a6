#include "pipeline/json/extract.h"

#include <simdjson.h>

#include "pipeline/json/array_reader.h"

namespace sluice::pipeline {

namespace dom = simdjson::dom;

namespace {

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    parts.push_back(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

// One DOM parser per thread: it keeps its buffers from one answer to the
// next. (The DOM parser runs the CPU's best kernels, chosen at run time.)
dom::parser& thread_parser() {
  thread_local dom::parser parser;
  return parser;
}

// A well-formed answer that is not shaped as the step says: asking again
// would get the same (kFailedPrecondition; a malformed one is kDataLoss).
Status field_error(const FieldSpec& f, std::string_view what) {
  return Status::FailedPrecondition("field '" + f.name + "' (path '" + f.path + "'): " + std::string(what));
}

Status read_value(dom::element v, const FieldSpec& f, Value& out) {
  if (v.is_null()) {
    out = Value();
    return Status();
  }
  switch (f.type) {
    case Type::kInt64: {
      std::int64_t i;
      if (auto e = v.get_int64().get(i))
        return field_error(f, std::string("expected an int64: ") + simdjson::error_message(e));
      out = Value(i);
      return Status();
    }
    case Type::kDouble: {
      double d;
      if (auto e = v.get_double().get(d)) {
        std::int64_t i;
        if (v.get_int64().get(i))
          return field_error(f, std::string("expected a number: ") + simdjson::error_message(e));
        d = static_cast<double>(i);
      }
      out = Value(d);
      return Status();
    }
    case Type::kString: {
      std::string_view s;
      if (auto e = v.get_string().get(s))
        return field_error(f, std::string("expected a string: ") + simdjson::error_message(e));
      out = Value(std::string(s));
      return Status();
    }
    case Type::kBool: {
      bool b;
      if (auto e = v.get_bool().get(b))
        return field_error(f, std::string("expected a bool: ") + simdjson::error_message(e));
      out = Value(b);
      return Status();
    }
    case Type::kNull:
      break;
  }
  return field_error(f, "no type");
}

// Field names are often one letter: compare those without a call.
bool same_key(std::string_view key, const std::string& want) {
  if (key.size() != want.size()) return false;
  return want.size() == 1 ? key[0] == want[0] : key == want;
}

// The value of `key` in `obj`: its last occurrence when the key appears more
// than once, as JavaScript's, Python's and Go's parsers read it.
bool last_value(dom::object obj, const std::string& key, dom::element& out) {
  bool found = false;
  for (auto field : obj) {
    if (same_key(field.key, key)) {
      out = field.value;
      found = true;
    }
  }
  return found;
}

// The element at a dotted path below `root`; NO_SUCH_FIELD if absent.
simdjson::error_code walk(dom::element root, const std::vector<std::string>& parts, dom::element& out) {
  dom::element cur = root;
  for (const auto& p : parts) {
    dom::object obj;
    if (auto e = cur.get_object().get(obj)) return e == simdjson::INCORRECT_TYPE ? simdjson::NO_SUCH_FIELD : e;
    if (!last_value(obj, p, cur)) return simdjson::NO_SUCH_FIELD;
  }
  out = cur;
  return simdjson::SUCCESS;
}

// Grows the body's capacity so simdjson may read past its end.
void pad(std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING)
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
}

}  // namespace

Extractor::Extractor(std::vector<FieldSpec> fields) : fields_(std::move(fields)) {
  for (const auto& f : fields_) {
    paths_.push_back(split_path(f.path));
    ++(f.list ? lists_ : scalars_);
  }
}

namespace {

// The elements of the array `v` as values of `f.type`.
Status read_list(dom::element v, const FieldSpec& f, std::vector<Value>& out) {
  dom::array a;
  if (v.get_array().get(a)) return field_error(f, "expected an array");
  out.clear();
  for (dom::element e : a) {
    if (e.is_null()) return field_error(f, "element " + std::to_string(out.size()) + " is null");
    Value x;
    if (Status s = read_value(e, f, x); !s.ok()) {
      return Status(s.code(), s.message() + " (element " + std::to_string(out.size()) + ")");
    }
    out.push_back(std::move(x));
  }
  return Status();
}

}  // namespace

Status Extractor::extract(std::string& body, std::vector<Value>& out, std::vector<std::vector<Value>>* lists) const {
  pad(body);
  out.resize(scalars_);
  if (lists_ > 0) lists->resize(lists_);
  dom::element doc;
  if (auto e = thread_parser().parse(body.data(), body.size(), false).get(doc)) {
    return Status::DataLoss(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  std::size_t scalar = 0, list = 0;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const FieldSpec& f = fields_[i];
    dom::element v;
    auto err = walk(doc, paths_[i], v);
    if (err == simdjson::NO_SUCH_FIELD) {
      if (!f.optional) return field_error(f, "missing");
      if (f.list)
        (*lists)[list++].clear();
      else
        out[scalar++] = Value();
      continue;
    }
    if (err) return Status::DataLoss(std::string("malformed JSON: ") + simdjson::error_message(err));
    SLUICE_RETURN_IF_ERROR(f.list ? read_list(v, f, (*lists)[list++]) : read_value(v, f, out[scalar++]));
  }
  return Status();
}

ArrayExtractor::ArrayExtractor(std::string path, std::vector<FieldSpec> fields)
    : path_(std::move(path)), parts_(split_path(path_)), fields_(std::move(fields)) {}

ArrayData ArrayExtractor::empty() const {
  ArrayData d;
  for (const auto& f : fields_) d.columns.push_back({.type = f.type});
  return d;
}

Status ArrayExtractor::extract(const std::string& body, ArrayData& out) const {
  if (out.columns.size() != fields_.size()) out = empty();
  return detail::read_array(body, parts_, path_, fields_, out);
}

}  // namespace sluice::pipeline
