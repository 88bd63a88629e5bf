//===- Interpreter.cpp - Every operation's forward rule on doubles --------===//
//
// The interpreter's column of the op table: one forward rule per operation of Ops.def, the reference
// semantics that `bpc explain` prints, Simplify folds constants with, and generated code (Lowering.cpp)
// reproduces bit for bit.
// NaN: every arithmetic op propagates it; max and min return NaN when either argument is NaN (as NumPy's maximum
// does). Comparisons give 1 or 0 as IEEE 754 compares, NaN included: every comparison with NaN is 0 but `!=`,
// which is 1 (so `x == x` tests for NaN). where(c, a, b) picks a where c != 0, so a NaN c picks a (as NumPy's
// where does), and a NaN in the branch not taken does not come out.
// dmul is `a * b` except that 0 * inf and 0 * NaN (either order) give 0.
//
//===----------------------------------------------------------------------===//
#include "bp/Interpreter.h"

#include "llvm/Support/ErrorHandling.h"

#include <cassert>
#include <cmath>
#include <iterator>

using namespace bp;

namespace {

// Leaves have no forward rule of their own: their values come from outside.
double leafValue(const double *) { llvm_unreachable("leaves are not evaluated by rule"); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// relu passes NaN through (`x > 0` is false for NaN, so test "not x <= 0").
double relu(double x) { return !(x <= 0) ? x : 0.0; }
// Whether max(x, y) (greaterEq) or min(x, y) (lessEq) returns x: on ties, and when x is NaN; when y is NaN
// they return y, so NaN in either argument comes out.
double greaterEq(double x, double y) { return !(x < y) && y == y ? 1.0 : 0.0; }
double lessEq(double x, double y) { return !(x > y) && y == y ? 1.0 : 0.0; }
double indicator(bool holds) { return holds ? 1.0 : 0.0; }
double sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }
// The chain rule's product where a factor may be a branch not taken: a * b, except that 0 * inf and 0 * NaN
// (in either order) give 0.
double dmul(double a, double b) {
  double product = a * b;
  return product != product && (a == 0 || b == 0) ? 0.0 : product;
}

struct ForwardRule {
  OpKind kind;
  double (*evaluate)(const double *operands);
};

constexpr ForwardRule forwardRules[] = {
    {OpKind::Input, leafValue},
    {OpKind::Param, leafValue},
    {OpKind::Const, leafValue},

    {OpKind::Add, [](const double *x) { return x[0] + x[1]; }},
    {OpKind::Sub, [](const double *x) { return x[0] - x[1]; }},
    {OpKind::Mul, [](const double *x) { return x[0] * x[1]; }},
    {OpKind::Div, [](const double *x) { return x[0] / x[1]; }},
    {OpKind::Neg, [](const double *x) { return -x[0]; }},
    {OpKind::Pow, [](const double *x) { return std::pow(x[0], x[1]); }},

    {OpKind::Exp, [](const double *x) { return std::exp(x[0]); }},
    {OpKind::Log, [](const double *x) { return std::log(x[0]); }},
    {OpKind::Sqrt, [](const double *x) { return std::sqrt(x[0]); }},
    {OpKind::Sin, [](const double *x) { return std::sin(x[0]); }},
    {OpKind::Cos, [](const double *x) { return std::cos(x[0]); }},
    {OpKind::Tan, [](const double *x) { return std::tan(x[0]); }},
    {OpKind::Tanh, [](const double *x) { return std::tanh(x[0]); }},
    {OpKind::Sigmoid, [](const double *x) { return sigmoid(x[0]); }},
    {OpKind::Relu, [](const double *x) { return relu(x[0]); }},
    {OpKind::Abs, [](const double *x) { return std::fabs(x[0]); }},
    {OpKind::Max, [](const double *x) { return greaterEq(x[0], x[1]) != 0 ? x[0] : x[1]; }},
    {OpKind::Min, [](const double *x) { return lessEq(x[0], x[1]) != 0 ? x[0] : x[1]; }},

    {OpKind::Less, [](const double *x) { return indicator(x[0] < x[1]); }},
    {OpKind::LessEqual, [](const double *x) { return indicator(x[0] <= x[1]); }},
    {OpKind::Greater, [](const double *x) { return indicator(x[0] > x[1]); }},
    {OpKind::GreaterEqual, [](const double *x) { return indicator(x[0] >= x[1]); }},
    {OpKind::Equal, [](const double *x) { return indicator(x[0] == x[1]); }},
    {OpKind::NotEqual, [](const double *x) { return indicator(x[0] != x[1]); }},
    {OpKind::Where, [](const double *x) { return x[0] != 0 ? x[1] : x[2]; }},

    {OpKind::Step, [](const double *x) { return x[0] > 0 ? 1.0 : 0.0; }},
    {OpKind::Sign, [](const double *x) { return sign(x[0]); }},
    {OpKind::GreaterEq, [](const double *x) { return greaterEq(x[0], x[1]); }},
    {OpKind::LessEq, [](const double *x) { return lessEq(x[0], x[1]); }},
    {OpKind::DMul, [](const double *x) { return dmul(x[0], x[1]); }},
};
static_assert(std::size(forwardRules) == NumOps, "forwardRules needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(forwardRules), "forwardRules rows must follow the order of Ops.def");

} // namespace

double bp::evaluateOp(OpKind op, const double *operands) {
  return forwardRules[static_cast<size_t>(op)].evaluate(operands);
}

std::vector<double> bp::evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues) {
  std::vector<NodeId> arguments = graph.arguments();
  assert(arguments.size() == argumentValues.size() && "one value per argument");
  std::vector<double> values(graph.size());
  for (size_t i = 0; i < arguments.size(); ++i)
    values[arguments[i]] = argumentValues[i];
  double operands[MaxArity];
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (node.op == OpKind::Input || node.op == OpKind::Param)
      continue;
    if (node.op == OpKind::Const) {
      values[id] = node.value;
      continue;
    }
    for (size_t i = 0; i < node.operands.size(); ++i)
      operands[i] = values[node.operands[i]];
    values[id] = evaluateOp(node.op, operands);
  }
  return values;
}
