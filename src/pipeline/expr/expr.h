// Expressions of the declarative pipeline: filters (`item.score >= 0.3`),
// computed columns (`weight * score`) and aggregations over a record's arrays
// (`quantile(events.v, 0.9)`, `count_if(events.c == "x")`).
//
// Grammar (usual precedence, lowest first):
//   or:  and ('||' and)*          and: cmp ('&&' cmp)*
//   cmp: add (('=='|'!='|'<'|'<='|'>'|'>=') add)?
//   add: mul (('+'|'-') mul)*     mul: unary (('*'|'/'|'%') unary)*
//   unary: ('-'|'!') unary | primary
//   primary: number | "string" | true | false | null | name('.'name)*
//          | function '(' args ')' | '(' or ')'
// Names are resolved, and types checked, when compiled: an unknown name or a
// type mismatch is an error naming its column in the text.
// Nulls propagate through arithmetic and comparisons; a null condition is false.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/data/value.h"
#include "sluice/status.h"

namespace sluice::pipeline {

// What the names of expressions refer to.
class Scope {
 public:
  struct Array {
    int index = 0;
    std::vector<std::pair<std::string, Type>> fields;
  };
  void add_scalar(std::string name, int slot, Type type) { scalars_[std::move(name)] = {slot, type}; }
  void add_array(std::string name, Array a) { arrays_[std::move(name)] = std::move(a); }
  // A list field (`list<int64>`): only a for_each may use it.
  void add_list(std::string name, int index, Type type) { lists_[std::move(name)] = {index, type}; }
  const std::pair<int, Type>* scalar(std::string_view name) const;
  const Array* array(std::string_view name) const;
  const std::pair<int, Type>* list(std::string_view name) const;
  // A near name for "did you mean" hints, or empty.
  std::string suggest(std::string_view name) const;

 private:
  std::map<std::string, std::pair<int, Type>, std::less<>> scalars_;
  std::map<std::string, Array, std::less<>> arrays_;
  std::map<std::string, std::pair<int, Type>, std::less<>> lists_;
};

// Work one record's expressions share: the quantiles of one array field
// select in one copy of its values, each selection narrowing the range the
// next searches (p50, p90 and p99 cost about 1.6 selections, not 3).
// Reused from record to record; clear() before each.
class SharedSelections {
 public:
  void clear() { used_ = 0; }
  // The k-th smallest (from 0) of the non-null values of field `field` of
  // array `slot`, filling the copy from `values` on first use.
  // REQUIRES: k < values.size(); the same values for the same (slot, field)
  // until clear().
  double select(int slot, int field, const std::vector<double>& values, std::size_t k);

 private:
  struct Entry {
    int slot = 0, field = 0;
    std::vector<double> values;       // a permutation of the field's values
    std::vector<std::size_t> placed;  // ascending positions that hold their sorted value
  };
  std::vector<Entry> entries_;
  std::size_t used_ = 0;
};

// What an expression is evaluated against: a record's scalar values by slot,
// and its arrays by index; `shared`, if given, is work the record's
// expressions share (it changes as they run).
struct Env {
  const std::vector<Value>* scalars = nullptr;
  const std::vector<ArrayData>* arrays = nullptr;
  SharedSelections* shared = nullptr;
};

struct Node;

class Expr {
 public:
  struct Options {
    bool allow_aggregates = true;
    bool allow_range = false;  // `range(a, b)` at the top (for_each)
  };
  // Fails with kInvalidArgument "column C: <what>" (C counts from 1).
  static Result<Expr> compile(std::string_view text, const Scope& scope, Options options);
  static Result<Expr> compile(std::string_view text, const Scope& scope) { return compile(text, scope, Options{}); }

  Expr();
  Expr(Expr&&) noexcept;
  Expr& operator=(Expr&&) noexcept;
  ~Expr();

  Type type() const;  // kNull when only null can come out
  const std::string& text() const { return text_; }
  // Scalar slots read (to check that every one is known by the time it runs).
  const std::vector<int>& scalar_slots() const { return slots_; }
  bool uses_arrays() const { return uses_arrays_; }
  bool is_range() const;

  Value eval(const Env& env) const;
  bool eval_condition(const Env& env) const;  // null or false: false
  // For a range(a, b) expression: [a, b), or an error naming a null bound.
  Result<std::pair<std::int64_t, std::int64_t>> eval_range(const Env& env) const;

 private:
  std::unique_ptr<Node> root_;
  std::string text_;
  std::vector<int> slots_;
  bool uses_arrays_ = false;
};

}  // namespace sluice::pipeline
