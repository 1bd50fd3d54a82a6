// The pipeline file: any bytes through the YAML reader, the checks of its
// structure and the planner (names, types, templates, expressions). Every
// input ends in a plan or an error naming where; nothing else.
#include <cstdint>
#include <string>

#include "pipeline/file/config.h"
#include "pipeline/plan/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = sluice::pipeline::parse_config(text, "fuzz.yaml");
  if (!config.ok()) {
    if (config.status().message().empty()) __builtin_trap();  // an error must say what is wrong
    return 0;
  }
  auto plan = sluice::pipeline::make_plan(std::move(*config), sluice::pipeline::Datasets::kCheckOnly);
  if (!plan.ok() && plan.status().message().empty()) __builtin_trap();
  return 0;
}
