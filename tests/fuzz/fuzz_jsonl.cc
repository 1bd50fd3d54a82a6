// JSON Lines input: any bytes read as the pipeline's input table, with
// columns of every type; each line is a record or an error naming its line.
#include "fuzz_util.h"
#include "pipeline/table/dataset.h"
#include "pipeline/table/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::pipeline;
  sluice::fuzz::MemFile file(data, size);
  TableConfig t;
  t.path = file.path();
  t.format = Format::kJsonl;
  t.columns = {
      {"id", Type::kInt64, {}}, {"name", Type::kString, {}}, {"w", Type::kDouble, {}}, {"ok", Type::kBool, {}}};
  auto reader = TableReader::open(t);
  if (!reader.ok()) return 0;
  std::vector<Value> row;
  std::uint64_t line = 0;
  sluice::Status row_error;
  for (int i = 0; i < 100000; ++i) {
    auto more = (*reader)->next(row, line, row_error);
    if (!more.ok() || !*more) break;
    if (row.size() != t.columns.size()) __builtin_trap();
  }
  return 0;
}
