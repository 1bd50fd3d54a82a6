#include "pipeline/run/evaluate.h"

#include <simdjson.h>

#include "pipeline/run/columns.h"
#include "sluice/detail/json.h"
#include "sluice/http/client.h"

namespace sluice::pipeline {
namespace {

// Makes `arrays` empty columns of the types of `shape`, keeping capacity.
void reset_like(std::vector<ArrayData>& arrays, const std::vector<ArrayData>& shape) {
  bool same = arrays.size() == shape.size();
  for (std::size_t a = 0; same && a < shape.size(); ++a) {
    same = arrays[a].columns.size() == shape[a].columns.size();
    for (std::size_t c = 0; same && c < shape[a].columns.size(); ++c)
      same = arrays[a].columns[c].type == shape[a].columns[c].type;
  }
  if (!same) {
    arrays = shape;
    return;
  }
  for (ArrayData& a : arrays) {
    a.rows = 0;
    for (ArrayColumn& c : a.columns) {
      c.i64.clear();
      c.f64.clear();
      c.offsets.resize(1);
      c.bytes.clear();
      c.valid.clear();
    }
  }
}

}  // namespace

Evaluation evaluate(const Plan& plan, Record& r) {
  // Reused from record to record on this thread: the columns keep their
  // capacity, so 800 events do not regrow four vectors from nothing.
  thread_local std::vector<ArrayData> arrays;
  reset_like(arrays, plan.empty_arrays);
  // Compressed answers are inflated here, into a buffer this thread keeps.
  thread_local std::string inflated;
  for (std::size_t i = 0; i < r.answers.size(); ++i) {
    const Answer& answer = r.answers[i];
    const StepPlan& s = plan.steps[static_cast<std::size_t>(answer.step)];
    const std::string* body = &answer.body;
    if (!answer.encoding.empty()) {
      if (Status e = http::decode_body(answer.body, answer.encoding, plan.config.http.client.max_body_bytes, inflated);
          !e.ok()) {
        return {i, e};
      }
      body = &inflated;
    }
    for (const auto& a : s.arrays) {
      if (Status e = a.extractor->extract(*body, arrays[static_cast<std::size_t>(a.index)]); !e.ok()) return {i, e};
    }
  }
  // The set of datasets now: one for the whole record, even if a reload
  // replaces it meanwhile.
  const std::shared_ptr<const LoadedDatasets::Set> datasets = plan.joins.empty() ? nullptr : plan.datasets.now();
  for (const JoinPlan& j : plan.joins) {
    std::vector<const Value*> key;
    for (int k : j.key_slots) key.push_back(&r.slots[static_cast<std::size_t>(k)]);
    const Dataset& dataset = *(*datasets)[j.dataset];
    std::int64_t row = dataset.find(key);
    if (row < 0) {
      if (!j.left) {
        r.outcome = Record::Outcome::kNotJoined;
        return {r.answers.size(), Status()};
      }
      continue;
    }
    for (std::size_t c = 0; c < dataset.columns().size(); ++c) {
      r.slots[static_cast<std::size_t>(j.first_slot) + c] = dataset.at(static_cast<std::size_t>(row), c);
    }
  }
  thread_local SharedSelections shared;
  shared.clear();
  Env env{&r.slots, &arrays, &shared};
  r.row.clear();
  for (const auto& col : plan.output) r.row.push_back(col.expr.eval(env));
  if (Status bad = check_row(plan, r.row); !bad.ok()) {  // the slots stay: they name the record
    r.outcome = Record::Outcome::kDead;
    r.dead_step = "output";
    r.dead_error = bad.message();
    r.row.clear();
    return {r.answers.size(), Status()};
  }
  r.slots.clear();
  r.slots.shrink_to_fit();
  r.outcome = Record::Outcome::kWritten;
  return {r.answers.size(), Status()};
}

Status check_row(const Plan& plan, const std::vector<Value>& row) {
  for (std::size_t c = 0; c < plan.output.size(); ++c) {
    const OutputColumnPlan& col = plan.output[c];
    const Value& v = row[c];
    if (v.is_null() && !col.nullable) {
      return Status::InvalidArgument("output column '" + col.name + "' is null, and it is not nullable");
    }
    if (v.type() == Type::kString && !detail::valid_utf8(v.as_string())) {
      return Status::InvalidArgument("output column '" + col.name + "': the string is not valid UTF-8");
    }
  }
  if (!plan.partition_columns.empty()) return partition_dir(plan, row).status();
  return Status();
}

}  // namespace sluice::pipeline
