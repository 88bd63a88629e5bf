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

/// A tensor constant (no script writes one yet; gradient graphs and later passes may).
NodeId tensorConstant(Graph &graph, Shape shape, std::vector<double> data) {
  NodeId id = graph.addConstant(0);
  graph.node(id).type.shape = std::move(shape);
  graph.node(id).data = std::move(data);
  return id;
}

NodeId op(Graph &graph, OpKind kind, llvm::ArrayRef<NodeId> operands, llvm::ArrayRef<int64_t> attrs = {}) {
  return llvm::cantFail(graph.addOp(kind, operands, {}, attrs));
}

/// Simplifies `graph` for `roots` and checks the copy: shapes verified, every root of its old shape, and every
/// element bit for bit as the unsimplified graph computes it at `in`. Returns the simplified roots.
std::vector<NodeId> expectSameResults(const Graph &graph, const std::vector<NodeId> &roots,
                                      const std::vector<double> &in, Graph *simplified = nullptr) {
  std::vector<NodeId> simpleRoots = roots;
  Graph simple = simplifyGraph(graph, simpleRoots);
  EXPECT_EQ(llvm::toString(simple.verify()), "");
  Values before = evaluateGraph(graph, in), after = evaluateGraph(simple, in);
  for (size_t i = 0; i < roots.size(); ++i) {
    EXPECT_EQ(simple.node(simpleRoots[i]).type.shape, graph.node(roots[i]).type.shape) << "root " << i;
    if (simple.node(simpleRoots[i]).type.shape != graph.node(roots[i]).type.shape)
      continue;
    llvm::ArrayRef<double> expected = before.tensor(roots[i]), actual = after.tensor(simpleRoots[i]);
    for (size_t e = 0; e < expected.size(); ++e)
      EXPECT_TRUE(sameValue(expected[e], actual[e]))
          << "root " << i << " element " << e << ": " << expected[e] << " became " << actual[e];
  }
  if (simplified)
    *simplified = std::move(simple);
  return simpleRoots;
}

