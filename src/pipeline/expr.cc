#include "expr.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace sluice::pipeline {

// ---- scope -----------------------------------------------------------------

const std::pair<int, Type>* Scope::scalar(std::string_view name) const {
  auto it = scalars_.find(name);
  return it == scalars_.end() ? nullptr : &it->second;
}

const Scope::Array* Scope::array(std::string_view name) const {
  auto it = arrays_.find(name);
  return it == arrays_.end() ? nullptr : &it->second;
}

const std::pair<int, Type>* Scope::list(std::string_view name) const {
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : &it->second;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0]++;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
      prev = cur;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Scope::suggest(std::string_view name) const {
  std::string best;
  std::size_t best_d = 3;  // at most two edits away
  auto consider = [&](const std::string& n) {
    std::size_t d = edit_distance(name, n);
    if (d < best_d) best_d = d, best = n;
  };
  for (const auto& [n, _] : scalars_) consider(n);
  for (const auto& [n, _] : lists_) consider(n);
  for (const auto& [n, a] : arrays_) {
    consider(n);
    for (const auto& field : a.fields) consider(n + "." + field.first);
  }
  return best;
}

// ---- nodes -----------------------------------------------------------------

enum class Op : std::uint8_t {
  kLiteral,
  kScalar,
  kElement,
  kArray,  // leaves
  kNeg,
  kNot,  // unary
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,  // arithmetic
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,  // logic
  kAbs,
  kSqrt,
  kLog,
  kExp,
  kRound,
  kFloor,
  kCeil,
  kCoalesce,  // scalar functions
  kCount,
  kCountIf,
  kSum,
  kSumIf,
  kMean,
  kStd,
  kStdSample,
  kMin,
  kMax,  // aggregates
  kQuantile,
  kEwma,
  kFirst,
  kLast,
  kDistinct,
  kRange,
};

struct Node {
  Op op = Op::kLiteral;
  Type type = Type::kNull;
  Value literal;   // kLiteral
  int slot = -1;   // kScalar: slot; kElement/kArray/aggregates: array index
  int field = -1;  // kElement: field index
  std::vector<std::unique_ptr<Node>> args;
};

namespace {

struct Token {
  enum Kind { kEnd, kNumber, kString, kName, kSymbol } kind = kEnd;
  std::string text;
  std::size_t col = 0;  // from 1
};

struct FunctionInfo {
  std::string_view name;
  Op op;
  int min_args, max_args;
  bool aggregate;
};

constexpr FunctionInfo kFunctions[] = {
    {"abs", Op::kAbs, 1, 1, false},
    {"sqrt", Op::kSqrt, 1, 1, false},
    {"log", Op::kLog, 1, 1, false},
    {"exp", Op::kExp, 1, 1, false},
    {"round", Op::kRound, 1, 1, false},
    {"floor", Op::kFloor, 1, 1, false},
    {"ceil", Op::kCeil, 1, 1, false},
    {"coalesce", Op::kCoalesce, 2, 2, false},
    {"count", Op::kCount, 1, 1, true},
    {"count_if", Op::kCountIf, 1, 1, true},
    {"sum", Op::kSum, 1, 1, true},
    {"sum_if", Op::kSumIf, 2, 2, true},
    {"mean", Op::kMean, 1, 1, true},
    {"std", Op::kStd, 1, 1, true},
    {"std_sample", Op::kStdSample, 1, 1, true},
    {"min", Op::kMin, 1, 1, true},
    {"max", Op::kMax, 1, 1, true},
    {"quantile", Op::kQuantile, 2, 2, true},
    {"ewma", Op::kEwma, 3, 3, true},
    {"first", Op::kFirst, 2, 2, true},
    {"last", Op::kLast, 2, 2, true},
    {"distinct", Op::kDistinct, 1, 1, true},
    {"range", Op::kRange, 2, 2, false},
};

bool numeric(Type t) { return t == Type::kInt64 || t == Type::kDouble || t == Type::kNull; }

class Parser {
 public:
  Parser(std::string_view text, const Scope& scope, Expr::Options options)
      : text_(text), scope_(scope), options_(options) {}

  Result<std::unique_ptr<Node>> parse(std::vector<int>& slots, bool& uses_arrays) {
    SLUICE_RETURN_IF_ERROR(lex());
    auto root = parse_or(0);
    if (!root.ok()) return root.status();
    if (peek().kind != Token::kEnd) return error(peek(), "unexpected '" + peek().text + "'");
    slots = std::move(slots_);
    uses_arrays = uses_arrays_;
    return root;
  }

