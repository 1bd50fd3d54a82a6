#include "pipeline/serve/serve_request.h"

#include <simdjson.h>

namespace sluice::pipeline {

namespace dom = simdjson::dom;

struct FeaturesRequestReader::Parser {
  dom::parser parser;
};

namespace {

std::vector<FieldSpec> input_fields(const Plan& plan) {
  std::vector<FieldSpec> specs;
  for (const auto& c : plan.config.input.columns) {
    specs.push_back({.name = c.name, .path = c.name, .type = c.type, .optional = true});
  }
  return specs;
}

}  // namespace

FeaturesRequestReader::FeaturesRequestReader(const Plan& plan)
    : plan_(plan), columns_(input_fields(plan)), parser_(std::make_unique<Parser>()) {}
FeaturesRequestReader::~FeaturesRequestReader() = default;

Result<FeaturesRequest> FeaturesRequestReader::read(const std::string& body, std::size_t max_records) const {
  FeaturesRequest req;
  dom::element root;
  if (auto e = parser_->parser.parse(body).get(root)) {
    return Status::InvalidArgument(std::string("the body is not JSON: ") + simdjson::error_message(e));
  }
  dom::object top;
  if (root.get_object().get(top)) return Status::InvalidArgument("the body is not a JSON object");

  if (dom::element d; top["deadline_ms"].get(d) == simdjson::SUCCESS) {
    std::int64_t ms = 0;
    if (d.get_int64().get(ms) || ms <= 0 || ms > 3'600'000) {
      return Status::InvalidArgument("deadline_ms: expected a whole number of milliseconds from 1 to 3600000");
    }
    req.deadline = std::chrono::milliseconds(ms);
  }
  // Each record as its own JSON text, for the columns' extractor.
  std::vector<std::string> texts;
  if (dom::element list; top["records"].get(list) == simdjson::SUCCESS) {
    dom::array a;
    if (list.get_array().get(a)) return Status::InvalidArgument("records: expected a list of objects");
    req.list = true;
    if (a.size() > max_records) {
      return Status::InvalidArgument("records: " + std::to_string(a.size()) + " records, more than the " +
                                     std::to_string(max_records) + " a request may hold");
    }
    std::size_t i = 0;
    for (dom::element e : a) {
      if (!e.is_object()) return Status::InvalidArgument("records[" + std::to_string(i) + "]: expected an object");
      texts.push_back(simdjson::minify(e));
      ++i;
    }
  } else {
    texts.push_back(simdjson::minify(root));
  }

  std::size_t position = 0;
  for (std::string& text : texts) {
    const std::string where = req.list ? "records[" + std::to_string(position) + "]: " : std::string();
    std::vector<Value> values;
    if (Status s = columns_.extract(text, values); !s.ok()) return Status::InvalidArgument(where + s.message());
    Record r;
    r.line = ++position;
    r.slots.resize(plan_.slot_names.size());
    std::move(values.begin(), values.end(), r.slots.begin());
    for (int k : plan_.key_slots) {
      if (r.slots[static_cast<std::size_t>(k)].is_null()) {
        return Status::InvalidArgument(where + "field '" + plan_.slot_names[static_cast<std::size_t>(k)] +
                                       "' (a key column) is missing or null");
      }
    }
    req.records.push_back(std::move(r));
  }
  return req;
}

}  // namespace sluice::pipeline
