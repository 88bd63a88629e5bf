//===- ForwardModeTest.cpp - Forward mode against the reverse-mode Jacobian -===//
//
// For every op a script can write (the op table iterated, so an op added to Ops.def is checked without anyone
// listing it), the tangent graph's J t (buildTangentGraph, evaluateTangents) equals the Jacobian of reverse mode
// (buildGradientGraph, evaluateGradient) times the same random tangent t, to 1e-12 relative: on scalar operands,
// and on tensor operands (elementwise ops broadcasting a [3] against a [2,3]; the tensor ops over every element
// and over each axis), for a tensor output and a scalar one of it.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include <cmath>
#include <random>

using namespace bp;

namespace {

bool scriptCanWrite(const OpInfo &info) {
  return info.syntax != Syntax::Leaf && info.syntax != Syntax::Internal && info.syntax != Syntax::InternalInfix;
}

/// `op` on inputs x, y (and a run-time index i), the result and sum(sin(result)) the outputs, with the
/// arguments' values: x of `xShape`, y of `yShape`, every element in [0.5, 2] (inside every op's domain, away
/// from kinks: max and min, the comparisons and where see distinct values).
struct OpGraph {
  Graph graph;
  std::vector<double> in;
};
OpGraph opGraph(OpKind op, const Shape &xShape, const Shape &yShape, llvm::ArrayRef<int64_t> attrs,
                std::mt19937 &random) {
  OpGraph built;
  std::uniform_real_distribution<double> draw(0.5, 2);
  auto argument = [&](const char *name, const Shape &shape) {
    std::vector<double> data(static_cast<size_t>(elementCount(shape)));
    for (double &element : data)
      element = draw(random);
    built.in.insert(built.in.end(), data.begin(), data.end());
    if (shape.empty())
      return built.graph.addArgument(OpKind::Input, name, {1, 1}, data[0]);
    return built.graph.addTensorArgument(OpKind::Input, name, {1, 1}, shape, data);
  };
  NodeId x = argument("x", xShape), y = argument("y", yShape);
  std::vector<NodeId> operands = {x, y};
  if (op == OpKind::DynamicIndex) { // x[:, i] with i = 1
    operands[1] = built.graph.addArgument(OpKind::Input, "i", {1, 1}, 1.0);
    built.in.push_back(1);
  }
  if (getOpInfo(op).arity == 3) // where(x > y, x, y): both branches
    operands = {llvm::cantFail(built.graph.addOp(OpKind::Greater, {x, y}, {1, 1})), x, y};
  operands.resize(getOpInfo(op).arity);
  NodeId result = llvm::cantFail(built.graph.addOp(op, operands, {1, 1}, attrs));
  NodeId sine = llvm::cantFail(built.graph.addOp(OpKind::Sin, {result}, {1, 1}));
  built.graph.addOutput("r", result, {1, 1});
  built.graph.addOutput("l", llvm::cantFail(built.graph.addOp(OpKind::Sum, {sine}, {1, 1})), {1, 1});
  return built;
}

/// J t from the tangent graph against the reverse-mode Jacobian times t, for a random t.
void expectJacobianTimesTangent(const OpGraph &built, const std::string &what, std::mt19937 &random) {
  const Graph &graph = built.graph;
  std::uniform_real_distribution<double> draw(-1, 1);
  std::vector<double> tangent(built.in.size());
  for (double &element : tangent)
    element = draw(random);
  auto tangentGraph = buildTangentGraph(graph);
  ASSERT_TRUE(bool(tangentGraph)) << what << ": " << llvm::toString(tangentGraph.takeError());
  EXPECT_FALSE(llvm::errorToBool(tangentGraph->graph.verify())) << what;
  std::vector<std::vector<double>> jvps = evaluateTangents(*tangentGraph, built.in, tangent);
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << what << ": " << llvm::toString(gradient.takeError());
  Jacobian jacobian = evaluateGradient(*gradient, built.in);
  std::vector<size_t> rows = gradient->rowOffsets();
  size_t width = tangent.size();
  ASSERT_EQ(jvps.size(), graph.outputs().size()) << what;
  for (size_t o = 0; o < jvps.size(); ++o) {
    ASSERT_EQ(jvps[o].size(), rows[o + 1] - rows[o]) << what;
    for (size_t r = 0; r < jvps[o].size(); ++r) {
      double expected = 0, scale = 1;
      for (size_t c = 0; c < width; ++c) {
        double term = jacobian.grad[(rows[o] + r) * width + c] * tangent[c];
        expected += term;
        scale = std::max(scale, std::fabs(term));
      }
      EXPECT_NEAR(jvps[o][r], expected, 1e-12 * scale) << what << " output " << graph.outputs()[o].name << " element " << r;
    }
  }
}

} // namespace

