//===- HessianTest.cpp - Second derivatives, reverse over reverse, for every op a script can write -===//
//
// For each op of the op table that a script can write (internal ops are reached through the gradient graphs of
// these), l = sum(sin(op(x, ...))), x of shape [2,3]: its Hessian (buildHessianGraph) against central differences
// of its gradient (evaluateGradient) at random points, to 1e-6 relative, and symmetric (to rounding: the two
// orders add their terms differently). The second operand y has shape [3], so that elementwise ops broadcast
// it and gradients sum back (sum_to, whose derivative is broadcast_to); reductions and the softmax family are
// checked over every element and along each axis, and @ on y of [3,2].
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace bp;

namespace {

/// The ops a script can write: not leaves, not the internal ops of gradient graphs.
bool scriptWritable(const OpInfo &info) {
  return info.syntax != Syntax::Leaf && info.syntax != Syntax::Internal && info.syntax != Syntax::InternalInfix;
}

/// Where the op's second derivative is smooth at random points: away from poles and the negative reals for
/// the ops that need positive operands (kinks and jumps are hit with probability about 1e-6).
std::uniform_real_distribution<double> domain(OpKind op) {
  bool positive = op == OpKind::Div || op == OpKind::Pow || op == OpKind::Log || op == OpKind::Sqrt;
  return positive ? std::uniform_real_distribution<double>(0.5, 1.4) : std::uniform_real_distribution<double>(-1.4, 1.4);
}

/// l = sum(sin(op(x, y))) with x of [2,3] and y of [3] ([3,2] for @); the index of dynamic indexing is the
/// constant 1 (its derivative is 0 by definition, and beside an integer it is not a valid index).
Graph opGraph(OpKind op, llvm::ArrayRef<int64_t> attrs) {
  Graph graph;
  SourceLoc loc{1, 1};
  NodeId x = graph.addTensorArgument(OpKind::Input, "x", loc, {2, 3}, std::vector<double>(6, 0.0));
  std::vector<NodeId> operands = {x};
  unsigned arity = getOpInfo(op).arity;
  if (op == OpKind::DynamicIndex) {
    operands.push_back(graph.addConstant(1, loc));
  } else if (arity >= 2) {
    Shape shape = op == OpKind::MatMul ? Shape{3, 2} : Shape{3};
    NodeId y = graph.addTensorArgument(OpKind::Input, "y", loc, shape, std::vector<double>(elementCount(shape), 0.0));
    operands.push_back(y);
    if (arity == 3) // where(x > y, x * y, y - x)
      operands = {llvm::cantFail(graph.addOp(OpKind::Greater, {x, y}, loc)),
                  llvm::cantFail(graph.addOp(OpKind::Mul, {x, y}, loc)),
                  llvm::cantFail(graph.addOp(OpKind::Sub, {y, x}, loc))};
  }
  NodeId result = llvm::cantFail(graph.addOp(op, operands, loc, attrs));
  NodeId sine = llvm::cantFail(graph.addOp(OpKind::Sin, {result}, loc));
  graph.addOutput("l", llvm::cantFail(graph.addOp(OpKind::Sum, {sine}, loc)), loc);
  return graph;
}

/// Each op's attrs to try: none, and each axis of x for the ops that take one; x[1] for indexing.
std::vector<std::vector<int64_t>> attrsToTry(OpKind op) {
  if (op == OpKind::Index)
    return {{0, 1, 2}};
  if (op == OpKind::DynamicIndex)
    return {{0}, {1}};
  if (takesAxis(op))
    return {{}, {0}, {1}};
  return {{}};
}

} // namespace

