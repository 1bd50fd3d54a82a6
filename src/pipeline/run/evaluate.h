// A record's answers made into its output row: the arrays read out of its
// answers (in the order they came), the joins against the datasets, the
// output expressions. Pure CPU work, run on a CPU thread: no I/O, no
// coroutine, nothing shared but the plan, which it only reads. A file run
// and a request-at-a-time caller use it alike.
#pragma once

#include <cstddef>

#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"
#include "sluice/status.h"

namespace sluice::pipeline {

// Evaluates `r`, whose last answer is in:
//  * every answer read: the row is in r.row, r.outcome is kWritten, and the
//    values the row was made from (r.slots) are let go; or r.outcome is
//    kNotJoined (an inner join found no row); or kDead (step "output") when
//    the output cannot hold the row (check_row): one record's value never
//    fails the writer's whole batch;
//  * else the index of the first answer that cannot be read, and why; the
//    record is as it was, so that the answer may be asked for again.
// The arrays are read into columns this thread keeps from record to record.
struct Evaluation {
  std::size_t unreadable;  // an index into r.answers, or r.answers.size() when all were read
  Status why;
};
Evaluation evaluate(const Plan& plan, Record& r);

// Why the output cannot hold `row`, or OK: a null in a column that is not
// nullable, a string that is not UTF-8.
Status check_row(const Plan& plan, const std::vector<Value>& row);

}  // namespace sluice::pipeline
