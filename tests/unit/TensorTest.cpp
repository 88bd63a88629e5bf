//===- TensorTest.cpp - Tensors in the graph and the interpreter ---------===//
//
// Shapes set and verified on every node, tensor declarations (literal, fill, seeded normal/uniform), and the
// interpreter's values for broadcasting elementwise ops, `@` in its four rank cases, sum/mean with and without
// an axis, and literal indexing, each against numbers worked by hand.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Interpreter.h"
#include "bp/Random.h"

using namespace bp;
using bp::test::compileOrFail;
using bp::test::diagnosticsFor;
using bp::test::sameValue;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

/// Every output's elements, evaluated at the defaults.
std::vector<std::vector<double>> outputsOf(const Graph &graph) {
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  std::vector<std::vector<double>> result;
  for (const Graph::Output &output : graph.outputs()) {
    llvm::ArrayRef<double> elements = values.tensor(output.node);
    result.emplace_back(elements.begin(), elements.end());
  }
  return result;
}

Shape shapeOf(const Graph &graph, const std::string &name) { return graph.node(*graph.lookup(name)).type.shape; }

} // namespace

TEST(Tensor, ElementwiseOpsBroadcastLikeNumPy) {
  Graph graph = compileOrFail("input a[2,3] = [[1, 2, 3], [4, 5, 6]]\n"
                              "input b[3] = [10, 20, 30]\n"
                              "input c[2,1] = [[100], [200]]\n"
                              "input s = 2\n"
                              "node f = a + b * c\n"      // [2,3] + [3] * [2,1]
                              "node g = -a / s - 1\n"     // scalars go with anything
                              "node h = where(a > 2, b, c)\n"
                              "node k = exp(a - a) + max(b, 15)\n"
                              "output f, g, h, k\n");
  EXPECT_EQ(shapeOf(graph, "f"), (Shape{2, 3}));
  EXPECT_EQ(shapeOf(graph, "k"), (Shape{2, 3}));
  auto out = outputsOf(graph);
  EXPECT_THAT(out[0], ElementsAre(1001, 2002, 3003, 2004, 4005, 6006));
  EXPECT_THAT(out[1], ElementsAre(-1.5, -2, -2.5, -3, -3.5, -4));
  EXPECT_THAT(out[2], ElementsAre(100, 100, 30, 10, 20, 30));
  EXPECT_THAT(out[3], ElementsAre(16, 21, 31, 16, 21, 31));
  EXPECT_FALSE(llvm::errorToBool(graph.verify()));
}

TEST(Tensor, MatMulTakesTheSpecsFourRankCases) {
  Graph graph = compileOrFail("input A[2,3] = [[1, 2, 3], [4, 5, 6]]\n"
                              "input B[3,2] = [[7, 8], [9, 10], [11, 12]]\n"
                              "input v[3] = [1, -1, 2]\n"
                              "node mm = A @ B\n"  // [2,3] @ [3,2] -> [2,2]
                              "node vm = v @ B\n"  // [3] @ [3,2] -> [2]
                              "node mv = A @ v\n"  // [2,3] @ [3] -> [2]
                              "node vv = v @ v\n"  // [3] @ [3] -> []
                              "output mm, vm, mv, vv\n");
  EXPECT_EQ(shapeOf(graph, "mm"), (Shape{2, 2}));
  EXPECT_EQ(shapeOf(graph, "vm"), (Shape{2}));
  EXPECT_EQ(shapeOf(graph, "mv"), (Shape{2}));
  EXPECT_EQ(shapeOf(graph, "vv"), (Shape{}));
  auto out = outputsOf(graph);
  EXPECT_THAT(out[0], ElementsAre(58, 64, 139, 154));
  EXPECT_THAT(out[1], ElementsAre(20, 22));  // 7 - 9 + 22, 8 - 10 + 24
  EXPECT_THAT(out[2], ElementsAre(5, 11));   // 1 - 2 + 6, 4 - 5 + 12
  EXPECT_THAT(out[3], ElementsAre(6));
}

