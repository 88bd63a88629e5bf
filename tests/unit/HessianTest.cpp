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
#include "OpCases.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace bp;
using bp::test::applyToTestInputs;
using bp::test::attrsToTry;
using bp::test::domain;
using bp::test::scriptWritable;

namespace {

/// l = sum(sin(op(x, y))) with x of [2,3] and y of [3] ([3,2] for @): applyToTestInputs.
Graph opGraph(OpKind op, llvm::ArrayRef<int64_t> attrs) {
  Graph graph;
  SourceLoc loc{1, 1};
  NodeId sine = llvm::cantFail(graph.addOp(OpKind::Sin, {applyToTestInputs(graph, op, attrs)}, loc));
  graph.addOutput("l", llvm::cantFail(graph.addOp(OpKind::Sum, {sine}, loc)), loc);
  return graph;
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
  // + - * / ^, unary -, the 15 builtins, the 6 comparisons, where, stop_gradient; @, sum, mean, max, min,
  // softmax, log_softmax, logsumexp, transpose, argmax, indexing (literal and at run time)
  EXPECT_GE(checked, 41u);
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
