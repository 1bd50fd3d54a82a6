#include "pipeline/run/lines.h"

namespace sluice::pipeline {

std::string key_json(const Plan& plan, const Record& r) {
  std::string key = "{";
  auto add = [&](std::size_t slot) {
    if (key.size() > 1) key += ',';
    key += json_quote(plan.slot_names[slot]);
    key += ':';
    key += slot < r.slots.size() ? r.slots[slot].to_json() : "null";
  };
  if (plan.key_slots.empty()) {
    for (std::size_t s = 0; s < plan.config.input.columns.size(); ++s) add(s);
  } else {
    for (int s : plan.key_slots) add(static_cast<std::size_t>(s));
  }
  key += '}';
  return key;
}

std::string outcome_json(const Plan& plan, const Record& r, bool line) {
  std::string out = line ? "{\"line\":" + std::to_string(r.line) + ",\"status\":" : std::string("{\"status\":");
  if (r.outcome == Record::Outcome::kWritten) {
    out += "\"ok\",\"features\":{";
    for (std::size_t c = 0; c < plan.output.size(); ++c) {
      if (c) out += ',';
      out += json_quote(plan.output[c].name);
      out += ':';
      out += r.row[c].to_json();
    }
    return out + "}}";
  }
  const std::string key = key_json(plan, r);  // a record not written still has its input values
  switch (r.outcome) {
    case Record::Outcome::kFiltered:
      return out + "\"filtered\",\"key\":" + key + "}";
    case Record::Outcome::kNotJoined:
      return out + "\"not_joined\",\"key\":" + key + "}";
    case Record::Outcome::kUnfinished:
      return out + "\"unfinished\",\"key\":" + key + "}";
    case Record::Outcome::kWritten:
    case Record::Outcome::kPending:
    case Record::Outcome::kDead:
      break;
  }
  out += "\"error\",\"key\":" + key + ",\"step\":" + json_quote(r.dead_step);
  if (!r.dead_url.empty()) out += ",\"url\":" + json_quote(r.dead_url);
  return out + ",\"error\":" + json_quote(r.dead_error) + "}";
}

}  // namespace sluice::pipeline
