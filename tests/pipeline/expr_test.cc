#include "pipeline/expr/expr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sluice::pipeline {
namespace {

class ExprTest : public ::testing::Test {
 protected:
  ExprTest() {
    scope_.add_scalar("x", 0, Type::kInt64);
    scope_.add_scalar("item.score", 1, Type::kDouble);
    scope_.add_scalar("item.kind", 2, Type::kString);
    scope_.add_scalar("missing", 3, Type::kDouble);
    scope_.add_array("ev", {.index = 0, .fields = {{"t", Type::kInt64}, {"v", Type::kDouble}, {"c", Type::kString}}});
    scalars_ = {Value(std::int64_t{7}), Value(0.25), Value(std::string("b")), Value()};
    ArrayData a;
    a.rows = 5;
    a.columns = {{.type = Type::kInt64, .i64 = {30, 10, 50, 20, 40}},
                 {.type = Type::kDouble, .f64 = {3.0, 1.0, 5.0, 2.0, 4.0}},
                 {.type = Type::kString}};
    for (const char* c : {"x", "y", "x", "z", "x"}) a.columns[2].push_str(c);
    arrays_ = {a};
  }

  Value eval(const std::string& text) {
    auto e = Expr::compile(text, scope_);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status().to_string();
    if (!e.ok()) return Value();
    return e->eval({&scalars_, &arrays_});
  }
  std::string error(const std::string& text, Expr::Options o = {}) {
    auto e = Expr::compile(text, scope_, o);
    return e.ok() ? "" : e.status().message();
  }

