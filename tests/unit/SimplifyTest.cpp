//===- SimplifyTest.cpp - Graph simplification keeps every value bit-identical ---===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/Simplify.h"

#include <cmath>
#include <cstring>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

struct Simplified {
  Graph graph;
  std::vector<NodeId> roots;
};

Simplified simplifyOutputs(const Graph &graph) {
  std::vector<NodeId> roots;
  for (const Graph::Output &output : graph.outputs())
    roots.push_back(output.node);
  Graph simple = simplifyGraph(graph, roots);
  return {std::move(simple), roots};
}

size_t countOps(const Graph &graph, OpKind op) {
  size_t count = 0;
  for (NodeId id = 0; id < graph.size(); ++id)
    count += graph.node(id).op == op;
  return count;
}


} // namespace

TEST(Simplify, MergesCommonSubexpressionsAndDropsDeadNodes) {
  Graph graph = compileOrFail("input a = 1\nnode unused = exp(a)\nnode f = sin(a) * sin(a) + sin(a)\noutput f\n");
  Simplified s = simplifyOutputs(graph);
  EXPECT_EQ(countOps(s.graph, OpKind::Sin), 1u);
  EXPECT_EQ(countOps(s.graph, OpKind::Exp), 0u);
  EXPECT_EQ(s.graph.arguments().size(), 1u);
}

TEST(Simplify, AppliesOnlyExactIdentities) {
  Graph graph = compileOrFail("input x = 1\nnode m = x * 1\nnode n = 1 * x\nnode d = x / 1\nnode s = x - 0\n"
                              "node p = x + -0.0\nnode q = -(-x)\nnode w = x ^ 1\nnode z = x + 0\n"
                              "output m, n, d, s, p, q, w, z\n");
  Simplified s = simplifyOutputs(graph);
  NodeId x = s.graph.arguments()[0];
  for (size_t i = 0; i < 7; ++i)
    EXPECT_EQ(s.roots[i], x) << graph.outputs()[i].name;
  // x + 0 is not x: at x = -0 it is +0.
  EXPECT_NE(s.roots[7], x);
  Values values = evaluateGraph(s.graph, {-0.0});
  EXPECT_TRUE(sameValue(values[s.roots[7]], 0.0));
  EXPECT_TRUE(sameValue(values[s.roots[0]], -0.0));
}

TEST(Simplify, FoldsConstantsWithTheForwardRules) {
  Graph graph = compileOrFail("input a = 1\nnode f = a + 2 * 3 + exp(1)\noutput f\n");
  Simplified s = simplifyOutputs(graph);
  EXPECT_EQ(countOps(s.graph, OpKind::Mul), 0u);
  EXPECT_EQ(countOps(s.graph, OpKind::Exp), 0u);
  EXPECT_EQ(evaluateGraph(s.graph, {1.0})[s.roots[0]], evaluateGraph(graph, {1.0})[graph.outputs()[0].node]);
}

TEST(Simplify, GradientGraphsKeepEveryValueBitForBit) {
  Graph graph = compileOrFail("input x = 0.3\nparam w = -1.2\nnode h = tanh(w * x) * tanh(w * x)\n"
                              "node f = sigmoid(h) + max(x, w) * relu(x - w) / (1 + abs(w))\noutput f, h\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::vector<NodeId> roots;
  for (const ReverseSweep &sweep : gradient.sweeps)
    roots.insert(roots.end(), sweep.gradient.begin(), sweep.gradient.end());
  std::vector<NodeId> original = roots;
  Graph simple = simplifyGraph(gradient.graph, roots);
  EXPECT_LT(simple.size(), gradient.graph.size());
  for (std::vector<double> in : {std::vector<double>{0.3, -1.2}, {-0.0, 0.0}, {NAN, 1}, {INFINITY, 2}, {5, 5}}) {
    Values before = evaluateGraph(gradient.graph, in), after = evaluateGraph(simple, in);
    for (size_t i = 0; i < roots.size(); ++i)
      EXPECT_TRUE(sameValue(before[original[i]], after[roots[i]])) << "entry " << i << " at " << in[0] << ", " << in[1];
  }
}

TEST(Simplify, DMulBecomesAProductOnlyWhereItCannotDiffer) {
  Graph graph;
  NodeId x = graph.addArgument(OpKind::Input, "x", {}, 0.0);
  NodeId y = graph.addArgument(OpKind::Input, "y", {}, 0.0);
  NodeId two = graph.addConstant(2), zero = graph.addConstant(0), inf = graph.addConstant(INFINITY);
  std::vector<NodeId> roots = {graph.addNode(OpKind::DMul, {x, two}, {}), graph.addNode(OpKind::DMul, {two, x}, {}),
                               graph.addNode(OpKind::DMul, {x, y}, {}),   graph.addNode(OpKind::DMul, {zero, x}, {}),
                               graph.addNode(OpKind::DMul, {x, zero}, {}), graph.addNode(OpKind::DMul, {x, inf}, {})};
  std::vector<NodeId> original = roots;
  Graph simple = simplifyGraph(graph, roots);
  const OpKind expected[] = {OpKind::Mul, OpKind::Mul, OpKind::DMul, OpKind::DMul, OpKind::DMul, OpKind::DMul};
  for (size_t i = 0; i < roots.size(); ++i)
    EXPECT_EQ(simple.node(roots[i]).op, expected[i]) << "root " << i;
  for (std::vector<double> in : {std::vector<double>{0, INFINITY}, {-0.0, NAN}, {2, 3}, {INFINITY, 0}, {NAN, 1}}) {
    Values before = evaluateGraph(graph, in), after = evaluateGraph(simple, in);
    for (size_t i = 0; i < roots.size(); ++i)
      EXPECT_TRUE(sameValue(before[original[i]], after[roots[i]])) << "root " << i << " at " << in[0] << ", " << in[1];
  }
}
