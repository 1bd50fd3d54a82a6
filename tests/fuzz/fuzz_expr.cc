// Expressions: any text compiled against a scope of every kind of name, and
// what compiles evaluated (as a value, a condition and a range) against a
// record holding values of each type and arrays with nulls.
#include <cstdint>
#include <string>

#include "pipeline/expr/expr.h"

namespace {

using namespace sluice::pipeline;

struct World {
  Scope scope;
  std::vector<Value> scalars;
  std::vector<ArrayData> arrays;
  World() {
    scope.add_scalar("id", 0, Type::kInt64);
    scope.add_scalar("item.score", 1, Type::kDouble);
    scope.add_scalar("item.kind", 2, Type::kString);
    scope.add_scalar("item.ok", 3, Type::kBool);
    scope.add_scalar("item.none", 4, Type::kDouble);
    scalars = {Value(std::int64_t{42}), Value(0.75), Value(std::string("b")), Value(true), Value()};
    scope.add_array("events",
                    {.index = 0, .fields = {{"t", Type::kInt64}, {"v", Type::kDouble}, {"c", Type::kString}}});
    ArrayData events;
    events.columns = {{.type = Type::kInt64}, {.type = Type::kDouble}, {.type = Type::kString}};
    for (int i = 0; i < 5; ++i) {
      events.columns[0].i64.push_back(1000 - i * 7);
      events.columns[1].f64.push_back(i * 1.5 - 2);
      events.columns[2].push_str(i % 2 ? "x" : "y");
    }
    events.columns[1].valid = {1, 0, 1, 1, 0};
    events.rows = 5;
    arrays.push_back(std::move(events));
    scope.add_list("listing.pages", 0, Type::kInt64);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Env env{&w.scalars, &w.arrays};
  if (auto e = Expr::compile(text, w.scope); e.ok()) {
    (void)e->eval(env);
    (void)e->eval_condition(env);
  }
  // As a for_each: a range(a, b) at the top, or an error.
  if (auto r = Expr::compile(text, w.scope, {.allow_aggregates = false, .allow_range = true});
      r.ok() && r->is_range()) {
    (void)r->eval_range(env);
  }
  return 0;
}
