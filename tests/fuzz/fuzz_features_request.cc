// A body of POST /v1/features (`sluice serve`): any bytes through the
// request reader of a pipeline whose input has columns of every type and a
// key. Every input ends in records that fit the plan (slots for every name,
// the key set) or an error that says what is wrong; nothing else.
#include <cstdint>
#include <string>

#include "pipeline/file/config.h"
#include "pipeline/plan/plan.h"
#include "pipeline/serve/serve_request.h"

namespace {

const sluice::pipeline::Plan& plan() {
  static const auto* p = [] {
    auto config = sluice::pipeline::parse_config(R"(
input:
  path: in.jsonl
  format: jsonl
  columns: {id: int64, name: string, w: double, ok: bool}
  key: [id]
output:
  path: out
  columns:
    id: {type: int64}
    w2: {type: double, expr: w * 2}
)",
                                                 "fuzz.yaml");
    if (!config.ok()) __builtin_trap();
    auto made = sluice::pipeline::make_plan(std::move(*config), sluice::pipeline::Datasets::kCheckOnly);
    if (!made.ok()) __builtin_trap();
    return made->release();
  }();
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::pipeline;
  static const FeaturesRequestReader reader(plan());
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto req = reader.read(body, 100);
  if (!req.ok()) {
    if (req.status().message().empty()) __builtin_trap();  // an error must say what is wrong
    return 0;
  }
  if (req->records.empty() && !req->list) __builtin_trap();  // one record, or a list
  if (req->records.size() > 100) __builtin_trap();
  for (const Record& r : req->records) {
    if (r.slots.size() != plan().slot_names.size()) __builtin_trap();
    for (int k : plan().key_slots) {
      if (r.slots[static_cast<std::size_t>(k)].is_null()) __builtin_trap();
    }
  }
  return 0;
}