  Scope scope_;
  std::vector<Value> scalars_;
  std::vector<ArrayData> arrays_;
};

TEST_F(ExprTest, ArithmeticComparisonAndLogic) {
  EXPECT_EQ(eval("x * 2 + 1").as_int(), 15);
  EXPECT_DOUBLE_EQ(eval("x / 2").as_double(), 3.5);
  EXPECT_EQ(eval("x % 4").as_int(), 3);
  EXPECT_DOUBLE_EQ(eval("item.score * 4 - x").as_double(), -6.0);
  EXPECT_TRUE(eval("item.score >= 0.25 && item.kind == \"b\"").as_bool());
  EXPECT_TRUE(eval("!(x < 3) || false").as_bool());
  EXPECT_EQ(eval("-x").as_int(), -7);
  EXPECT_DOUBLE_EQ(eval("sqrt(abs(-16))").as_double(), 4.0);
}

TEST_F(ExprTest, NullsPropagateAndANullConditionIsFalse) {
  EXPECT_TRUE(eval("missing + 1").is_null());
  EXPECT_TRUE(eval("missing > 1").is_null());
  EXPECT_FALSE(Expr::compile("missing > 1", scope_)->eval_condition({&scalars_, &arrays_}));
  EXPECT_DOUBLE_EQ(eval("coalesce(missing, 2.5)").as_double(), 2.5);
  EXPECT_TRUE(eval("x / 0").is_null()) << "division by zero is null, not a crash";
  EXPECT_FALSE(eval("missing > 1 && false").as_bool());
}

TEST_F(ExprTest, AggregatesOverAnArray) {
  EXPECT_EQ(eval("count(ev)").as_int(), 5);
  EXPECT_DOUBLE_EQ(eval("sum(ev.v)").as_double(), 15.0);
  EXPECT_EQ(eval("sum(ev.t)").as_int(), 150);
  EXPECT_DOUBLE_EQ(eval("mean(ev.v)").as_double(), 3.0);
  EXPECT_DOUBLE_EQ(eval("std(ev.v)").as_double(), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(eval("std_sample(ev.v)").as_double(), std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(eval("min(ev.v)").as_double(), 1.0);
  EXPECT_EQ(eval("max(ev.c)").as_string(), "z");
  EXPECT_DOUBLE_EQ(eval("quantile(ev.v, 0.5)").as_double(), 3.0);
  EXPECT_DOUBLE_EQ(eval("quantile(ev.v, 0.99)").as_double(), 4.0) << "index floor(0.99 * 4) = 3";
  EXPECT_EQ(eval("count_if(ev.c == \"x\")").as_int(), 3);
  EXPECT_EQ(eval("count_if(ev.v > 2 && ev.c != \"x\")").as_int(), 0);
  EXPECT_EQ(eval("count_if(ev.v >= item.score * 8)").as_int(), 4) << "element and record values mix";
  EXPECT_DOUBLE_EQ(eval("sum_if(ev.v, ev.c == \"x\")").as_double(), 12.0);
  EXPECT_EQ(eval("distinct(ev.c)").as_int(), 3);
  // By ascending t: v = 1, 2, 3, 4, 5.
  EXPECT_DOUBLE_EQ(eval("first(ev.v, ev.t)").as_double(), 1.0);
  EXPECT_DOUBLE_EQ(eval("last(ev.v, ev.t)").as_double(), 5.0);
  double s = 1;
  for (double v : {2.0, 3.0, 4.0, 5.0}) s = 0.5 * v + 0.5 * s;
  EXPECT_DOUBLE_EQ(eval("ewma(ev.v, 0.5, ev.t)").as_double(), s);
  EXPECT_DOUBLE_EQ(eval("sum(ev.v * 2)").as_double(), 30.0);
}

TEST_F(ExprTest, OrderingIsStableOverManyElementsWithTiesAndNegativeKeys) {
  ArrayData& a = arrays_[0];
  a = ArrayData{.rows = 0, .columns = {{.type = Type::kInt64}, {.type = Type::kDouble}, {.type = Type::kString}}};
  std::uint64_t x = 12345;
  for (int i = 0; i < 3000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    a.columns[0].i64.push_back(static_cast<std::int64_t>(x >> 40) % 5000 - 2500);  // ties and negatives
    a.columns[1].f64.push_back(static_cast<double>(i));
    a.columns[2].push_str("x");
    ++a.rows;
  }
  std::vector<std::size_t> order(a.rows);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t p, std::size_t q) { return a.columns[0].i64[p] < a.columns[0].i64[q]; });
  double s = a.columns[1].f64[order[0]];
  for (std::size_t k = 1; k < order.size(); ++k) s = 0.25 * a.columns[1].f64[order[k]] + 0.75 * s;
  EXPECT_DOUBLE_EQ(eval("ewma(ev.v, 0.25, ev.t)").as_double(), s);
  EXPECT_DOUBLE_EQ(eval("first(ev.v, ev.t)").as_double(), a.columns[1].f64[order.front()]);
  EXPECT_DOUBLE_EQ(eval("last(ev.v, ev.t)").as_double(), a.columns[1].f64[order.back()]);
}

// One record's quantiles share a selection; in any order, each is the k-th
// smallest of a sorted copy, also over ties and over the integer column.
TEST_F(ExprTest, QuantilesThatShareOneSelectionAgreeWithASortInAnyOrder) {
  ArrayData& a = arrays_[0];
  a = ArrayData{.rows = 0, .columns = {{.type = Type::kInt64}, {.type = Type::kDouble}, {.type = Type::kString}}};
  std::uint64_t x = 99;
  for (int i = 0; i < 1001; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    a.columns[0].i64.push_back(static_cast<std::int64_t>(x >> 33) % 700 - 350);
    a.columns[1].f64.push_back(static_cast<double>(x >> 45) / 7.0);
    a.columns[2].push_str("x");
    ++a.rows;
  }
  std::vector<double> v = a.columns[1].f64, t(a.columns[0].i64.begin(), a.columns[0].i64.end());
  std::sort(v.begin(), v.end());
  std::sort(t.begin(), t.end());
  const std::vector<double> qs = {0.99, 0.5, 0.9, 0.5, 0.0, 1.0, 0.25, 0.26, 0.1};
  std::vector<Expr> exprs;
  for (double q : qs) {
    for (const char* f : {"ev.v", "ev.t"}) {
      auto e = Expr::compile("quantile(" + std::string(f) + ", " + std::to_string(q) + ")", scope_);
      ASSERT_TRUE(e.ok());
      exprs.push_back(std::move(*e));
    }
  }
  SharedSelections shared;
  for (int record = 0; record < 2; ++record) {  // reused: cleared between records
    shared.clear();
    if (record == 1) std::reverse(a.columns[1].f64.begin(), a.columns[1].f64.end());
    Env env{&scalars_, &arrays_, &shared};
    for (std::size_t i = 0; i < qs.size(); ++i) {
      const auto k = static_cast<std::size_t>(std::floor(qs[i] * 1000));
      EXPECT_EQ(exprs[2 * i].eval(env).as_double(), v[k]) << "q " << qs[i];
      EXPECT_EQ(exprs[2 * i + 1].eval(env).as_int(), static_cast<std::int64_t>(t[k])) << "q " << qs[i];
    }
  }
}

TEST_F(ExprTest, AggregatesOfAnEmptyArrayAreNullOrZero) {
  arrays_[0] =
      ArrayData{.rows = 0, .columns = {{.type = Type::kInt64}, {.type = Type::kDouble}, {.type = Type::kString}}};
  EXPECT_EQ(eval("count(ev)").as_int(), 0);
  EXPECT_DOUBLE_EQ(eval("sum(ev.v)").as_double(), 0.0);
  EXPECT_TRUE(eval("mean(ev.v)").is_null());
  EXPECT_TRUE(eval("quantile(ev.v, 0.5)").is_null());
  EXPECT_TRUE(eval("ewma(ev.v, 0.1, ev.t)").is_null());
  EXPECT_TRUE(eval("min(ev.v)").is_null());
}

TEST_F(ExprTest, ErrorsNameTheColumn) {
  EXPECT_EQ(error("x +"), "column 4: expected a value, found the end of the expression");
  EXPECT_EQ(error("x + item.kind"), "column 3: '+' needs numbers, found int64 and string");
  EXPECT_EQ(error("y > 1"), "column 1: unknown name 'y' (did you mean 'x'?)");
  EXPECT_EQ(error("sum(ev)"), "column 1: sum: name a field of the array, not the array");
  EXPECT_EQ(error("quantile(ev.v, x)"), "column 1: quantile: argument 2 must be a number literal");
  EXPECT_EQ(error("quantile(ev.v, 1.5)"), "column 1: quantile: q must be in [0, 1]");
  EXPECT_EQ(error("sum(mean(ev.v))"), "column 5: aggregates cannot be nested");
  EXPECT_EQ(error("nosuch(x)"), "column 1: unknown function 'nosuch'");
  EXPECT_EQ(error("\"open"), "column 1: unterminated string");
  EXPECT_EQ(error("range(0, x)"), "column 1: range(a, b) is only allowed as a whole for_each value");
  EXPECT_EQ(error("count(ev)", {.allow_aggregates = false}), "column 1: aggregate 'count' is not allowed here");
}

TEST_F(ExprTest, RangeGivesItsBounds) {
  auto e = Expr::compile("range(1, x + 1)", scope_, {.allow_aggregates = false, .allow_range = true});
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ASSERT_TRUE(e->is_range());
  auto r = e->eval_range({&scalars_, &arrays_});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 1);
  EXPECT_EQ(r->second, 8);
}

// Found by fuzzing: a double bound past int64 (or NaN) was cast as it was,
// which is undefined; it is an error now, and a large int64 is exact.
TEST_F(ExprTest, ARangeBoundThatFitsNoInt64IsAnError) {
  auto range = [&](const std::string& text) {
    auto e = Expr::compile(text, scope_, {.allow_aggregates = false, .allow_range = true});
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return e->eval_range({&scalars_, &arrays_});
  };
  for (const char* bad : {"range(0, 1e300)", "range(-1e300, 0)"}) {
    auto r = range(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("not a number that fits an int64"), std::string::npos) << r.status().message();
  }
  auto big = range("range(9007199254740993, 9007199254740995)");  // past a double's exact integers
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->first, 9007199254740993);
  EXPECT_EQ(big->second, 9007199254740995);
  auto cut = range("range(0.5, item.score * 10)");
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->second, 2);
}

}  // namespace
}  // namespace sluice::pipeline
