//===- CustomGradTest.cpp - Defs that state their derivative (grad) -------===//
//
// A def with `grad` is its body's value, differentiated by the stated partials (with_partial, Ops.def). Here:
// compiled code gives the interpreter's numbers bit for bit, forward, gradient and a gradient of the gradient (the
// Hessian, whose graph holds with_partial where it is differentiated again), at ordinary points and at overflow,
// infinities and NaN; the Hessian and forward mode agree with the stated derivatives; and compiled forward code
// does not compute the partials.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"
#include "bp/Simplify.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

// softplus stated as sigmoid; f(u, v) = u * v stated as (v, u), called with both arguments a; sq(V) = sum(V^2)
// stated elementwise as 2 V; g(u, W) a scalar of a scalar and a matrix, its scalar partial by W broadcast.
const char *const CustomGradScript = R"(def my_softplus(t) = log(1 + exp(t)) grad sigmoid(t)
def f(u, v) = u * v grad v, u
def sq(u) = sum(u^2) grad 2 * u
def g(u, w) = u * sum(w) grad sum(w), u
input x = 1
param a = 2
input V[3] = [1, -2, 0.5]
param W[2,2] = [[1, 2], [3, 4]]
node y = my_softplus(x) * f(a, a)
node q = sq(V * x) + g(a, W * V[0])
output y, q
)";

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<std::vector<double>> points() {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::vector<double>> result;
  for (double x : {1.0, -0.0, 1000.0, -1000.0, inf, nan})
    result.push_back({x, 1, -2, 0.5, -1.5, 1, 2, 3, 4}); // x, V, then the params a, W
  result.push_back({0.25, nan, 1, inf, -0.0, 1, -2, 3, 0});
  return result;
}

/// Every element of `expected` (the interpreter's) and `actual` (compiled) the same double, NaN with NaN.
void expectSame(const std::vector<double> &expected, const double *actual, const std::string &what) {
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(sameValue(actual[i], expected[i])) << what << " element " << i << ": " << actual[i] << " vs "
                                                   << expected[i];
}

} // namespace

TEST(CustomGrad, CompiledCodeGivesTheInterpretersNumbers) {
  Graph graph = compileOrFail(CustomGradScript);
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  for (unsigned optLevel : {0u, 2u}) {
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
    ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
    for (const std::vector<double> &in : points()) {
      Jacobian expected = evaluateGradient(*gradient, in);
      std::vector<double> out(expected.out.size()), outFromGradient(out.size()), grad(expected.grad.size());
      (*model)->forward(in.data(), out.data());
      (*model)->gradient(in.data(), outFromGradient.data(), grad.data());
      std::string what = "-O" + std::to_string(optLevel) + " at x=" + std::to_string(in[0]);
      expectSame(expected.out, out.data(), what + " forward");
      expectSame(expected.out, outFromGradient.data(), what + " gradient's out");
      expectSame(expected.grad, grad.data(), what + " grad");
    }
  }
}

TEST(CustomGrad, TheGradientUsesTheStatedPartials) {
  Graph graph = compileOrFail(CustomGradScript);
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  // At x = 1000 the body overflows (y = inf) and its own derivative would be inf / inf; sigmoid gives 1.
  std::vector<double> in = {1000, 1, -2, 0.5, 3, 1, 2, 3, 4}; // x, V, then the params a, W
  Jacobian result = evaluateGradient(*gradient, in);
  size_t width = in.size();
  EXPECT_EQ(result.out[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(result.grad[0], 9.0); // dy/dx = sigmoid(1000) * a^2
  // dq/dV = 2 (V x) x, and at V[0] also sum(W) a (g's partial by u, sum(w), through w = W * V[0]); dq/dx =
  // 2 x sum(V^2); dq/da = sum(W) V[0]; dq/dW = a V[0] for every element (g's scalar partial by w, u, broadcast).
  EXPECT_EQ(result.out[1], 1e6 * 5.25 + 30);
  EXPECT_EQ(result.grad[width + 0], 2000 * 5.25);
  EXPECT_EQ(result.grad[width + 1], 2e6 + 30);
  EXPECT_EQ(result.grad[width + 2], -4e6);
  EXPECT_EQ(result.grad[width + 3], 1e6);
  EXPECT_EQ(result.grad[width + 4], 10.0);
  for (size_t i = 5; i < 9; ++i)
    EXPECT_EQ(result.grad[width + i], 3.0) << "dq/dW element " << i - 5;
}

TEST(CustomGrad, SecondDerivativesDifferentiateThePartials) {
  Graph graph = compileOrFail("def my_softplus(t) = log(1 + exp(t)) grad sigmoid(t)\ninput x\nnode y = my_softplus(x)\n"
                              "output y\n");
  auto hessian = buildHessianGraph(graph, 0, {0});
  ASSERT_TRUE(bool(hessian)) << llvm::toString(hessian.takeError());
  // The same second derivative compiled: the gradient graph, its gradient as outputs, differentiated again.
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  Graph outer = std::move(gradient->graph);
  outer.keepOnlyOutput(0);
  outer.addOutput("dy/dx", gradient->sweeps[0].gradient[0], {1, 1});
  auto model = CompiledModel::create(outer, CompiledModel::ForwardAndGradient, 2, GradientSelection{{1}, {0}});
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  for (double x : {-3.0, 0.0, 1.0, 40.0, 1000.0}) {
    Jacobian result = evaluateGradient(*hessian, {x});
    double s = sigmoid(x);
    EXPECT_NEAR(result.grad[0], s * (1 - s), 1e-15) << "at " << x;
    double out[2], grad[1];
    (*model)->gradient(&x, out, grad);
    EXPECT_TRUE(sameValue(grad[0], result.grad[0])) << "compiled at " << x;
  }
}

TEST(CustomGrad, ForwardModeIsTheStatedJacobianTimesTheTangent) {
  Graph graph = compileOrFail(CustomGradScript);
  auto tangentGraph = buildTangentGraph(graph);
  ASSERT_TRUE(bool(tangentGraph)) << llvm::toString(tangentGraph.takeError());
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  std::vector<double> in = {0.5, 1, -2, 0.5, 1.5, 1, 2, 3, 4};
  std::vector<double> tangent = {1, 0.5, -1, 2, -0.25, 1, 0, -1, 3};
  std::vector<std::vector<double>> jvps = evaluateTangents(*tangentGraph, in, tangent);
  Jacobian jacobian = evaluateGradient(*gradient, in);
  for (size_t row = 0; row < 2; ++row) {
    double expected = 0;
    for (size_t i = 0; i < in.size(); ++i)
      expected += jacobian.grad[row * in.size() + i] * tangent[i];
    EXPECT_NEAR(jvps[row][0], expected, 1e-12 * std::max(1.0, std::fabs(expected))) << "output " << row;
  }
}

TEST(CustomGrad, ForwardCodeDoesNotComputeThePartials) {
  // What the compiled forward function computes: the simplified graph, without with_partial and without the
  // partials (sigmoid), which only the gradient needs.
  Graph graph = compileOrFail("def my_softplus(t) = log(1 + exp(t)) grad sigmoid(t)\ninput x\nnode y = my_softplus(x)\n"
                              "output y\n");
  std::vector<NodeId> roots = {graph.outputs()[0].node};
  Graph simplified = simplifyGraph(graph, roots);
  for (NodeId id = 0; id < simplified.size(); ++id) {
    EXPECT_NE(simplified.node(id).op, OpKind::WithPartial);
    EXPECT_NE(simplified.node(id).op, OpKind::Sigmoid);
  }
  EXPECT_EQ(simplified.node(roots[0]).op, OpKind::Log);
}
