// Expressions evaluated: scalar operators and functions, and the aggregates
// over a record's arrays with their fast paths (quantiles by selection,
// orderings by radix sort).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "pipeline/expr/expr.h"
#include "pipeline/expr/expr_node.h"

namespace sluice::pipeline {

namespace {

Value eval_node(const Node& n, const Env& env, std::size_t element);

bool truthy(const Value& v) { return v.type() == Type::kBool && v.as_bool(); }

int compare(const Value& a, const Value& b) {  // REQUIRES: both non-null, comparable
  if (a.is_numeric() && b.is_numeric()) {
    if (a.type() == Type::kInt64 && b.type() == Type::kInt64)
      return (a.as_int() > b.as_int()) - (a.as_int() < b.as_int());
    double x = a.as_double(), y = b.as_double();
    return (x > y) - (x < y);
  }
  if (a.type() == Type::kString)
    return a.as_string().compare(b.as_string()) < 0 ? -1 : (a.as_string() == b.as_string() ? 0 : 1);
  return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
}

Value arithmetic(Op op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return Value();
  if (a.type() == Type::kInt64 && b.type() == Type::kInt64 && op != Op::kDiv) {
    std::uint64_t x = static_cast<std::uint64_t>(a.as_int()), y = static_cast<std::uint64_t>(b.as_int());
    switch (op) {  // wrapping, like the workload's arithmetic
      case Op::kAdd:
        return Value(static_cast<std::int64_t>(x + y));
      case Op::kSub:
        return Value(static_cast<std::int64_t>(x - y));
      case Op::kMul:
        return Value(static_cast<std::int64_t>(x * y));
      case Op::kMod:
        return b.as_int() == 0 ? Value() : Value(a.as_int() % b.as_int());
      default:
        break;
    }
  }
  double x = a.as_double(), y = b.as_double();
  switch (op) {
    case Op::kAdd:
      return Value(x + y);
    case Op::kSub:
      return Value(x - y);
    case Op::kMul:
      return Value(x * y);
    case Op::kDiv:
      return y == 0 ? Value() : Value(x / y);
    case Op::kMod:
      return y == 0 ? Value() : Value(std::fmod(x, y));
    default:
      return Value();
  }
}

// The values of an aggregate's first argument over the array, as doubles,
// skipping nulls (and elements whose condition, if any, is not true).
const std::vector<double>& numbers(const Node& x, const Node* cond, const Env& env, std::vector<double>& scratch) {
  const ArrayData& a = (*env.arrays)[x.slot < 0 ? 0 : static_cast<std::size_t>(x.slot)];
  scratch.clear();
  if (x.op == Op::kElement && !cond) {
    const ArrayColumn& c = a.columns[static_cast<std::size_t>(x.field)];
    if (c.type == Type::kDouble && c.valid.empty()) return c.f64;  // the common case: no copy
    for (std::size_t i = 0; i < a.rows; ++i) {
      if (c.is_valid(i)) scratch.push_back(c.type == Type::kDouble ? c.f64[i] : static_cast<double>(c.i64[i]));
    }
    return scratch;
  }
  for (std::size_t i = 0; i < a.rows; ++i) {
    if (cond && !truthy(eval_node(*cond, env, i))) continue;
    Value v = eval_node(x, env, i);
    if (!v.is_null()) scratch.push_back(v.as_double());
  }
  return scratch;
}

const ArrayData& array_of(const Node& agg, const Env& env) { return (*env.arrays)[static_cast<std::size_t>(agg.slot)]; }

// A string column compared with a literal: the loop without a Value per element.
bool fast_count_if(const Node& cond, const Env& env, const ArrayData& a, std::int64_t& count) {
  if ((cond.op != Op::kEq && cond.op != Op::kNe) || cond.args[0]->op != Op::kElement ||
      cond.args[1]->op != Op::kLiteral) {
    return false;
  }
  const ArrayColumn& c = a.columns[static_cast<std::size_t>(cond.args[0]->field)];
  if (c.type != Type::kString || !c.valid.empty() || cond.args[1]->literal.type() != Type::kString) return false;
  const std::string& lit = cond.args[1]->literal.as_string();
  std::int64_t n = 0;
  const char* b = c.bytes.data();
  if (lit.size() == 1) {  // one-letter categories: no call per element
    for (std::size_t i = 0; i < a.rows; ++i) n += c.offsets[i + 1] - c.offsets[i] == 1 && b[c.offsets[i]] == lit[0];
  } else {
    for (std::size_t i = 0; i < a.rows; ++i) n += c.str(i) == lit;
  }
  count = cond.op == Op::kEq ? n : static_cast<std::int64_t>(a.rows) - n;
  (void)env;
  return true;
}

// A plain field of the array, every element present: the fast paths read it directly.
const ArrayColumn* plain_column(const Node& x, const ArrayData& a) {
  if (x.op != Op::kElement) return nullptr;
  const ArrayColumn& c = a.columns[static_cast<std::size_t>(x.field)];
  return c.valid.empty() ? &c : nullptr;
}

// The order of integer keys whose range fits 32 bits (timestamps of one
// record, counters): a stable LSD radix sort, 11 bits a pass, linear in the
// element count. False when the range is wider (the caller sorts).
bool radix_order(const std::vector<std::int64_t>& keys, std::vector<std::uint32_t>& order) {
  const std::size_t n = keys.size();
  if (n < 64) return false;  // a comparison sort is as quick
  auto [lo, hi] = std::minmax_element(keys.begin(), keys.end());
  const std::uint64_t range = static_cast<std::uint64_t>(*hi) - static_cast<std::uint64_t>(*lo);
  if (range >> 32) return false;
  thread_local std::vector<std::uint32_t> key, tmp_key, tmp_idx;
  key.resize(n);
  tmp_key.resize(n);
  tmp_idx.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    key[k] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(keys[k]) - static_cast<std::uint64_t>(*lo));
    order[k] = static_cast<std::uint32_t>(k);
  }
  const int bits = std::bit_width(range);
  for (int shift = 0; shift < bits; shift += 11) {
    std::array<std::uint32_t, 2049> count{};
    for (std::size_t k = 0; k < n; ++k) ++count[((key[k] >> shift) & 2047) + 1];
    for (std::size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
    for (std::size_t k = 0; k < n; ++k) {
      std::uint32_t at = count[(key[k] >> shift) & 2047]++;
      tmp_key[at] = key[k];
      tmp_idx[at] = order[k];
    }
    key.swap(tmp_key);
    order.swap(tmp_idx);
  }
  return true;
}

// Element order by an ordering argument (ascending; nulls last; ties in
// element order).
std::vector<std::uint32_t> order_by(const Node& key, const Env& env, const ArrayData& a) {
  std::vector<std::uint32_t> idx(a.rows);
  if (const ArrayColumn* c = plain_column(key, a); c && (c->type == Type::kInt64 || c->type == Type::kDouble)) {
    // Sort (key, index) pairs: one contiguous array, ties broken by index.
    std::vector<std::pair<double, std::uint32_t>> d;
    std::vector<std::pair<std::int64_t, std::uint32_t>> i;
    if (c->type == Type::kInt64) {
      if (radix_order(c->i64, idx)) return idx;
      i.resize(a.rows);
      for (std::uint32_t k = 0; k < a.rows; ++k) i[k] = {c->i64[k], k};
      std::sort(i.begin(), i.end());
      for (std::uint32_t k = 0; k < a.rows; ++k) idx[k] = i[k].second;
    } else {
      d.resize(a.rows);
      for (std::uint32_t k = 0; k < a.rows; ++k) d[k] = {c->f64[k], k};
      std::sort(d.begin(), d.end(), [](const auto& x, const auto& y) {
        return x.first < y.first || (!(y.first < x.first) && x.second < y.second);
      });
      for (std::uint32_t k = 0; k < a.rows; ++k) idx[k] = d[k].second;
    }
    return idx;
  }
  std::iota(idx.begin(), idx.end(), 0u);
  std::vector<Value> keys(a.rows);
  for (std::size_t i = 0; i < a.rows; ++i) keys[i] = eval_node(key, env, i);
  std::stable_sort(idx.begin(), idx.end(), [&](std::uint32_t x, std::uint32_t y) {
    if (keys[x].is_null() || keys[y].is_null()) return !keys[x].is_null() && keys[y].is_null();
    return compare(keys[x], keys[y]) < 0;
  });
  return idx;
}

Value typed(double d, Type t) { return t == Type::kInt64 ? Value(static_cast<std::int64_t>(d)) : Value(d); }

}  // namespace