TEST(Tensor, SumsStartFromPositiveZeroInIndexOrder) {
  // -0 * 1 is -0, and +0 + -0 is +0: a dot product and a sum start from +0, as the generated code will.
  Graph graph = compileOrFail("input z[1] = [-0]\ninput one[1] = [1]\n"
                              "node d = z @ one\nnode s = sum(z)\nnode m = mean(z)\noutput d, s, m\n");
  for (const auto &out : outputsOf(graph))
    EXPECT_TRUE(sameValue(out[0], 0.0));
  // In index order: (1e16 + 1) + -1e16 is 0 in doubles, where another order would give 1.
  Graph ordered = compileOrFail("input x[3] = [1e16, 1, -1e16]\ninput o[3] = 1\nnode s = sum(x)\n"
                                "node d = x @ o\noutput s, d\n");
  auto out = outputsOf(ordered);
  EXPECT_EQ(out[0][0], 0);
  EXPECT_EQ(out[1][0], 0);
}

TEST(Tensor, SumAndMeanOverEveryElementOrOneAxis) {
  Graph graph = compileOrFail("input x[2,3] = [[1, 2, 3], [4, 5, 6]]\n"
                              "node s = sum(x)\nnode m = mean(x)\n"
                              "node s0 = sum(x, axis=0)\nnode s1 = sum(x, axis=1)\nnode sl = sum(x, axis=-1)\n"
                              "node m0 = mean(x, axis=0)\nnode m1 = mean(x, axis=1)\n"
                              "output s, m, s0, s1, sl, m0, m1\n");
  EXPECT_EQ(shapeOf(graph, "s0"), (Shape{3}));
  EXPECT_EQ(shapeOf(graph, "s1"), (Shape{2}));
  EXPECT_EQ(graph.node(*graph.lookup("sl")).attrs, (llvm::SmallVector<int64_t, 4>{1})); // axes count from 0
  auto out = outputsOf(graph);
  EXPECT_THAT(out[0], ElementsAre(21));
  EXPECT_THAT(out[1], ElementsAre(3.5));
  EXPECT_THAT(out[2], ElementsAre(5, 7, 9));
  EXPECT_THAT(out[3], ElementsAre(6, 15));
  EXPECT_THAT(out[4], ElementsAre(6, 15));
  EXPECT_THAT(out[5], ElementsAre(2.5, 3.5, 4.5));
  EXPECT_THAT(out[6], ElementsAre(2, 5));
}

TEST(Tensor, LiteralIndicesPickElementsAndRows) {
  Graph graph = compileOrFail("input x[2,3] = [[1, 2, 3], [4, 5, 6]]\n"
                              "node e = x[1, -1]\nnode r = x[-2]\noutput e, r\n");
  auto out = outputsOf(graph);
  EXPECT_THAT(out[0], ElementsAre(6));
  EXPECT_THAT(out[1], ElementsAre(1, 2, 3));
}

TEST(Tensor, FurtherBpGivesTheSpecsLoss) {
  Graph graph = compileOrFail("input X[1,3] = [[2, 4, -2]]\n"
                              "param W[3,2] = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]\n"
                              "node y = X @ W\nnode yo = sigmoid(y)\nnode loss = -log(yo[0, 0])\noutput loss, yo\n");
  auto out = outputsOf(graph);
  EXPECT_EQ(out[0][0], 0.07164469196766994);
  EXPECT_THAT(out[1], ElementsAre(0.9308615796566531, 0.9002495108803148));
}

TEST(Tensor, RandomInitializersDrawInDeclarationOrderFromTheSeed) {
  const char *script = "param a[2] = normal(0, 1)\nparam s = 1\nparam b[3] = uniform(-1, 1)\n"
                       "node f = sum(a) + sum(b) + s\noutput f\n";
  Graph graph = compileOrFail(script, 7);
  RandomStream random(7);
  std::vector<double> a = {random.normal(0, 1), random.normal(0, 1)};
  std::vector<double> b = {random.uniform(-1, 1), random.uniform(-1, 1), random.uniform(-1, 1)};
  EXPECT_EQ(graph.node(*graph.lookup("a")).data, a);
  EXPECT_EQ(graph.node(*graph.lookup("b")).data, b);
  EXPECT_EQ(compileOrFail(script, 7).node(*graph.lookup("b")).data, b); // reproducible
  EXPECT_NE(compileOrFail(script, 8).node(*graph.lookup("b")).data, b); // and the seed matters
  EXPECT_THAT(compileOrFail("input f[2,2] = 3\noutput f\n").node(0).data, ElementsAre(3, 3, 3, 3));
}

