//===- TensorCodeGenTest.cpp - Compiled tensor code reproduces the interpreter bit for bit ---===//
//
// Each tensor op, compiled to loops at -O0 and -O2, gives the interpreter's numbers bit for bit (NaN as NaN), on
// the scripts' values and on values with zeros of both signs, infinities and NaN: the forward function against
// the script's graph, the gradient function against the gradient graph (whose internal ops, sum_to,
// broadcast_to, reshape, index_grad and argmax_mask, only gradients have).
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <cmath>
#include <random>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

/// The script's values, and values drawn with special ones mixed in.
std::vector<std::vector<double>> pointsOf(const Graph &graph) {
  std::vector<std::vector<double>> points = {graph.argumentDefaults()};
  std::mt19937 random(11);
  std::uniform_real_distribution<double> draw(-3, 3);
  const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0};
  std::vector<double> drawn = points[0];
  for (size_t i = 0; i < drawn.size(); ++i)
    drawn[i] = i % 3 == 2 ? specials[(i / 3) % std::size(specials)] : draw(random);
  points.push_back(drawn);
  return points;
}

/// Checks `actual` (flat) against the elements of `nodes` in `expected`, one after another.
void expectSameElements(llvm::ArrayRef<double> actual, const Values &expected, llvm::ArrayRef<NodeId> nodes,
                        const std::string &what) {
  size_t next = 0;
  for (NodeId id : nodes) {
    llvm::ArrayRef<double> want = expected.tensor(id);
    ASSERT_LE(next + want.size(), actual.size()) << what;
    for (size_t i = 0; i < want.size(); ++i, ++next)
      EXPECT_TRUE(sameValue(actual[next], want[i])) << what << " element " << next << ": " << actual[next] << " vs "
                                                    << want[i];
  }
  EXPECT_EQ(next, actual.size()) << what;
}

/// Compiles `script`'s forward function at -O0 and -O2 and checks every output element against the
/// interpreter, at the script's values and at values drawn with special ones mixed in.
void expectCompiledMatchesInterpreter(const std::string &script) {
  Graph graph = compileOrFail(script);
  ASSERT_GT(graph.size(), 0u) << script;
  std::vector<NodeId> outputs;
  for (const Graph::Output &output : graph.outputs())
    outputs.push_back(output.node);
  for (unsigned optLevel : {0u, 2u}) {
    auto model = CompiledModel::create(graph, CompiledModel::ForwardOnly, optLevel);
    ASSERT_TRUE(bool(model)) << script << llvm::toString(model.takeError());
    for (const std::vector<double> &in : pointsOf(graph)) {
      std::vector<double> out(graph.outputOffsets().back(), 12345.0);
      (*model)->forward(in.data(), out.data());
      expectSameElements(out, evaluateGraph(graph, in), outputs, script + " -O" + std::to_string(optLevel));
    }
  }
}

/// Compiles the gradient function of `script` (scalar outputs) at -O0 and -O2 and checks its outputs and every
/// gradient element against the interpreter's evaluation of the gradient graph.
void expectCompiledGradientMatchesInterpreter(const std::string &script) {
  Graph graph = compileOrFail(script);
  ASSERT_GT(graph.size(), 0u) << script;
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << script << llvm::toString(gradient.takeError());
  std::vector<NodeId> outputs, jacobian;
  for (const ReverseSweep &sweep : gradient->sweeps) {
    outputs.push_back(graph.outputs()[sweep.output].node);
    jacobian.insert(jacobian.end(), sweep.gradient.begin(), sweep.gradient.end());
  }
  for (unsigned optLevel : {0u, 2u}) {
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
    ASSERT_TRUE(bool(model)) << script << llvm::toString(model.takeError());
    for (const std::vector<double> &in : pointsOf(graph)) {
      std::vector<double> out(graph.outputs().size(), 12345.0), grad(outputs.size() * in.size(), 12345.0);
      (*model)->gradient(in.data(), out.data(), grad.data());
      Values expected = evaluateGraph(gradient->graph, in);
      std::string what = script + " -O" + std::to_string(optLevel);
      expectSameElements(out, expected, outputs, what + " output");
      expectSameElements(grad, expected, jacobian, what + " gradient");
    }
  }
}

