// Fields and arrays read out of any bytes taken for a JSON answer, as a
// pipeline step reads them: values of the declared types or an error; and
// the one-pass array reader agreeing with simdjson's DOM on every input.
#include <string>

#include "../pipeline/array_reference.h"
#include "pipeline/json/extract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  using pipeline::Type;
  static const pipeline::Extractor fields(
      {{.name = "a.score", .path = "score", .type = Type::kDouble},
       {.name = "a.kind", .path = "kind", .type = Type::kString, .optional = true},
       {.name = "a.n", .path = "stats.n", .type = Type::kInt64, .optional = true},
       {.name = "a.ok", .path = "ok", .type = Type::kBool, .optional = true},
       {.name = "a.pages", .path = "pages", .type = Type::kInt64, .list = true, .optional = true}});
  static const pipeline::ArrayExtractor events("events",
                                               {{.name = "t", .path = "t", .type = Type::kInt64},
                                                {.name = "v", .path = "v", .type = Type::kDouble, .optional = true},
                                                {.name = "c", .path = "c", .type = Type::kString, .optional = true}});
  std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<pipeline::Value> values;
  std::vector<std::vector<pipeline::Value>> lists;
  (void)fields.extract(body, values, &lists);
  pipeline::ArrayData out = events.empty();
  pipeline::ArrayData reference = events.empty();
  const bool ok = events.extract(body, out).ok();
  const bool reference_ok =
      pipeline::testing::reference_read_array(body, {"events"},
                                              {{.name = "t", .path = "t", .type = Type::kInt64},
                                               {.name = "v", .path = "v", .type = Type::kDouble, .optional = true},
                                               {.name = "c", .path = "c", .type = Type::kString, .optional = true}},
                                              reference);
  if (ok != reference_ok || (ok && !pipeline::testing::same_rows(out, reference))) __builtin_trap();
  if (ok) {
    for (const auto& c : out.columns) {
      const std::size_t n = c.type == Type::kDouble   ? c.f64.size()
                            : c.type == Type::kString ? c.offsets.size() - 1
                                                      : c.i64.size();
      if (n != out.rows || (!c.valid.empty() && c.valid.size() != out.rows))
        __builtin_trap();  // every column as long as the rows
    }
  }
  return 0;
}