std::vector<NodeId> outputNodes(const Graph &graph) {
  std::vector<NodeId> roots;
  for (const Graph::Output &output : graph.outputs())
    roots.push_back(output.node);
  return roots;
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

TEST(Simplify, TensorNodesMergeOnlyWithTheSameAttrs) {
  // v[0] and v[2] index one tensor at different places; sum over axis 0 and over axis 1 give one shape but
  // different values. Merging by op and operands alone would give b v[0]'s value and c1 c0's.
  Graph graph = compileOrFail("input v[3] = [1, 2, 3]\ninput m[2,2] = [[1, 2], [3, 4]]\n"
                              "node a = v[0]\nnode b = v[2]\nnode a2 = v[0]\n"
                              "node c0 = sum(m, axis=0)\nnode c1 = sum(m, axis=1)\nnode c = sum(m)\n"
                              "output a, b, a2, c0, c1, c\n");
  Graph simple;
  std::vector<NodeId> roots = expectSameResults(graph, outputNodes(graph), graph.argumentDefaults(), &simple);
  EXPECT_EQ(roots[0], roots[2]); // the same index of the same tensor is one node
  EXPECT_NE(roots[0], roots[1]);
  EXPECT_NE(roots[3], roots[4]);
  EXPECT_EQ(countOps(simple, OpKind::Index), 2u);
}

TEST(Simplify, TensorConstantsMergeOnlyWithTheSameShapeAndElements) {
  // Every tensor constant has value 0: merging constants by value alone would make them one. [1,2,3] as [3] and
  // as [1,3] have the same elements but not the same shape.
  Graph graph;
  NodeId v = graph.addTensorArgument(OpKind::Input, "v", {}, {3}, std::vector<double>{1, -2, 0.5});
  NodeId first = tensorConstant(graph, {3}, {1, 2, 3}), second = tensorConstant(graph, {3}, {4, 5, 6});
  NodeId row = tensorConstant(graph, {1, 3}, {1, 2, 3}), again = tensorConstant(graph, {3}, {4, 5, 6});
  std::vector<NodeId> roots = {op(graph, OpKind::Mul, {v, first}), op(graph, OpKind::Mul, {v, second}),
                               op(graph, OpKind::Mul, {v, row}), op(graph, OpKind::Mul, {v, again})};
  Graph simple;
  std::vector<NodeId> simpleRoots = expectSameResults(graph, roots, {1, -2, 0.5}, &simple);
  EXPECT_EQ(simpleRoots[1], simpleRoots[3]); // equal constants still merge
  EXPECT_EQ(countOps(simple, OpKind::Const), 3u);
}

TEST(Simplify, FoldsNoTensorOperation) {
  // Operations on tensor constants stay tensor operations: folding them as numbers would read each constant's
  // (unused) scalar value and give a scalar. A tensor condition picks per element.
  Graph graph;
  NodeId x = graph.addArgument(OpKind::Input, "x", {}, 2.0);
  NodeId a = tensorConstant(graph, {3}, {1, 2, 3}), b = tensorConstant(graph, {3}, {10, 20, 30});
  NodeId condition = tensorConstant(graph, {3}, {1, 0, 1});
  NodeId two = graph.addConstant(2), three = graph.addConstant(3);
  std::vector<NodeId> roots = {op(graph, OpKind::Add, {a, b}), op(graph, OpKind::Sum, {b}),
                               op(graph, OpKind::Where, {condition, a, b}), op(graph, OpKind::Mul, {a, two}),
                               op(graph, OpKind::Where, {condition, x, b}),
                               graph.addNode(OpKind::Mul, {two, three}, {})};
  Graph simple;
  std::vector<NodeId> simpleRoots = expectSameResults(graph, roots, {2}, &simple);
  EXPECT_EQ(simple.node(simpleRoots[5]).op, OpKind::Const); // scalars still fold: 2 * 3 = 6
}

TEST(Simplify, IdentitiesKeepTheResultsShape) {
  // x + (-0) is x, x * 1 is x ... only where x has the result's shape: with x a scalar and the constant a
  // tensor (or where's other branch a vector), the result broadcasts x.
  Graph graph;
  NodeId x = graph.addArgument(OpKind::Input, "x", {}, 2.0);
  NodeId v = graph.addTensorArgument(OpKind::Input, "v", {}, {3}, std::vector<double>{1, -2, 0.5});
  NodeId negZeros = tensorConstant(graph, {3}, {-0.0, -0.0, -0.0}), zeros = tensorConstant(graph, {3}, {0, 0, 0});
  NodeId ones = tensorConstant(graph, {3}, {1, 1, 1});
  NodeId one = graph.addConstant(1), negZero = graph.addConstant(-0.0);
  std::vector<NodeId> roots = {
      op(graph, OpKind::Add, {x, negZeros}),  op(graph, OpKind::Add, {negZeros, x}),
      op(graph, OpKind::Sub, {x, zeros}),     op(graph, OpKind::Mul, {x, ones}),
      op(graph, OpKind::Mul, {ones, x}),      op(graph, OpKind::Div, {x, ones}),
      op(graph, OpKind::Pow, {x, ones}),      op(graph, OpKind::Where, {one, x, v}),
      op(graph, OpKind::Where, {negZero, v, x}),
      // Where the shapes agree the identities still apply.
      op(graph, OpKind::Mul, {v, one}),       op(graph, OpKind::Add, {v, negZeros}),
      op(graph, OpKind::Mul, {v, ones}),      op(graph, OpKind::Where, {one, v, x})};
  std::vector<NodeId> simpleRoots = expectSameResults(graph, roots, {2, 1, -2, 0.5});
  for (size_t i = 0; i < 9; ++i)
    EXPECT_NE(simpleRoots[i], 0u) << "root " << i << " is x"; // x is argument #0 of the copy
  for (size_t i = 9; i < roots.size(); ++i)
    EXPECT_EQ(simpleRoots[i], 1u) << "root " << i << " is not v";
}

TEST(Simplify, TensorGradientGraphsKeepEveryValueBitForBit) {
  Graph graph = compileOrFail("input X[2,3] = [[2, 4, -2], [1, -0.0, 3]]\n"
                              "param W[3,2] = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]\n"
                              "param b[2] = [0.1, -0.1]\nparam s = 1\ninput v[2] = [1, -1]\n"
                              "node y = X @ W * s + b * 1\nnode yo = sigmoid(y) + 0 * y\n"
                              "node l = -log(yo[0, 0]) + mean(yo, axis=1) @ mean(yo, axis=1) + yo[1] @ v\n"
                              "node loss = l + sum(relu(y - 0)) / 2 + max(sum(y), s)\noutput loss\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::vector<NodeId> roots = outputNodes(gradient.graph);
  for (const ReverseSweep &sweep : gradient.sweeps)
    roots.insert(roots.end(), sweep.gradient.begin(), sweep.gradient.end());
  std::vector<double> in = graph.argumentDefaults();
  Graph simple;
  expectSameResults(gradient.graph, roots, in, &simple);
  EXPECT_LT(simple.size(), gradient.graph.size());
  for (double &element : in)
    element = element * -3 + 0.25;
  expectSameResults(gradient.graph, roots, in);
}