const char *const Arguments = "input a[2,3] = [[1, -2, 0.5], [4, -0.0, 3]]\n"
                              "input v[3] = [0.25, -1, 2]\n"
                              "input c[2,1] = [[2], [-3]]\n"
                              "input r[1,3] = [[-1, 0.5, 7]]\n"
                              "input s = 1.5\n"
                              "param w[3,4] = [[0.5, -0.3, 1, 2], [0.1, 0.8, -1, 0], [-0.6, 0.2, 3, -2]]\n"
                              "param u[2,3,4] = uniform(-2, 2)\n"
                              "input q[2,4] = [[1, 3, 3, -0.0], [0, -0.0, 2, 2]]\n"; // ties

void expectExpression(const std::string &expression) {
  expectCompiledMatchesInterpreter(std::string(Arguments) + "node f = " + expression + "\noutput f\n");
}

/// A tensor and its sum, then a chain of `length` scalar products, then `last` (which may read x, t, m and the
/// chain's end, `end`): over 2,000 nodes cuts a function into parts.
std::string longChain(int length, const std::string &last) {
  std::string script = "input x[3] = [1, -2, 0.5]\ninput s = 0.5\nnode t = x * 1.5\nnode m = sum(t)\n"
                       "node s0 = s * m\n";
  for (int i = 1; i < length; ++i)
    script += "node s" + std::to_string(i) + " = s" + std::to_string(i - 1) + " * 0.999\n";
  return script + "node end = s" + std::to_string(length - 1) + "\nnode f = " + last + "\noutput f\n";
}

const char *const Further = "input X[1,3] = [[2, 4, -2]]\n"
                            "param W[3,2] = [[0.5, -0.3],\n[0.1,  0.8],\n[-0.6, 0.2]]\n"
                            "node y = X @ W\nnode yo = sigmoid(y)\nnode loss = -log(yo[0, 0])\noutput loss\n";

/// The gradient of sum(expression) (or of the expression itself where it is a scalar) and of a second output.
void expectGradient(const std::string &expression) {
  expectCompiledGradientMatchesInterpreter(std::string(Arguments) + "node e = " + expression +
                                           "\nnode f = sum(e)\nnode g = sum(e * e) + s\noutput f\noutput g\n");
}

} // namespace

TEST(TensorCodeGen, ElementwiseOpsWithBroadcasting) {
  for (const char *expression :
       {"a + v", "v + a", "c * r", "r - c", "s * a", "a / s", "2 ^ a", "a ^ s", "-a", "exp(a) - log(abs(v))",
        "sigmoid(a) * tanh(c)", "sqrt(a) + sin(r) * cos(v) - tan(c)", "relu(a) + relu(-v)", "max(a, v) - min(c, r)",
        "a < v", "a <= c", "a > r", "a >= s", "a == -0.0 * v", "a != v", "where(a > 0, a, c * r)",
        "where(v, c, s)", "u * w[0] + s", "u + w + c[1]", "where(u, c[1], w)"})
    expectExpression(expression);
}

TEST(TensorCodeGen, MatMulInEachRankCase) {
  for (const char *expression : {"a @ w", "v @ w", "a @ v", "v @ v", "(a @ w) @ (w[0] * 2)", "c @ r"})
    expectExpression(expression);
}

TEST(TensorCodeGen, SumAndMeanOverEverythingOrOneAxis) {
  for (const char *expression :
       {"sum(a)", "mean(a)", "sum(u, axis=0)", "sum(u, axis=1)", "mean(u, axis=2)", "mean(u, axis=-1)",
        "sum(v, axis=0)", "mean(c, axis=1)", "sum(s)", "mean(s)", "sum(-0.0 * s)", "sum(a * 1e308)"})
    expectExpression(expression);
}