TEST(Tensor, ArgumentsAndOutputsTakeTheirElementsFlat) {
  Graph graph = compileOrFail("input x\ninput v[3] = 0\nparam W[2,3] = 1\ninput y\n"
                              "node o = W @ v + x * y\noutput x, o\n");
  // Inputs x, v, y, then the param W.
  EXPECT_EQ(graph.argumentOffsets(), (std::vector<size_t>{0, 1, 4, 5, 11}));
  EXPECT_EQ(graph.outputOffsets(), (std::vector<size_t>{0, 1, 3}));
}

TEST(Tensor, VerifyRecomputesEveryShape) {
  Graph graph = compileOrFail("input A[2,3] = 1\ninput B[3,2] = 1\nnode c = sum(A @ B, axis=1)\noutput c\n");
  EXPECT_FALSE(llvm::errorToBool(graph.verify()));
  Graph wrongShape = graph;
  wrongShape.node(*graph.lookup("c")).type.shape = {3};
  EXPECT_THAT(llvm::toString(wrongShape.verify()), HasSubstr("has shape [3], but its operands give [2]"));
  Graph wrongAxis = graph;
  wrongAxis.node(*graph.lookup("c")).attrs = {2};
  EXPECT_THAT(llvm::toString(wrongAxis.verify()), HasSubstr("axis 2 is out of range for [2,2]"));
  Graph wrongData = graph;
  wrongData.node(0).data.pop_back();
  EXPECT_THAT(llvm::toString(wrongData.verify()), HasSubstr("holds 5 numbers for shape [2,3]"));
}

TEST(Tensor, ShapeErrorsAreDiagnosticsAtTheOperator) {
  EXPECT_THAT(diagnosticsFor("input X[1,3] = 1\ninput W[2,2] = 1\nnode y = X @ W\noutput y\n"),
              HasSubstr("test.bp:3:12: error: cannot multiply [1,3] by [2,2]: inner dimensions 3 and 2 differ"));
  EXPECT_THAT(diagnosticsFor("input a[2,3] = 1\ninput b[4] = 1\nnode y = a + b\noutput y\n"),
              HasSubstr("test.bp:3:12: error: cannot add [2,3] and [4]: dimensions 3 and 4 differ and neither is 1"));
  EXPECT_THAT(diagnosticsFor("input a[2] = 1\nnode y = sum(a, axis=1)\noutput y\n"),
              HasSubstr("test.bp:2:22: error: axis 1 is out of range for [2]"));
  EXPECT_THAT(diagnosticsFor("input a[2] = 1\nnode y = a[2]\noutput y\n"),
              HasSubstr("test.bp:2:12: error: index 2 is out of range for dimension 0 of size 2"));
  // Inside a def, shapes are known at each call: the error is at the call, with a note at the operator.
  std::string inDef = diagnosticsFor("def f(p, q) = p * q\ninput a[2] = 1\ninput b[3] = 1\nnode y = f(a, b)\n"
                                     "output y\n");
  EXPECT_THAT(inDef, HasSubstr("test.bp:4:10: error: cannot multiply [2] and [3]"));
  EXPECT_THAT(inDef, HasSubstr("test.bp:1:17: note: in def 'f', inlined here"));
  // A def whose body needs tensors is fine where it is declared.
  Graph graph = compileOrFail("def dot(p, q) = sum(p * q, axis=0)\ninput a[2] = [1, 2]\nnode y = dot(a, a)\n"
                              "output y\n");
  EXPECT_THAT(outputsOf(graph)[0], ElementsAre(5));
}

TEST(Tensor, FirstTensorNodeFindsTensorOpsOfScalarShapeToo) {
  Graph scalarSum = compileOrFail("input x = -0\nnode s = sum(x)\noutput s\n");
  EXPECT_EQ(scalarSum.firstTensorNode(), std::optional<NodeId>(1)); // a tensor op, though of shape []
  EXPECT_FALSE(compileOrFail("input x = 1\nnode y = x * 2\noutput y\n").firstTensorNode());
}

TEST(Tensor, ArgumentDefaultsHoldZerosForATensorInputWithoutValue) {
  // Every argument takes its elements in the flat values, a tensor input declared without a value too (as
  // zeros, like a scalar input's 0): later arguments keep their offsets.
  Graph graph = compileOrFail("input x[3]\ninput s\nparam w[2] = [5, 6]\nnode y = sum(x) * s + sum(w)\noutput y\n");
  EXPECT_THAT(graph.argumentDefaults(), ElementsAre(0, 0, 0, 0, 5, 6));
  EXPECT_EQ(graph.argumentDefaults().size(), graph.argumentOffsets().back());
}
