// The plan: a checked pipeline file turned into what the engine runs —
// names resolved to slots, expressions compiled, templates split, the
// output schema made. make_plan() reports every error of meaning (an
// unknown field, a type mismatch, a template naming a field no earlier step
// provides) with its file:line:column, all at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/expr/expr.h"
#include "pipeline/file/config.h"
#include "pipeline/json/extract.h"
#include "pipeline/table/dataset.h"
#include "sluice/http/client.h"
#include "sluice/parquet/schema.h"

namespace sluice::pipeline {

// A URL or body template: literal text and {name} holes; {{ and }} are a
// literal brace.
struct Template {
  // How a hole's value is written where it stands (request.h): as text (a
  // URL's: the client percent-encodes it), or in a JSON body, inside a
  // string literal as the string's escaped content, elsewhere as a JSON
  // value.
  enum class Escape : std::uint8_t { kText, kJsonString, kJsonValue };
  struct Piece {
    std::string text;  // literal text (hole < 0)
    int hole = -1;     // a scalar slot, or kLoopVar
    Escape escape = Escape::kText;
  };
  static constexpr int kLoopVar = -2;
  std::vector<Piece> path;
  std::vector<std::pair<std::string, std::vector<Piece>>> query;  // name, value pieces
  std::vector<Piece> body;
  std::vector<std::pair<std::string, std::vector<Piece>>> form;  // name, value pieces: a form body
  std::vector<int> slots;                                        // every slot used
};

struct StepPlan {
  std::string name;
  http::Method method = http::Method::kGet;
  Template request;
  std::optional<Expr> for_each;       // range(a, b)
  int for_each_list = -1;             // or a list of the record: one request per element
  std::unique_ptr<Extractor> fields;  // scalars, parsed as the answer arrives
  int first_slot = 0;                 // the i-th scalar field goes to slot first_slot + i
  int first_list = 0;                 // the j-th list field to the record's list first_list + j
  struct Array {
    int index;  // in the record's arrays
    std::unique_ptr<ArrayExtractor> extractor;
  };
  std::vector<Array> arrays;  // parsed on the CPU pool
  std::optional<Expr> keep_if;
};

struct JoinPlan {
  std::size_t dataset = 0;     // an index into the plan's datasets
  std::vector<int> key_slots;  // the record's values matched with the dataset's key columns
  bool left = false;
  int first_slot = 0;  // the dataset's columns land in slots first_slot...
};

struct OutputColumnPlan {
  std::string name;
  Type type;
  Expr expr;
  bool nullable = true;
};

struct Plan {
  PipelineConfig config;
  std::vector<std::string> slot_names;  // "id", "item.score", "entities.region"
  std::vector<Type> slot_types;
  std::size_t input_columns = 0;        // the first slots
  std::vector<int> key_slots;           // the input's key, for messages
  std::vector<std::string> list_names;  // list fields ("listing.pages"), by index
  std::vector<Type> list_types;         // their elements' type
  std::vector<std::string> array_names;
  std::vector<pipeline::ArrayData> empty_arrays;  // typed columns, no rows
  std::vector<StepPlan> steps;
  LoadedDatasets datasets;
  std::vector<JoinPlan> joins;
  std::vector<OutputColumnPlan> output;
  std::vector<std::size_t> partition_columns;  // into output
  std::vector<std::size_t> file_columns;       // into output: the others, as the schema has them
  std::optional<parquet::Schema> schema;
};

enum class Datasets : std::uint8_t {
  kLoad,      // read every dataset and index it on its key (a run)
  kCheckOnly  // read none: only check the file (`sluice validate`)
};
Result<std::unique_ptr<Plan>> make_plan(PipelineConfig config, Datasets datasets);

// Every dataset of the file read and indexed anew (a plan's, or a reload's):
// kInvalidArgument naming each that could not be, with its place in the file.
Result<LoadedDatasets::Set> load_datasets(const PipelineConfig& config);

}  // namespace sluice::pipeline