/// max, min, the softmax family, transpose and argmax: over every element, each axis, a scalar, and large logits.
const char *const AlongAxisExpressions[] = {
    "max(a)", "min(a)", "max(u, axis=0)", "min(u, axis=1)", "max(u, axis=-1)", "min(v, axis=0)", "max(s)",
    "min(c, axis=0) * r", "softmax(a)", "softmax(u, axis=1)", "log_softmax(u, axis=0)", "log_softmax(v)",
    "logsumexp(u)", "logsumexp(a, axis=0)", "softmax(s) + log_softmax(s) + logsumexp(s)", "softmax(a * 1000)",
    "log_softmax(r * 1000, axis=0)", "logsumexp(a * 1e308)", "transpose(a)", "transpose(c @ r) * w[0, 0]",
    "argmax(a)", "argmax(u, axis=1)", "argmax(u)", "argmax(s) + argmax(v, axis=0) * v", "max(q, axis=1)",
    "min(q, axis=0) + argmax(q, axis=0)", "max(q) * min(-q) + argmax(q) + argmax(-q, axis=1)[1]"};

TEST(TensorCodeGen, MaxMinSoftmaxTransposeArgmax) {
  for (const char *expression : AlongAxisExpressions)
    expectExpression(expression);
}

TEST(TensorCodeGen, LiteralIndexing) {
  for (const char *expression : {"a[1]", "a[1, 2]", "a[-1, 0] * v", "u[1]", "u[1, 2]", "u[0, -1, 3]", "(a @ w)[1]"})
    expectExpression(expression);
}

TEST(TensorCodeGen, OutputsArgumentsAndSharedValues) {
  // Arguments and constants as outputs, an output twice, an output that is also an operand, and a result
  // indexed after it was written to `out`.
  expectCompiledMatchesInterpreter(std::string(Arguments) +
                                   "node y = a @ w\nnode z = sigmoid(y)\nnode t = z[1]\nnode k = y\n"
                                   "output a\noutput z\noutput t\noutput k\noutput w\noutput y\noutput s\n");
}

TEST(TensorCodeGen, FurtherExampleLoss) {
  expectCompiledMatchesInterpreter(Further);
  Graph graph = compileOrFail(Further);
  auto model = llvm::cantFail(CompiledModel::create(graph, CompiledModel::ForwardOnly));
  std::vector<double> in = graph.argumentDefaults();
  double loss;
  model->forward(in.data(), &loss);
  EXPECT_EQ(loss, 0.07164469196766994);
}

TEST(TensorCodeGen, LargeWorkspaceIsAllocatedOnTheHeap) {
  // Two [100,100] intermediates: 160,000 bytes of workspace, above what goes on the stack.
  expectCompiledMatchesInterpreter("input x[100,1] = uniform(-1, 1)\ninput y[1,100] = uniform(-1, 1)\n"
                                   "node p = x * y\nnode q = exp(p) @ p\nnode f = mean(q, axis=0)\noutput f\n");
}

TEST(TensorCodeGen, TensorsCrossGraphParts) {
  // Over 2,000 nodes: the function is cut into parts, and a tensor and a sum made in the first part are read
  // in the last.
  expectCompiledMatchesInterpreter(longChain(2100, "t * end + m"));
}

TEST(TensorCodeGen, GradientsOfElementwiseOpsSumBroadcastOperandsBack) {
  // sum_to over leading and size-1 dimensions, and to a scalar; broadcast_to of a scalar's zeros.
  for (const char *expression :
       {"a + v", "v * a", "c * r", "r - c", "s * a", "a / s", "2 ^ a", "a ^ s", "-a", "exp(a) - log(abs(v))",
        "sigmoid(a) * tanh(c)", "sqrt(a) + sin(r) * cos(v) - tan(c)", "relu(a) + relu(-v)", "max(a, v) - min(c, r)",
        "where(a > 0, a, c * r)", "where(v, c, s)", "u * w[0] + s", "u + w + c[1]", "where(u, c[1], w)",
        "a < v", "v * 0"})
    expectGradient(expression);
}

