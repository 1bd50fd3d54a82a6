// Field extraction from JSON response bodies: a step's scalar fields by
// dotted path, with simdjson's DOM parser (the body is padded in place, its
// capacity grown, so that it is not copied); and an array's elements into
// typed columns, in one pass with no tree (array_reader.h).
#pragma once

#include <string>
#include <vector>

#include "pipeline/data/value.h"
#include "sluice/status.h"

namespace sluice::pipeline {

struct FieldSpec {
  std::string name;           // for messages
  std::string path;           // dotted: "item.stats.score"
  Type type = Type::kString;  // with `list`, the elements' type
  bool list = false;          // an array of scalars (no nulls)
  bool optional = false;      // a missing field is null (a list: empty) instead of an error
};

// Compiles paths once (to JSON pointers).
class Extractor {
 public:
  explicit Extractor(std::vector<FieldSpec> fields);
  // One value per scalar field into `out` and one list per list field into
  // `lists` (each in the order of the fields). Fails with kDataLoss for
  // malformed JSON (a cut answer: asking again may help), and with
  // kFailedPrecondition naming the field for well-formed JSON not shaped as
  // the step says: a missing field, a value of another type.
  // REQUIRES: `lists` is given when a field is a list.
  Status extract(std::string& body, std::vector<Value>& out, std::vector<std::vector<Value>>* lists = nullptr) const;
  const std::vector<FieldSpec>& fields() const { return fields_; }

 private:
  std::vector<FieldSpec> fields_;
  std::vector<std::vector<std::string>> paths_;
  std::size_t scalars_ = 0, lists_ = 0;
};

// An array of objects at `path`; each element's fields (direct members) go
// to the matching column of `out`, appended after what is there already.
class ArrayExtractor {
 public:
  ArrayExtractor(std::string path, std::vector<FieldSpec> fields);
  // Reads with detail::read_array (array_reader.h): one pass, no tree.
  Status extract(const std::string& body, ArrayData& out) const;
  // Columns with the declared types and no rows.
  ArrayData empty() const;

 private:
  std::string path_;
  std::vector<std::string> parts_;
  std::vector<FieldSpec> fields_;
};

}  // namespace sluice::pipeline
