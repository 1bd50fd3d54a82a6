// What `POST /v1/features` asks for: one record, or a list of them, as JSON
// objects whose fields are the pipeline's input columns (typed as declared),
// and the time the answer may take.
//
//   {"id": 42}                                      one record
//   {"records": [{"id": 42}, {"id": 43}], "deadline_ms": 50}
//
// A field the record leaves out is null, as in a JSON lines input; the key
// columns must be there. Fields that are not input columns are ignored.
// Pure CPU work; one reader per thread (it keeps its parser's buffers).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/json/extract.h"
#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"

namespace sluice::pipeline {

struct FeaturesRequest {
  std::vector<Record> records;                        // with their input columns; the other slots null
  bool list = false;                                  // {"records": [...]}: answered with a list too
  std::optional<std::chrono::milliseconds> deadline;  // deadline_ms, if given
};

class FeaturesRequestReader {
 public:
  explicit FeaturesRequestReader(const Plan& plan);
  ~FeaturesRequestReader();
  FeaturesRequestReader(const FeaturesRequestReader&) = delete;
  FeaturesRequestReader& operator=(const FeaturesRequestReader&) = delete;

  // kInvalidArgument naming the record (its index in the list) and the field
  // when the body is not such a request; at most `max_records` records.
  Result<FeaturesRequest> read(const std::string& body, std::size_t max_records) const;

 private:
  struct Parser;
  const Plan& plan_;
  Extractor columns_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace sluice::pipeline
