// Request: a step's templates (plan.h) rendered for one record into the
// HTTP request it sends. The path's and query's holes are the values as
// text (the client percent-encodes them). A JSON body's holes are escaped
// where they stand: inside a string literal as the string's escaped
// content, elsewhere as a JSON value (a string quoted, a number as a
// number, true, false), so that no input value can change the body's shape.
// A form body's names and values are form-encoded (application/x-www-form-
// urlencoded).
// Pure: from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"
#include "sluice/http/client.h"

namespace sluice::pipeline {

// `pieces` with `r`'s values; `loop` is the for_each value, or with `list`
// the index of the value in it.
std::string render(const std::vector<Template::Piece>& pieces, const Record& r, std::int64_t loop,
                   const std::vector<Value>* list);

// Step `s`'s request for record `r` (`loop`: as render's).
http::Request request_for(const StepPlan& s, const Record& r, std::int64_t loop);

}  // namespace sluice::pipeline
