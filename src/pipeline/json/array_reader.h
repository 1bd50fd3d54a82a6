// One pass over a JSON answer that checks all of it and reads the array of
// objects at a path straight into typed columns: the bulk of what a pipeline
// parses (pages of events), with no document tree built first and no second
// walk over one.
//
// It accepts what RFC 8259 allows and nothing else: the input must be UTF-8,
// nest at most 1,024 deep, and hold numbers that fit a double or a 64-bit
// integer. It reads values as simdjson's DOM does, so the two readers agree
// on every input (a fuzz target holds them to it): "-0" is the integer 0, an
// integer past 2^63 is a double only, 1e-400 is 0 and 1e400 an error. A key
// given twice counts with its last value, as JavaScript's, Python's and Go's
// parsers read it.
#pragma once

#include <string>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/json/extract.h"
#include "sluice/status.h"

namespace sluice::pipeline::detail {

// Appends the elements of the array at `path` (the object keys from the
// root; `path_name` is its dotted form for messages) to `out`, one row per
// element and one column per field, in the order of `fields`. Each element
// must be an object; a field it lacks is null when optional. Fails saying
// what and where: kDataLoss for malformed JSON (with its byte offset), and
// kFailedPrecondition for well-formed JSON not shaped as the step says (no
// array at the path, an element that is not an object, a missing field, a
// value of another type). On failure `out` may hold part of the rows.
// REQUIRES: `out` has a column of each field's type; `body` is the whole
// answer (its terminating NUL, which std::string guarantees, is read).
Status read_array(const std::string& body, const std::vector<std::string>& path, const std::string& path_name,
                  const std::vector<FieldSpec>& fields, ArrayData& out);

}  // namespace sluice::pipeline::detail
