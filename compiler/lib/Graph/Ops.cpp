//===- Ops.cpp - Every operation's name, spelling, arity and syntax -------===//
//
// The IR's column of the op table: how each operation of Ops.def is named, written and printed. What the ops
// compute is the interpreter's (Interpreter.cpp), how they differentiate autodiff's (DerivativeRules.cpp), and
// how they lower codegen's (Lowering.cpp).
//
//===----------------------------------------------------------------------===//
#include "bp/Ops.h"

#include "llvm/ADT/StringMap.h"

#include <iterator>

using namespace bp;

namespace {

constexpr OpInfo opTable[] = {
    // kind, name, spelling, arity, syntax, precedence
    {OpKind::Input, "input", "input", 0, Syntax::Leaf, 5},
    {OpKind::Param, "param", "param", 0, Syntax::Leaf, 5},
    {OpKind::Const, "const", "const", 0, Syntax::Leaf, 5},

    {OpKind::Add, "add", "+", 2, Syntax::Infix, 1},
    {OpKind::Sub, "sub", "-", 2, Syntax::Infix, 1},
    {OpKind::Mul, "mul", "*", 2, Syntax::Infix, 2},
    {OpKind::Div, "div", "/", 2, Syntax::Infix, 2},
    {OpKind::Neg, "neg", "-", 1, Syntax::Prefix, 3},
    {OpKind::Pow, "pow", "^", 2, Syntax::Infix, 4},

    {OpKind::Exp, "exp", "exp", 1, Syntax::Call, 5},
    {OpKind::Expm1, "expm1", "expm1", 1, Syntax::Call, 5},
    {OpKind::Log, "log", "log", 1, Syntax::Call, 5},
    {OpKind::Log1p, "log1p", "log1p", 1, Syntax::Call, 5},
    {OpKind::Sqrt, "sqrt", "sqrt", 1, Syntax::Call, 5},
    {OpKind::Sin, "sin", "sin", 1, Syntax::Call, 5},
    {OpKind::Cos, "cos", "cos", 1, Syntax::Call, 5},
    {OpKind::Tan, "tan", "tan", 1, Syntax::Call, 5},
    {OpKind::Tanh, "tanh", "tanh", 1, Syntax::Call, 5},
    {OpKind::Sigmoid, "sigmoid", "sigmoid", 1, Syntax::Call, 5},
    {OpKind::Softplus, "softplus", "softplus", 1, Syntax::Call, 5},
    {OpKind::Relu, "relu", "relu", 1, Syntax::Call, 5},
    {OpKind::Abs, "abs", "abs", 1, Syntax::Call, 5},
    {OpKind::Max, "max", "max", 2, Syntax::Call, 5},
    {OpKind::Min, "min", "min", 2, Syntax::Call, 5},

    {OpKind::Less, "less", "<", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::LessEqual, "less_equal", "<=", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::Greater, "greater", ">", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::GreaterEqual, "greater_equal", ">=", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::Equal, "equal", "==", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::NotEqual, "not_equal", "!=", 2, Syntax::Infix, ComparisonPrecedence},
    {OpKind::Where, "where", "where", 3, Syntax::Call, 5},
    {OpKind::StopGradient, "stop_gradient", "stop_gradient", 1, Syntax::Call, 5},

    {OpKind::MatMul, "matmul", "@", 2, Syntax::Infix, 2},
    {OpKind::Sum, "sum", "sum", 1, Syntax::Call, 5},
    {OpKind::Mean, "mean", "mean", 1, Syntax::Call, 5},
    {OpKind::ReduceMax, "reduce_max", "max", 1, Syntax::Call, 5}, // max(x), after max(x, y) so lookups find that
    {OpKind::ReduceMin, "reduce_min", "min", 1, Syntax::Call, 5},
    {OpKind::Softmax, "softmax", "softmax", 1, Syntax::Call, 5},
    {OpKind::LogSoftmax, "log_softmax", "log_softmax", 1, Syntax::Call, 5},
    {OpKind::LogSumExp, "logsumexp", "logsumexp", 1, Syntax::Call, 5},
    {OpKind::Transpose, "transpose", "transpose", 1, Syntax::Call, 5},
    {OpKind::Argmax, "argmax", "argmax", 1, Syntax::Call, 5},
    {OpKind::Index, "index", "[]", 1, Syntax::Index, 5},
    {OpKind::DynamicIndex, "dynamic_index", "[]", 2, Syntax::Index, 5},

    {OpKind::Step, "step", "step", 1, Syntax::Internal, 5},
    {OpKind::Sign, "sign", "sign", 1, Syntax::Internal, 5},
    {OpKind::GreaterEq, "ge", "ge", 2, Syntax::Internal, 5},
    {OpKind::LessEq, "le", "le", 2, Syntax::Internal, 5},
    {OpKind::DMul, "dmul", "*", 2, Syntax::InternalInfix, 2},

    {OpKind::SumTo, "sum_to", "sum_to", 1, Syntax::Internal, 5},
    {OpKind::BroadcastTo, "broadcast_to", "broadcast_to", 1, Syntax::Internal, 5},
    {OpKind::Reshape, "reshape", "reshape", 1, Syntax::Internal, 5},
    {OpKind::IndexGrad, "index_grad", "index_grad", 1, Syntax::Internal, 5},
    {OpKind::DynamicIndexGrad, "dynamic_index_grad", "dynamic_index_grad", 2, Syntax::Internal, 5},
    {OpKind::ArgmaxMask, "argmax_mask", "argmax_mask", 1, Syntax::Internal, 5},

    {OpKind::WithPartial, "with_partial", "with_partial", 3, Syntax::Internal, 5},
};

// The table checks itself: one row per line of Ops.def, in its order, with its arity.
constexpr unsigned opsDefArity[] = {
#define BP_OP(Kind, name, arity) arity,
#include "bp/Ops.def"
};
static_assert(std::size(opTable) == NumOps, "opTable needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(opTable), "opTable rows must follow the order of Ops.def");
constexpr bool aritiesFollowOpsDef() {
  for (size_t i = 0; i < NumOps; ++i)
    if (opTable[i].arity != opsDefArity[i])
      return false;
  return true;
}
static_assert(aritiesFollowOpsDef(), "opTable rows must have the arities of Ops.def");

} // namespace

const OpInfo &bp::getOpInfo(OpKind kind) {
  return opTable[static_cast<size_t>(kind)];
}

bool bp::isTensorOp(OpKind kind) {
  return (kind >= OpKind::MatMul && kind <= OpKind::DynamicIndex) || kind >= OpKind::SumTo;
}

bool bp::takesAxis(OpKind kind) {
  switch (kind) {
  case OpKind::Sum:
  case OpKind::Mean:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
  case OpKind::LogSumExp:
  case OpKind::Argmax:
  case OpKind::ArgmaxMask:
    return true;
  default:
    return false;
  }
}

bool bp::keepsShape(OpKind kind) {
  return kind == OpKind::Softmax || kind == OpKind::LogSoftmax || kind == OpKind::ArgmaxMask;
}

std::optional<OpKind> bp::lookupBuiltin(std::string_view name) {
  // The graph builder asks for every name it meets, several times: a map, built once.
  static const llvm::StringMap<OpKind> builtins = [] {
    llvm::StringMap<OpKind> map;
    map.try_emplace("pow", OpKind::Pow); // the one builtin that is also an operator: pow(x, y) is x ^ y
    for (const OpInfo &info : opTable)
      if (info.syntax == Syntax::Call)
        map.try_emplace(info.spelling, info.kind);
    return map;
  }();
  auto found = builtins.find(llvm::StringRef(name.data(), name.size()));
  if (found == builtins.end())
    return std::nullopt;
  return found->second;
}

bool bp::isReservedWord(std::string_view name) {
  static const char *const keywords[] = {"input", "param", "node", "output", "def", "grad"};
  for (const char *keyword : keywords)
    if (name == keyword)
      return true;
  return lookupBuiltin(name).has_value();
}