double SharedSelections::select(int slot, int field, const std::vector<double>& values, std::size_t k) {
  Entry* e = nullptr;
  for (std::size_t i = 0; i < used_ && !e; ++i) {
    if (entries_[i].slot == slot && entries_[i].field == field) e = &entries_[i];
  }
  if (!e) {
    if (used_ == entries_.size()) entries_.emplace_back();
    e = &entries_[used_++];
    e->slot = slot;
    e->field = field;
    e->values.assign(values.begin(), values.end());
    e->placed.clear();
  }
  // Positions before the placed one below k hold no larger values, and those
  // after the one above none smaller: the k-th lies between them.
  auto above = std::lower_bound(e->placed.begin(), e->placed.end(), k);
  if (above != e->placed.end() && *above == k) return e->values[k];
  const std::size_t lo = above == e->placed.begin() ? 0 : *(above - 1) + 1;
  const std::size_t hi = above == e->placed.end() ? e->values.size() : *above;
  auto base = e->values.begin();
  std::nth_element(base + static_cast<std::ptrdiff_t>(lo), base + static_cast<std::ptrdiff_t>(k),
                   base + static_cast<std::ptrdiff_t>(hi));
  e->placed.insert(above, k);
  return e->values[k];
}

namespace {

Value eval_aggregate(const Node& n, const Env& env) {
  const ArrayData& a = array_of(n, env);
  const Node& x = *n.args[0];
  thread_local std::vector<double> scratch;
  switch (n.op) {
    case Op::kCount: {
      if (x.op == Op::kArray) return Value(static_cast<std::int64_t>(a.rows));
      std::int64_t c = 0;
      for (std::size_t i = 0; i < a.rows; ++i) c += !eval_node(x, env, i).is_null();
      return Value(c);
    }
    case Op::kCountIf: {
      std::int64_t c = 0;
      if (fast_count_if(x, env, a, c)) return Value(c);
      for (std::size_t i = 0; i < a.rows; ++i) c += truthy(eval_node(x, env, i));
      return Value(c);
    }
    case Op::kDistinct: {
      std::unordered_set<decltype(Value::v)> seen;  // one type per expression: the values compare as they are
      for (std::size_t i = 0; i < a.rows; ++i) {
        Value v = eval_node(x, env, i);
        if (!v.is_null()) seen.insert(std::move(v.v));
      }
      return Value(static_cast<std::int64_t>(seen.size()));
    }
    case Op::kSum:
    case Op::kSumIf: {
      const auto& v = numbers(x, n.op == Op::kSumIf ? n.args[1].get() : nullptr, env, scratch);
      if (n.type == Type::kInt64) {  // exact for integers
        std::int64_t s = 0;
        for (std::size_t i = 0; i < a.rows; ++i) {
          if (n.op == Op::kSumIf && !truthy(eval_node(*n.args[1], env, i))) continue;
          Value e = eval_node(x, env, i);
          if (!e.is_null())
            s = static_cast<std::int64_t>(static_cast<std::uint64_t>(s) + static_cast<std::uint64_t>(e.as_int()));
        }
        return Value(s);
      }
      double s = 0;
      for (double d : v) s += d;
      return Value(s);
    }
    case Op::kMean:
    case Op::kStd:
    case Op::kStdSample: {
      const auto& v = numbers(x, nullptr, env, scratch);
      if (v.empty() || (n.op == Op::kStdSample && v.size() < 2)) return Value();
      double s = 0;
      for (double d : v) s += d;
      double mean = s / static_cast<double>(v.size());
      if (n.op == Op::kMean) return Value(mean);
      double sq = 0;
      for (double d : v) sq += (d - mean) * (d - mean);
      return Value(std::sqrt(sq / static_cast<double>(v.size() - (n.op == Op::kStdSample ? 1 : 0))));
    }
    case Op::kMin:
    case Op::kMax: {
      if (const ArrayColumn* c = plain_column(x, a); c && a.rows > 0 && c->type == Type::kDouble) {
        auto [lo, hi] = std::minmax_element(c->f64.begin(), c->f64.end());
        return Value(n.op == Op::kMin ? *lo : *hi);
      }
      if (const ArrayColumn* c = plain_column(x, a); c && a.rows > 0 && c->type == Type::kInt64) {
        auto [lo, hi] = std::minmax_element(c->i64.begin(), c->i64.end());
        return Value(n.op == Op::kMin ? *lo : *hi);
      }
      Value best;
      for (std::size_t i = 0; i < a.rows; ++i) {
        Value v = eval_node(x, env, i);
        if (v.is_null()) continue;
        if (best.is_null() || (n.op == Op::kMin ? compare(v, best) < 0 : compare(v, best) > 0)) best = std::move(v);
      }
      return best;
    }
    case Op::kQuantile: {
      const auto& v = numbers(x, nullptr, env, scratch);
      if (v.empty()) return Value();
      if (env.shared && x.op == Op::kElement) {
        auto k =
            static_cast<std::size_t>(std::floor(n.args[1]->literal.as_double() * static_cast<double>(v.size() - 1)));
        return typed(env.shared->select(x.slot, x.field, v, k), n.type);
      }
      std::vector<double>& w = scratch;
      if (&v != &scratch) w.assign(v.begin(), v.end());
      auto k = static_cast<std::size_t>(std::floor(n.args[1]->literal.as_double() * static_cast<double>(w.size() - 1)));
      std::nth_element(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(k), w.end());
      return typed(w[k], n.type);
    }
    case Op::kEwma: {
      const double alpha = n.args[1]->literal.as_double();
      bool started = false;
      double s = 0;
      if (const ArrayColumn* c = plain_column(x, a); c && c->type == Type::kDouble) {
        for (std::uint32_t i : order_by(*n.args[2], env, a)) {
          s = started ? alpha * c->f64[i] + (1 - alpha) * s : c->f64[i];
          started = true;
        }
        return started ? Value(s) : Value();
      }
      for (std::uint32_t i : order_by(*n.args[2], env, a)) {
        Value v = eval_node(x, env, i);
        if (v.is_null()) continue;
        s = started ? alpha * v.as_double() + (1 - alpha) * s : v.as_double();
        started = true;
      }
      return started ? Value(s) : Value();
    }
    case Op::kFirst:
    case Op::kLast: {
      auto idx = order_by(*n.args[1], env, a);
      if (idx.empty()) return Value();
      return eval_node(x, env, n.op == Op::kFirst ? idx.front() : idx.back());
    }
    default:
      return Value();
  }
}

Value eval_node(const Node& n, const Env& env, std::size_t element) {
  switch (n.op) {
    case Op::kLiteral:
      return n.literal;
    case Op::kScalar:
      return (*env.scalars)[static_cast<std::size_t>(n.slot)];
    case Op::kElement:
      return (*env.arrays)[static_cast<std::size_t>(n.slot)].columns[static_cast<std::size_t>(n.field)].at(element);
    case Op::kArray:
      return Value();
    case Op::kNeg: {
      Value a = eval_node(*n.args[0], env, element);
      if (a.is_null()) return a;
      return a.type() == Type::kInt64 ? Value(static_cast<std::int64_t>(0 - static_cast<std::uint64_t>(a.as_int())))
                                      : Value(-a.as_double());
    }
    case Op::kNot: {
      Value a = eval_node(*n.args[0], env, element);
      return a.is_null() ? a : Value(!a.as_bool());
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod:
      return arithmetic(n.op, eval_node(*n.args[0], env, element), eval_node(*n.args[1], env, element));
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      Value a = eval_node(*n.args[0], env, element), b = eval_node(*n.args[1], env, element);
      if (a.is_null() || b.is_null()) return Value();
      int c = compare(a, b);
      switch (n.op) {
        case Op::kEq:
          return Value(c == 0);
        case Op::kNe:
          return Value(c != 0);
        case Op::kLt:
          return Value(c < 0);
        case Op::kLe:
          return Value(c <= 0);
        case Op::kGt:
          return Value(c > 0);
        default:
          return Value(c >= 0);
      }
    }
    case Op::kAnd: {
      Value a = eval_node(*n.args[0], env, element);
      if (a.type() == Type::kBool && !a.as_bool()) return Value(false);
      Value b = eval_node(*n.args[1], env, element);
      if (b.type() == Type::kBool && !b.as_bool()) return Value(false);
      return a.is_null() || b.is_null() ? Value() : Value(true);
    }
    case Op::kOr: {
      Value a = eval_node(*n.args[0], env, element);
      if (truthy(a)) return Value(true);
      Value b = eval_node(*n.args[1], env, element);
      if (truthy(b)) return Value(true);
      return a.is_null() || b.is_null() ? Value() : Value(false);
    }
    case Op::kAbs:
    case Op::kSqrt:
    case Op::kLog:
    case Op::kExp:
    case Op::kRound:
    case Op::kFloor:
    case Op::kCeil: {
      Value a = eval_node(*n.args[0], env, element);
      if (a.is_null()) return a;
      if (a.type() == Type::kInt64 && n.op != Op::kSqrt && n.op != Op::kLog && n.op != Op::kExp) {
        return n.op == Op::kAbs ? Value(a.as_int() < 0 ? -a.as_int() : a.as_int()) : a;
      }
      double d = a.as_double();
      switch (n.op) {
        case Op::kAbs:
          return Value(std::fabs(d));
        case Op::kSqrt:
          return d < 0 ? Value() : Value(std::sqrt(d));
        case Op::kLog:
          return d <= 0 ? Value() : Value(std::log(d));
        case Op::kExp:
          return Value(std::exp(d));
        case Op::kRound:
          return Value(std::round(d));
        case Op::kFloor:
          return Value(std::floor(d));
        default:
          return Value(std::ceil(d));
      }
    }
    case Op::kCoalesce: {
      Value a = eval_node(*n.args[0], env, element);
      Value r = a.is_null() ? eval_node(*n.args[1], env, element) : std::move(a);
      if (n.type == Type::kDouble && r.type() == Type::kInt64) return Value(r.as_double());
      return r;
    }
    case Op::kRange:
      return Value();
    default:
      return eval_aggregate(n, env);
  }
}

}  // namespace

Value Expr::eval(const Env& env) const { return eval_node(*root_, env, 0); }
bool Expr::eval_condition(const Env& env) const { return truthy(eval(env)); }

Result<std::pair<std::int64_t, std::int64_t>> Expr::eval_range(const Env& env) const {
  Value a = eval_node(*root_->args[0], env, 0), b = eval_node(*root_->args[1], env, 0);
  if (a.is_null() || b.is_null()) return Status::DataLoss("range(" + text_ + "): a bound is null");
  // A bound is an int64, or a double that fits one (whole or not: it is cut).
  auto bound = [](const Value& v) -> std::optional<std::int64_t> {
    if (v.type() == Type::kInt64) return v.as_int();
    const double d = v.as_double();
    if (!(d >= -9.2e18 && d <= 9.2e18)) return std::nullopt;  // NaN or past int64
    return static_cast<std::int64_t>(d);
  };
  const auto lo = bound(a), hi = bound(b);
  if (!lo || !hi) return Status::DataLoss(text_ + ": a bound is not a number that fits an int64");
  return std::pair{*lo, *hi};
}

}  // namespace sluice::pipeline