 private:
  // ---- lexer
  Status lex() {
    std::size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      Token t;
      t.col = i + 1;
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          (c == '.' && i + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        std::size_t j = i;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '.' ||
                ((text_[j] == '+' || text_[j] == '-') && (text_[j - 1] == 'e' || text_[j - 1] == 'E')))) {
          ++j;
        }
        t.kind = Token::kNumber;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        std::size_t j = i;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_' ||
                (text_[j] == '.' && j + 1 < text_.size() &&
                 (std::isalpha(static_cast<unsigned char>(text_[j + 1])) || text_[j + 1] == '_')))) {
          ++j;
        }
        t.kind = Token::kName;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (c == '"' || c == '\'') {
        std::size_t j = i + 1;
        std::string s;
        while (j < text_.size() && text_[j] != c) {
          if (text_[j] == '\\' && j + 1 < text_.size()) ++j;
          s += text_[j++];
        }
        if (j >= text_.size())
          return Status::InvalidArgument("column " + std::to_string(t.col) + ": unterminated string");
        t.kind = Token::kString;
        t.text = std::move(s);
        i = j + 1;
      } else {
        static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "&&", "||"};
        t.kind = Token::kSymbol;
        std::string_view two = text_.substr(i, 2);
        if (std::find(std::begin(kTwo), std::end(kTwo), two) != std::end(kTwo)) {
          t.text = std::string(two);
          i += 2;
        } else if (std::string_view("+-*/%<>!(),").find(c) != std::string_view::npos) {
          t.text = std::string(1, c);
          ++i;
        } else {
          return Status::InvalidArgument("column " + std::to_string(t.col) + ": unexpected character '" +
                                         std::string(1, c) + "'");
        }
      }
      tokens_.push_back(std::move(t));
    }
    tokens_.push_back({Token::kEnd, "end of expression", text_.size() + 1});
    return Status();
  }

  const Token& peek() const { return tokens_[pos_]; }
  bool accept(std::string_view sym) {
    if (peek().kind == Token::kSymbol && peek().text == sym) {
      ++pos_;
      return true;
    }
    return false;
  }
  Status error(const Token& at, const std::string& what) const {
    return Status::InvalidArgument("column " + std::to_string(at.col) + ": " + what);
  }

  using R = Result<std::unique_ptr<Node>>;

  static std::unique_ptr<Node> make(Op op, Type type, std::unique_ptr<Node> a = nullptr,
                                    std::unique_ptr<Node> b = nullptr) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->type = type;
    if (a) n->args.push_back(std::move(a));
    if (b) n->args.push_back(std::move(b));
    return n;
  }

  // depth: aggregate nesting (element context inside an aggregate's arguments)
  R parse_or(int depth) {
    R l = parse_and(depth);
    while (l.ok()) {
      const Token& t = peek();
      if (!accept("||")) break;
      R r = parse_and(depth);
      if (!r.ok()) return r;
      SLUICE_RETURN_IF_ERROR(want_bool(t, **l, **r));
      l = make(Op::kOr, Type::kBool, std::move(*l), std::move(*r));
    }
    return l;
  }
  R parse_and(int depth) {
    R l = parse_cmp(depth);
    while (l.ok()) {
      const Token& t = peek();
      if (!accept("&&")) break;
      R r = parse_cmp(depth);
      if (!r.ok()) return r;
      SLUICE_RETURN_IF_ERROR(want_bool(t, **l, **r));
      l = make(Op::kAnd, Type::kBool, std::move(*l), std::move(*r));
    }
    return l;
  }
  Status want_bool(const Token& t, const Node& a, const Node& b) const {
    for (const Node* n : {&a, &b}) {
      if (n->type != Type::kBool && n->type != Type::kNull) {
        return error(t, "'" + t.text + "' needs bool operands, found " + std::string(type_name(n->type)));
      }
    }
    return Status();
  }
  R parse_cmp(int depth) {
    R l = parse_add(depth);
    if (!l.ok()) return l;
    static constexpr std::pair<std::string_view, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe}, {"<=", Op::kLe},
                                                               {">=", Op::kGe}, {"<", Op::kLt},  {">", Op::kGt}};
    for (auto [sym, op] : kOps) {
      const Token& t = peek();
      if (!accept(sym)) continue;
      R r = parse_add(depth);
      if (!r.ok()) return r;
      Type a = (*l)->type, b = (*r)->type;
      bool ok = a == Type::kNull || b == Type::kNull || (numeric(a) && numeric(b)) || a == b;
      if (!ok) return error(t, "cannot compare " + std::string(type_name(a)) + " with " + std::string(type_name(b)));
      return make(op, Type::kBool, std::move(*l), std::move(*r));
    }
    return l;
  }
  R parse_add(int depth) {
    R l = parse_mul(depth);
    while (l.ok()) {
      const Token& t = peek();
      Op op;
      if (accept("+"))
        op = Op::kAdd;
      else if (accept("-"))
        op = Op::kSub;
      else
        break;
      R r = parse_mul(depth);
      if (!r.ok()) return r;
      l = arith(t, op, std::move(*l), std::move(*r));
    }
    return l;
  }
  R parse_mul(int depth) {
    R l = parse_unary(depth);
    while (l.ok()) {
      const Token& t = peek();
      Op op;
      if (accept("*"))
        op = Op::kMul;
      else if (accept("/"))
        op = Op::kDiv;
      else if (accept("%"))
        op = Op::kMod;
      else
        break;
      R r = parse_unary(depth);
      if (!r.ok()) return r;
      l = arith(t, op, std::move(*l), std::move(*r));
    }
    return l;
  }
  R arith(const Token& t, Op op, std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
    if (!numeric(a->type) || !numeric(b->type)) {
      return error(t, "'" + t.text + "' needs numbers, found " + std::string(type_name(a->type)) + " and " +
                          std::string(type_name(b->type)));
    }
    Type type = (a->type == Type::kInt64 && b->type == Type::kInt64 && op != Op::kDiv) ? Type::kInt64 : Type::kDouble;
    return make(op, type, std::move(a), std::move(b));
  }
  R parse_unary(int depth) {
    const Token& t = peek();
    if (accept("-")) {
      R a = parse_unary(depth);
      if (!a.ok()) return a;
      if (!numeric((*a)->type)) return error(t, "'-' needs a number");
      Type type = (*a)->type;
      return make(Op::kNeg, type, std::move(*a));
    }
    if (accept("!")) {
      R a = parse_unary(depth);
      if (!a.ok()) return a;
      if ((*a)->type != Type::kBool && (*a)->type != Type::kNull) return error(t, "'!' needs a bool");
      return make(Op::kNot, Type::kBool, std::move(*a));
    }
    return parse_primary(depth);
  }

  R parse_primary(int depth) {
    Token t = peek();
    ++pos_;
    switch (t.kind) {
      case Token::kEnd:
        return error(t, "expected a value, found the end of the expression");
      case Token::kNumber: {
        Value v;
        bool is_int = t.text.find_first_of(".eE") == std::string::npos;
        if (!parse_value(t.text, is_int ? Type::kInt64 : Type::kDouble, v))
          return error(t, "bad number '" + t.text + "'");
        auto n = make(Op::kLiteral, v.type());
        n->literal = std::move(v);
        return n;
      }
      case Token::kString: {
        auto n = make(Op::kLiteral, Type::kString);
        n->literal = Value(t.text);
        return n;
      }
      case Token::kSymbol:
        if (t.text == "(") {
          R inner = parse_or(depth);
          if (!inner.ok()) return inner;
          if (!accept(")")) return error(peek(), "expected ')'");
          return inner;
        }
        return error(t, "unexpected '" + t.text + "'");
      case Token::kName:
        break;
    }
    if (t.text == "true" || t.text == "false") {
      auto n = make(Op::kLiteral, Type::kBool);
      n->literal = Value(t.text == "true");
      return n;
    }
    if (t.text == "null") return make(Op::kLiteral, Type::kNull);
    if (peek().kind == Token::kSymbol && peek().text == "(") return parse_call(t, depth);
    return resolve(t, depth);
  }

  R resolve(const Token& t, int depth) {
    if (const auto* s = scope_.scalar(t.text)) {
      auto n = make(Op::kScalar, s->second);
      n->slot = s->first;
      if (std::find(slots_.begin(), slots_.end(), s->first) == slots_.end()) slots_.push_back(s->first);
      return n;
    }
    // "array" or "array.field"
    std::string_view name = t.text;
    auto dot = name.rfind('.');
    if (const auto* a = scope_.array(name)) {
      if (depth == 0)
        return error(t, "'" + t.text + "' is an array: use it inside an aggregate such as count(" + t.text + ")");
      auto n = make(Op::kArray, Type::kNull);
      n->slot = a->index;
      return use_array(t, std::move(n));
    }
    if (dot != std::string_view::npos) {
      if (const auto* a = scope_.array(name.substr(0, dot))) {
        for (std::size_t f = 0; f < a->fields.size(); ++f) {
          if (a->fields[f].first != name.substr(dot + 1)) continue;
          if (depth == 0) {
            return error(t, "'" + t.text + "' is a field of array '" + std::string(name.substr(0, dot)) +
                                "': aggregate it, e.g. sum(" + t.text + ")");
          }
          auto n = make(Op::kElement, a->fields[f].second);
          n->slot = a->index;
          n->field = static_cast<int>(f);
          return use_array(t, std::move(n));
        }
      }
    }
    if (scope_.list(t.text)) {
      return error(t, "'" + t.text + "' is a list: only a step's for_each can use it (fanning out over its elements)");
    }
    std::string hint = scope_.suggest(t.text);
    return error(t, "unknown name '" + t.text + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }

  // Inside one aggregate, every element comes from the same array.
  R use_array(const Token& t, std::unique_ptr<Node> n) {
    uses_arrays_ = true;
    if (current_array_ >= 0 && current_array_ != n->slot) {
      return error(t, "an aggregate reads one array; '" + t.text + "' is from another");
    }
    current_array_ = n->slot;
    return n;
  }

  R parse_call(const Token& name, int depth) {
    const FunctionInfo* fn = nullptr;
    for (const auto& f : kFunctions) {
      if (f.name == name.text) fn = &f;
    }
    if (!fn) return error(name, "unknown function '" + name.text + "'");
    if (fn->op == Op::kRange && !(options_.allow_range && depth == 0 && pos_ == 1)) {
      return error(name, "range(a, b) is only allowed as a whole for_each value");
    }
    if (fn->aggregate && !options_.allow_aggregates)
      return error(name, "aggregate '" + name.text + "' is not allowed here");
    if (fn->aggregate && depth > 0) return error(name, "aggregates cannot be nested");
    accept("(");
    std::vector<std::unique_ptr<Node>> args;
    int saved_array = current_array_;
    if (fn->aggregate) current_array_ = -1;
    if (!accept(")")) {
      do {
        R a = parse_or(fn->aggregate ? depth + 1 : depth);
        if (!a.ok()) return a;
        args.push_back(std::move(*a));
      } while (accept(","));
      if (!accept(")")) return error(peek(), "expected ')' or ','");
    }
    int array = current_array_;
    if (fn->aggregate) current_array_ = saved_array;
    const int n = static_cast<int>(args.size());
    if (n < fn->min_args || n > fn->max_args) {
      return error(name, std::string(fn->name) + " takes " + std::to_string(fn->min_args) +
                             (fn->max_args != fn->min_args ? "-" + std::to_string(fn->max_args) : "") +
                             " argument(s), found " + std::to_string(n));
    }
    auto node = make(fn->op, Type::kNull);
    node->args = std::move(args);
    node->slot = array;
    SLUICE_RETURN_IF_ERROR(type_call(name, *fn, *node));
    return node;
  }

  Status type_call(const Token& t, const FunctionInfo& fn, Node& n) const {
    auto arg_type = [&](std::size_t i) { return n.args[i]->type; };
    auto need_numeric = [&](std::size_t i) -> Status {
      if (!numeric(arg_type(i))) {
        return error(t, std::string(fn.name) + ": argument " + std::to_string(i + 1) + " must be a number, found " +
                            std::string(type_name(arg_type(i))));
      }
      return Status();
    };
    auto need_bool = [&](std::size_t i) -> Status {
      if (arg_type(i) != Type::kBool) {
        return error(t, std::string(fn.name) + ": argument " + std::to_string(i + 1) + " must be a condition");
      }
      return Status();
    };
    auto need_literal = [&](std::size_t i) -> Status {
      if (n.args[i]->op != Op::kLiteral || !n.args[i]->literal.is_numeric()) {
        return error(t, std::string(fn.name) + ": argument " + std::to_string(i + 1) + " must be a number literal");
      }
      return Status();
    };
    if (fn.aggregate && n.slot < 0) {
      return error(t, std::string(fn.name) + " aggregates an array: name one of its fields, e.g. " +
                          std::string(fn.name) + "(events.v)");
    }
    if (fn.aggregate && n.args[0]->op == Op::kArray && fn.op != Op::kCount) {
      return error(t, std::string(fn.name) + ": name a field of the array, not the array");
    }
    Status s;
    switch (fn.op) {
      case Op::kAbs:
      case Op::kRound:
      case Op::kFloor:
      case Op::kCeil:
        SLUICE_RETURN_IF_ERROR(need_numeric(0));
        n.type = fn.op == Op::kAbs ? arg_type(0) : Type::kDouble;
        if (fn.op != Op::kAbs && arg_type(0) == Type::kInt64) n.type = Type::kInt64;
        return s;
      case Op::kSqrt:
      case Op::kLog:
      case Op::kExp:
        n.type = Type::kDouble;
        return need_numeric(0);
      case Op::kCoalesce: {
        Type a = arg_type(0), b = arg_type(1);
        if (a != b && !(numeric(a) && numeric(b)) && a != Type::kNull && b != Type::kNull) {
          return error(t, "coalesce: both arguments must have one type");
        }
        n.type = a == b ? a : (a == Type::kNull ? b : (b == Type::kNull ? a : Type::kDouble));
        return s;
      }
      case Op::kCount:
        n.type = Type::kInt64;
        return s;
      case Op::kCountIf:
        n.type = Type::kInt64;
        return need_bool(0);
      case Op::kDistinct:
        n.type = Type::kInt64;
        return s;
      case Op::kSum:
        n.type = arg_type(0) == Type::kInt64 ? Type::kInt64 : Type::kDouble;
        return need_numeric(0);
      case Op::kSumIf:
        n.type = arg_type(0) == Type::kInt64 ? Type::kInt64 : Type::kDouble;
        SLUICE_RETURN_IF_ERROR(need_numeric(0));
        return need_bool(1);
      case Op::kMean:
      case Op::kStd:
      case Op::kStdSample:
        n.type = Type::kDouble;
        return need_numeric(0);
      case Op::kMin:
      case Op::kMax:
        n.type = arg_type(0);
        return s;
      case Op::kQuantile:
        n.type = arg_type(0);
        SLUICE_RETURN_IF_ERROR(need_numeric(0));
        SLUICE_RETURN_IF_ERROR(need_literal(1));
        if (double q = n.args[1]->literal.as_double(); !(q >= 0 && q <= 1))
          return error(t, "quantile: q must be in [0, 1]");
        return s;
      case Op::kEwma:
        n.type = Type::kDouble;
        SLUICE_RETURN_IF_ERROR(need_numeric(0));
        SLUICE_RETURN_IF_ERROR(need_literal(1));
        if (double a = n.args[1]->literal.as_double(); !(a > 0 && a <= 1))
          return error(t, "ewma: alpha must be in (0, 1]");
        return s;
      case Op::kFirst:
      case Op::kLast:
        n.type = arg_type(0);
        return s;
      case Op::kRange:
        n.type = Type::kInt64;
        SLUICE_RETURN_IF_ERROR(need_numeric(0));
        return need_numeric(1);
      default:
        return s;
    }
  }

  std::string_view text_;
  const Scope& scope_;
  Expr::Options options_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  std::vector<int> slots_;
  bool uses_arrays_ = false;
  int current_array_ = -1;
};

// ---- evaluation --------------------------------------------------------------

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

Expr::Expr() = default;
Expr::Expr(Expr&&) noexcept = default;
Expr& Expr::operator=(Expr&&) noexcept = default;
Expr::~Expr() = default;

Result<Expr> Expr::compile(std::string_view text, const Scope& scope, Options options) {
  Parser p(text, scope, options);
  Expr e;
  auto root = p.parse(e.slots_, e.uses_arrays_);
  if (!root.ok()) return root.status();
  e.root_ = std::move(*root);
  e.text_ = std::string(text);
  return e;
}

Type Expr::type() const { return root_ ? root_->type : Type::kNull; }
bool Expr::is_range() const { return root_ && root_->op == Op::kRange; }

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
