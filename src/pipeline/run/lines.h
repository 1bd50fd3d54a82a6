// Records as JSON lines: what `sluice stream` writes, one object a record,
// and the key that dead letters name a record by.
//
//   {"line":3,"status":"ok","features":{"id":3,"region":"r1",...}}
//   {"line":4,"status":"filtered","key":{"id":4}}
//   {"line":5,"status":"not_joined","key":{"id":5}}
//   {"line":6,"status":"error","key":{"id":6},"step":"item","url":"http://...","error":"..."}
//   {"line":7,"status":"unfinished","key":{"id":7}}
//
// `line` is the record's line in its input; `key` holds the input's key
// columns (all of them when it has none); `features` the output columns,
// with the values `sluice run` writes (a double that is not finite as
// null). Pure CPU work.
#pragma once

#include <string>

#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"

namespace sluice::pipeline {

// The record's key as a JSON object. REQUIRES: its input values are there
// (an evaluated record lets them go; one that did not end written keeps them).
std::string key_json(const Plan& plan, const Record& r);

// The object for a record that ended; no newline. Without `line` (`sluice
// serve`, which answers in the order asked), it starts at "status".
std::string outcome_json(const Plan& plan, const Record& r, bool line = true);

}  // namespace sluice::pipeline
