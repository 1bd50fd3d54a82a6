// Expressions compiled: the lexer, the recursive-descent parser, the table
// of functions, and the type check that resolves every name in its scope.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "pipeline/expr/expr.h"
#include "pipeline/expr/expr_node.h"

namespace sluice::pipeline {

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

}  // namespace sluice::pipeline