TEST(Hessian, EveryScriptOpHasTheDerivativeOfItsGradient) {
  std::mt19937 random(2026);
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!scriptWritable(info))
      continue;
    for (const std::vector<int64_t> &attrs : attrsToTry(info.kind)) {
      std::string what = std::string(info.name) + (attrs.empty() ? "" : " attrs " + std::to_string(attrs[0]));
      Graph graph = opGraph(info.kind, attrs);
      std::vector<size_t> arguments;
      for (size_t a = 0; a < graph.arguments().size(); ++a)
        arguments.push_back(a);
      auto gradient = buildGradientGraph(graph);
      ASSERT_TRUE(bool(gradient)) << what << ": " << llvm::toString(gradient.takeError());
      auto hessianGraph = buildHessianGraph(graph, 0, arguments);
      ASSERT_TRUE(bool(hessianGraph)) << what << ": " << llvm::toString(hessianGraph.takeError());
      size_t n = graph.argumentOffsets().back();
      auto draw = domain(info.kind);
      for (int point = 0; point < 3; ++point) {
        std::vector<double> in(n);
        for (double &value : in)
          value = draw(random);
        std::vector<double> hessian = evaluateGradient(*hessianGraph, in).grad;
        ASSERT_EQ(hessian.size(), n * n) << what;
        for (size_t i = 0; i < n; ++i) {
          double h = 1e-6 * std::max(1.0, std::fabs(in[i]));
          std::vector<double> plus = in, minus = in;
          plus[i] += h;
          minus[i] -= h;
          std::vector<double> up = evaluateGradient(*gradient, plus).grad,
                              down = evaluateGradient(*gradient, minus).grad;
          for (size_t j = 0; j < n; ++j) {
            double numeric = (up[j] - down[j]) / (plus[i] - minus[i]), analytic = hessian[i * n + j];
            EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric)))
                << what << ": d2l / d in[" << i << "] d in[" << j << "]";
            EXPECT_NEAR(analytic, hessian[j * n + i], 1e-12 * std::max(1.0, std::fabs(analytic)))
                << what << ": not symmetric at " << i << ", " << j;
          }
        }
      }
    }
    ++checked;
  }
  // + - * / ^, unary -, the 12 builtins, the 6 comparisons, where, stop_gradient; @, sum, mean, max, min,
  // softmax, log_softmax, logsumexp, transpose, argmax, indexing (literal and at run time)
  EXPECT_GE(checked, 38u);
}

TEST(Hessian, TheRosenbrockFunction) {
  // f = (1 - x)^2 + 100 (y - x^2)^2 at (-1.2, 1): gradient [-215.6, -88], Hessian [[1330, 480], [480, 200]].
  Graph graph;
  SourceLoc loc{1, 1};
  NodeId x = graph.addArgument(OpKind::Input, "x", loc, -1.2), y = graph.addArgument(OpKind::Input, "y", loc, 1.0);
  auto op = [&](OpKind kind, NodeId a, NodeId b) { return graph.addNode(kind, {a, b}, loc); };
  NodeId one = graph.addConstant(1, loc), two = graph.addConstant(2, loc), hundred = graph.addConstant(100, loc);
  NodeId f = op(OpKind::Add, op(OpKind::Pow, op(OpKind::Sub, one, x), two),
                op(OpKind::Mul, hundred, op(OpKind::Pow, op(OpKind::Sub, y, op(OpKind::Pow, x, two)), two)));
  graph.addOutput("f", f, loc);
  auto hessianGraph = buildHessianGraph(graph, 0, {0, 1});
  ASSERT_TRUE(bool(hessianGraph)) << llvm::toString(hessianGraph.takeError());
  Jacobian result = evaluateGradient(*hessianGraph, {-1.2, 1});
  // out: f, then its gradient (the outputs of the graph differentiated again)
  ASSERT_EQ(result.out.size(), 3u);
  std::vector<double> gradient = {-215.6, -88}, hessian = {1330, 480, 480, 200};
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(result.out[1 + i], gradient[i], 1e-12 * std::fabs(gradient[i]));
  ASSERT_EQ(result.grad.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_NEAR(result.grad[i], hessian[i], 1e-12 * std::fabs(hessian[i]));
}