TEST(ForwardMode, EveryScriptOpOnScalarsGivesTheJacobianTimesTheTangent) {
  std::mt19937 random(2026);
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!scriptCanWrite(info) || isTensorOp(info.kind))
      continue;
    for (int point = 0; point < 4; ++point)
      expectJacobianTimesTangent(opGraph(info.kind, {}, {}, {}, random), info.name, random);
    ++checked;
  }
  EXPECT_GE(checked, 29u); // + - * / ^, unary -, the 6 comparisons, where, stop_gradient and the 15 builtins
}

TEST(ForwardMode, EveryScriptOpOnTensorsGivesTheJacobianTimesTheTangent) {
  std::mt19937 random(2027);
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!scriptCanWrite(info))
      continue;
    if (!isTensorOp(info.kind)) { // elementwise, y broadcast over x's rows
      expectJacobianTimesTangent(opGraph(info.kind, {2, 3}, {3}, {}, random), info.name, random);
      ++checked;
      continue;
    }
    std::vector<std::vector<int64_t>> attrsToTry = {{}};
    if (takesAxis(info.kind))
      attrsToTry = {{}, {0}, {1}};
    if (info.kind == OpKind::Index)
      attrsToTry = {{0, 1, 2}, {1, 0, 2, 1, 1, 3}}; // x[1], x[0:2, 1:3]
    if (info.kind == OpKind::DynamicIndex)
      attrsToTry = {{1}}; // x[:, i]
    for (const std::vector<int64_t> &attrs : attrsToTry) {
      std::string what = std::string(info.name) + (attrs.empty() ? "" : " attrs " + std::to_string(attrs[0]));
      Shape yShape = info.kind == OpKind::MatMul ? Shape{3, 2} : Shape{};
      expectJacobianTimesTangent(opGraph(info.kind, {2, 3}, yShape, attrs, random), what, random);
    }
    ++checked;
  }
  // every elementwise script op, and @, sum, mean, max, min, softmax, log_softmax, logsumexp, transpose, argmax,
  // indexing (literal and at run time)
  EXPECT_GE(checked, 26u + 12u);
}

TEST(ForwardMode, MatMulOfVectorsAndMatricesGivesTheJacobianTimesTheTangent) {
  std::mt19937 random(2028);
  for (auto [x, y] : {std::pair<Shape, Shape>{{3}, {3}}, {{3}, {3, 2}}, {{2, 3}, {3}}})
    expectJacobianTimesTangent(opGraph(OpKind::MatMul, x, y, {}, random), "matmul " + formatShape(x), random);
}

TEST(ForwardMode, BranchesNotTakenKeepExactZeros) {
  // where(x > 0, sqrt(x), 0) at x = 0: the sqrt branch, whose derivative is infinite, is not taken, so the
  // tangent is 0, not NaN; max(-1, -sqrt(x)) takes it.
  Graph graph = test::compileOrFail("input x = 0\nnode f = where(x > 0, sqrt(x), 0)\nnode g = max(-1, -sqrt(x))\n"
                                    "output f, g\n");
  auto tangentGraph = buildTangentGraph(graph);
  ASSERT_TRUE(bool(tangentGraph)) << llvm::toString(tangentGraph.takeError());
  std::vector<std::vector<double>> jvps = evaluateTangents(*tangentGraph, {0.0}, {1.0});
  EXPECT_EQ(jvps[0][0], 0.0);
  EXPECT_EQ(jvps[1][0], -INFINITY); // taken: -sqrt's
  // An argument whose tangent is 0 moves nothing, even through an infinite derivative.
  Graph both = test::compileOrFail("input x = 0\ninput y = 2\nnode f = sqrt(x) + y\noutput f\n");
  auto bothTangents = buildTangentGraph(both);
  ASSERT_TRUE(bool(bothTangents));
  EXPECT_EQ(evaluateTangents(*bothTangents, {0.0, 2.0}, {0.0, 1.0})[0][0], 1.0);
}
