// A plan made from a pipeline file's text (named p.yaml in messages), as a
// job makes it but without reading datasets: what the tests of one room
// start from.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pipeline/file/config.h"
#include "pipeline/plan/plan.h"

namespace sluice::pipeline {

// The plan, or the file's first error.
inline Result<std::unique_ptr<Plan>> plan_of(const std::string& yaml) {
  SLUICE_ASSIGN_OR_RETURN(PipelineConfig config, parse_config(yaml, "p.yaml"));
  return make_plan(std::move(config), Datasets::kCheckOnly);
}

// The plan of a file the test means to be valid: a test failure, and null,
// when it is not.
inline std::unique_ptr<Plan> valid_plan(const std::string& yaml) {
  Result<std::unique_ptr<Plan>> plan = plan_of(yaml);
  if (!plan.ok()) {
    ADD_FAILURE() << "the pipeline file is not valid: " << plan.status().to_string() << "\n" << yaml;
    return nullptr;
  }
  return std::move(*plan);
}

}  // namespace sluice::pipeline