TEST(TensorCodeGen, GradientsOfMatMulSumMeanAndIndexing) {
  // transpose (@), reshape (vector @ and sums over an axis), broadcast_to (sum, mean), index_grad (indexing).
  for (const char *expression :
       {"a @ w", "v @ w", "a @ v", "v @ v", "(a @ w) @ (w[0] * 2)", "c @ r", "sum(a)", "mean(a)", "sum(u, axis=0)",
        "sum(u, axis=1)", "mean(u, axis=2)", "mean(u, axis=-1)", "sum(v, axis=0)", "mean(c, axis=1)", "sum(s)",
        "mean(s)", "a[1]", "a[1, 2]", "a[-1, 0] * v", "u[1]", "u[1, 2]", "u[0, -1, 3]", "(a @ w)[1]",
        "sum(a * 1e308)"})
    expectGradient(expression);
}

TEST(TensorCodeGen, GradientsOfMaxMinSoftmaxTransposeArgmax) {
  // argmax_mask (max, min), softmax inside the gradients of log_softmax and logsumexp, transpose.
  for (const char *expression : AlongAxisExpressions)
    expectGradient(expression);
}

TEST(TensorCodeGen, GradientAcrossGraphPartsAndOnTheHeap) {
  expectCompiledGradientMatchesInterpreter("input x[100,1] = uniform(-1, 1)\ninput y[1,100] = uniform(-1, 1)\n"
                                           "node p = x * y\nnode q = exp(p) @ p\nnode f = mean(q)\noutput f\n");
  expectCompiledGradientMatchesInterpreter(longChain(1100, "sum(t * end) + m"));
}

TEST(TensorCodeGen, GradientOfFurtherExample) {
  expectCompiledGradientMatchesInterpreter(Further);
  Graph graph = compileOrFail(Further);
  auto model = llvm::cantFail(CompiledModel::create(graph, CompiledModel::ForwardAndGradient));
  std::vector<double> in = graph.argumentDefaults(), grad(in.size());
  double loss;
  model->gradient(in.data(), &loss, grad.data());
  EXPECT_EQ(loss, 0.07164469196766994);
  // dW = X^T @ dy, after dX's three entries.
  EXPECT_THAT(llvm::ArrayRef<double>(grad).drop_front(3),
              testing::ElementsAre(-0.13827684068669388, 0, -0.27655368137338776, 0, 0.13827684068669388, 0));
}

TEST(TensorCodeGen, GradientOfTensorOutputsIsRefused) {
  Graph graph = compileOrFail(std::string(Arguments) + "node f = a @ w\noutput f\n");
  auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient);
  ASSERT_FALSE(bool(model));
  EXPECT_THAT(llvm::toString(model.takeError()), testing::HasSubstr("gradients of tensor outputs are not supported"));
}

TEST(TensorCodeGen, LoopsAreNotUnrolledPerElement) {
  // The module of a 256x256 matrix product, its softmax, max and argmax is the size of a 4x4 one: loops, not one
  // instruction per element
  // (but for its workspace: one alloca at 4x4, and a call to malloc and one to free at 256x256).
  auto instructions = [](int n) {
    std::string size = std::to_string(n);
    Graph graph = compileOrFail("input a[" + size + "," + size + "] = 1\ninput b[" + size + "," + size +
                                "] = 2\nnode c = a @ b\nnode f = sum(softmax(c), axis=0) + logsumexp(c, axis=0) + "
                                "max(transpose(c), axis=1) + argmax(c, axis=0)\noutput f\n");
    llvm::LLVMContext context;
    auto module = generateModule(graph, nullptr, "m", context);
    return module->getInstructionCount();
  };
  EXPECT_EQ(instructions(256), instructions(4) + 1);
}
