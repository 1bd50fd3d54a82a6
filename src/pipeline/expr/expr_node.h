// The compiled form of an expression: a tree of typed nodes, made by the
// parser (expr_parse.cc) and walked by the evaluator (expr_eval.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/data/value.h"

namespace sluice::pipeline {

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

}  // namespace sluice::pipeline
