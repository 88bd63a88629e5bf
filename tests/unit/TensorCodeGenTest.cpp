//===- TensorCodeGenTest.cpp - Compiled tensor code reproduces the interpreter bit for bit ---===//
//
// Each tensor op, compiled to loops at -O0 and -O2, gives the interpreter's numbers bit for bit (NaN as NaN), on
// the scripts' values and on values with zeros of both signs, infinities and NaN: the forward function against
// the script's graph, the gradient function against the interpreter's (evaluateGradient: the gradient graph,
// whose internal ops, sum_to, broadcast_to, reshape, transpose, index_grad, dynamic_index_grad and argmax_mask, only
// gradients have, with a tensor output's sweep evaluated once per row of its Jacobian). Run-time indices are
// checked at valid ones and at every kind of invalid one (out of range, fractional, NaN, infinite, huge), which
// give NaN.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"

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

/// The script's values with inputs i and j, where declared, set to indices valid and not: integers in range
/// and out of it, from either end, fractions, NaN, infinities, huge numbers (past 2^63 too), -0.
std::vector<std::vector<double>> indexPointsOf(const Graph &graph) {
  const double indices[] = {0,    1,         2,    -1,    -2,     -3,    3,        4,         0.5,      -0.5,
                            NAN,  INFINITY,  -INFINITY,  1e300, -1e300, 9.3e18, -9.3e18, 0x1p63, -0.0,
                            4503599627370497.0, 1e-300, -2.5};
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::vector<std::vector<double>> points;
  for (size_t k = 0; k < std::size(indices); ++k) {
    std::vector<double> in = graph.argumentDefaults();
    size_t n = 0;
    for (const char *name : {"i", "j"})
      if (std::optional<NodeId> id = graph.lookupArgument(name))
        in[offsets[graph.argumentIndex(*id)]] = indices[(k + 5 * n++) % std::size(indices)];
    points.push_back(in);
  }
  return points;
}

/// Compiles `script`'s forward function at -O0 and -O2 and checks every output element against the
/// interpreter, at the script's values and at values drawn with special ones mixed in (or at `indexPoints`).
void expectCompiledMatchesInterpreter(const std::string &script, bool indexPoints = false) {
  Graph graph = compileOrFail(script);
  ASSERT_GT(graph.size(), 0u) << script;
  std::vector<NodeId> outputs;
  for (const Graph::Output &output : graph.outputs())
    outputs.push_back(output.node);
  for (unsigned optLevel : {0u, 2u}) {
    auto model = CompiledModel::create(graph, CompiledModel::ForwardOnly, optLevel);
    ASSERT_TRUE(bool(model)) << script << llvm::toString(model.takeError());
    for (const std::vector<double> &in : indexPoints ? indexPointsOf(graph) : pointsOf(graph)) {
      std::vector<double> out(graph.outputOffsets().back(), 12345.0);
      (*model)->forward(in.data(), out.data());
      expectSameElements(out, evaluateGraph(graph, in), outputs, script + " -O" + std::to_string(optLevel));
    }
  }
}

/// Compiles the gradient function of `script` at -O0 and -O2 and checks its outputs and every entry of its
/// Jacobian (tensor outputs included) against the interpreter's gradient function.
void expectCompiledGradientMatchesInterpreter(const std::string &script, bool indexPoints = false) {
  Graph graph = compileOrFail(script);
  ASSERT_GT(graph.size(), 0u) << script;
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << script << llvm::toString(gradient.takeError());
  for (unsigned optLevel : {0u, 2u}) {
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
    ASSERT_TRUE(bool(model)) << script << llvm::toString(model.takeError());
    for (const std::vector<double> &in : indexPoints ? indexPointsOf(graph) : pointsOf(graph)) {
      Jacobian expected = evaluateGradient(*gradient, in);
      std::vector<double> out(expected.out.size(), 12345.0), grad(expected.grad.size(), 12345.0);
      (*model)->gradient(in.data(), out.data(), grad.data());
      std::string what = script + " -O" + std::to_string(optLevel);
      for (size_t i = 0; i < out.size(); ++i)
        EXPECT_TRUE(sameValue(out[i], expected.out[i])) << what << " output " << i << ": " << out[i] << " vs "
                                                        << expected.out[i];
      for (size_t i = 0; i < grad.size(); ++i)
        EXPECT_TRUE(sameValue(grad[i], expected.grad[i])) << what << " grad[" << i << "]: " << grad[i] << " vs "
                                                          << expected.grad[i];
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

/// Indices for run-time indexing (indexPointsOf sets them to valid and invalid ones).
const char *const Indices = "input i = 1\ninput j = -1\n";

void expectExpression(const std::string &expression, bool indexPoints = false) {
  expectCompiledMatchesInterpreter(std::string(Arguments) + Indices + "node f = " + expression + "\noutput f\n",
                                   indexPoints);
}

/// A tensor and its sum, then a chain of `length` scalar products, then `last` (which may read x, t, m and the
/// chain's end, `end`): over 250 nodes cuts a function into parts.
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
void expectGradient(const std::string &expression, bool indexPoints = false) {
  expectCompiledGradientMatchesInterpreter(std::string(Arguments) + Indices + "node e = " + expression +
                                               "\nnode f = sum(e)\nnode g = sum(e * e) + s\noutput f\noutput g\n",
                                           indexPoints);
}

/// The Jacobian of the expression (a tensor output, between two others), compiled and interpreted.
void expectJacobian(const std::string &expression) {
  expectCompiledGradientMatchesInterpreter(std::string(Arguments) + "node e = " + expression +
                                           "\nnode g = sum(e * e) + s\nnode h = e * s\noutput g\noutput e\noutput h\n");
}

/// The number of instructions in the module of `script` with its gradient function.
unsigned gradientModuleSize(const std::string &script) {
  Graph graph = compileOrFail(script);
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  llvm::LLVMContext context;
  return generateModule(graph, &gradient, "m", context)->getInstructionCount();
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

TEST(TensorCodeGen, MatMulRegisterTilesAndEveryRemainder) {
  // Tiles of 4 x 8 result elements: whole ones, rows and columns left over (alone and together; left-over
  // rows in tiles of 1 x 32, 1 x 8 and 1 x 1), vectors on either side, and k past one chunk of 256 products (a
  // whole chunk and a part). [m, k, n]; m or n 0 is a vector.
  const int64_t shapes[][3] = {{1, 1, 1},  {3, 5, 7},    {17, 9, 33}, {4, 8, 8},  {8, 3, 16},  {5, 300, 9},
                               {3, 5, 47}, {6, 40, 41},  {0, 9, 33},  {0, 300, 17}, {0, 7, 64}, {17, 9, 0},
                               {5, 300, 0}, {0, 300, 0}, {9, 256, 8}};
  for (const auto &[m, k, n] : shapes) {
    std::string x = m ? std::to_string(m) + "," + std::to_string(k) : std::to_string(k);
    std::string y = n ? std::to_string(k) + "," + std::to_string(n) : std::to_string(k);
    std::string script = "input x[" + x + "] = uniform(-2, 2)\ninput y[" + y + "] = uniform(-2, 2)\n";
    expectCompiledMatchesInterpreter(script + "node f = x @ y\noutput f\n");
    if (k < 256) // the gradient: products of transposes (each its own tiling)
      expectCompiledGradientMatchesInterpreter(script + "node f = sum(sin(x @ y))\noutput f\n");
  }
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

const char *const Slices[] = {"a[0:1]", "a[:, 1]", "a[-1:, 1:]", "a[:, :2] * v[1:]", "u[:, 1:3, 2]", "u[1, :, 1:3]",
                              "u[0, 1:2]", "w[:2, -3:]", "w[-9:9, 1]", "(a @ w)[:, 1:3]", "u[1:, -1, :3]"};

TEST(TensorCodeGen, SlicesCopyWithStrides) {
  for (const char *expression : Slices)
    expectExpression(expression);
}

const char *const RunTimeIndices[] = {"a[i]",        "a[i, j]",          "v[i]",        "a[:, j]",
                                      "u[i, 1:3, j]", "u[1, i]",          "u[:, j, i]",  "exp(v)[i + j]",
                                      "(a @ w)[j, i]", "w[i] * v[j]",     "u[j, i, 1:]",     "a[1:, i] + c[j]"};

TEST(TensorCodeGen, RunTimeIndicesGiveTheInterpretersNumbersAndNaN) {
  for (const char *expression : RunTimeIndices)
    expectExpression(expression, /*indexPoints=*/true);
}

TEST(TensorCodeGen, InvalidRunTimeIndicesGiveNaNWithoutReadingOutside) {
  // A read outside the tensor would give its neighbours' numbers (or fault, for huge indices), not NaN. f reads a
  // row (2 of them), g and h a column (3).
  Graph graph = compileOrFail("input x[2,3] = [[1, 2, 3], [4, 5, 6]]\ninput i = 0\n"
                              "node f = x[i]\nnode g = x[1, i]\nnode h = x[:, i]\noutput f, g, h\n");
  for (unsigned optLevel : {0u, 2u}) {
    auto model = llvm::cantFail(CompiledModel::create(graph, CompiledModel::ForwardOnly, optLevel));
    auto run = [&](double index) {
      std::vector<double> in = graph.argumentDefaults(), out(6, 12345.0);
      in.back() = index;
      model->forward(in.data(), out.data());
      return out;
    };
    EXPECT_THAT(run(-2), testing::ElementsAre(1, 2, 3, 5, 2, 5)) << "-O" << optLevel;
    std::vector<double> columnOnly = run(2);
    EXPECT_THAT(llvm::ArrayRef<double>(columnOnly).drop_front(3), testing::ElementsAre(6, 3, 6));
    for (double index : {2.0, -4.0, 3.0, 0.5, -1.5, double(NAN), double(INFINITY), -1e300, 9.3e18, 0x1p63}) {
      std::vector<double> out = run(index);
      for (size_t k = 0; k < (index == 2 ? 3u : 6u); ++k)
        EXPECT_TRUE(std::isnan(out[k])) << "-O" << optLevel << " at " << index << ", element " << k << ": " << out[k];
    }
  }
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
  // Over 250 nodes (a part): the function is cut into parts, and a tensor and a sum made in the first part are read
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

TEST(TensorCodeGen, GradientsOfSlicesAndRunTimeIndices) {
  // index_grad with strides, and dynamic_index_grad, which places nothing where the index is not valid.
  for (const char *expression : Slices)
    expectGradient(expression);
  for (const char *expression : RunTimeIndices)
    expectGradient(expression, /*indexPoints=*/true);
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

TEST(TensorCodeGen, JacobiansOfTensorOutputs) {
  for (const char *expression :
       {"a + v", "c * r - s", "sigmoid(a) * tanh(c)", "sqrt(a) + log(abs(v))", "relu(a) + max(a, v)",
        "where(a > 0, a, c * r)", "a < v", "a @ w", "v @ w", "a @ v", "c @ r", "sum(u, axis=1)",
        "mean(u, axis=-1)", "sum(a)", "u[1]", "(a @ w)[1] * v[0]", "a[1, 2]"})
    expectJacobian(expression);
  // An output that is an argument: its Jacobian is the identity, from the seed itself.
  expectCompiledGradientMatchesInterpreter(std::string(Arguments) + "node f = sum(w)\noutput w\noutput f\n");
  // Several tensor outputs of one shape, beside scalar ones: the simplified gradient graph keeps one seed per
  // output (equal-looking leaves, never merged) and finds each sweep's seeded nodes again.
  expectCompiledGradientMatchesInterpreter(std::string(Arguments) +
                                           "node y = sigmoid(a)\nnode z = a * 3\nnode f = sum(y)\n"
                                           "node g = r * 1 + 0\noutput y, f, z, g\n");
}

TEST(TensorCodeGen, JacobianAcrossGraphPartsAndOnTheHeap) {
  // A tensor output of a chain of over 250 backward nodes: its loop's body is cut into parts, which the loop
  // calls with its row of grad.
  expectCompiledGradientMatchesInterpreter(longChain(2100, "t * end + m"));
  // A [40] output over a workspace of more than 64 KiB.
  expectCompiledGradientMatchesInterpreter("input x[40,1] = uniform(-1, 1)\ninput y[1,40] = uniform(-1, 1)\n"
                                           "node p = x * y\nnode q = exp(p) @ p\nnode f = mean(q, axis=0)\noutput f\n");
}

TEST(TensorCodeGen, JacobianCodeDoesNotGrowWithTheOutput) {
  // A [1000] output's gradient function is the [4] one's: one reverse sweep in a loop over the rows, not one
  // sweep per element (but for its workspace: one alloca at [4], a call to malloc and one to free at [1000]).
  auto script = [](int n) {
    std::string size = std::to_string(n);
    return "input x[" + size + "] = 0.5\nparam w[" + size + "] = 2\ninput s = 3\n"
           "node y = sin(x * w) * s + x\nnode l = sum(y)\noutput y\noutput l\n";
  };
  EXPECT_EQ(gradientModuleSize(script(1000)), gradientModuleSize(script(4)) + 1);
}

TEST(TensorCodeGen, LoopsAreNotUnrolledPerElement) {
  // The module of a 297x297 matrix product, its softmax, max and argmax is the size of a 41x41 one: loops, not
  // one instruction per element (but for its workspace: one alloca at 41x41, and a call to malloc and one to free
  // at 297x297). Both sizes leave rows and columns past the whole register tiles of @ (297 = 9 * 32 + 8 + 1, as
  // 41), so both have every kind of tile.
  auto instructions = [](int n) {
    std::string size = std::to_string(n);
    Graph graph = compileOrFail("input a[" + size + "," + size + "] = 1\ninput b[" + size + "," + size +
                                "] = 2\nnode c = a @ b\nnode f = sum(softmax(c), axis=0) + logsumexp(c, axis=0) + "
                                "max(transpose(c), axis=1) + argmax(c, axis=0)\noutput f\n");
    llvm::LLVMContext context;
    auto module = generateModule(graph, nullptr, "m", context);
    return module->getInstructionCount();
  };
  EXPECT_EQ(instructions(297), instructions(41) + 1);
}

TEST(TensorCodeGen, MatMulsShareOneStackPanelPerFunction) {
  // Three products (and in the gradient, their transposed products) with whole register tiles: each function
  // copies B's columns to one panel on the stack, however many products it has.
  Graph graph = compileOrFail("input a[8,8] = 1\ninput b[8,8] = 2\nnode c = a @ b\nnode d = c @ b\nnode e = d @ c\n"
                              "node f = sum(e)\noutput f\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  llvm::LLVMContext context;
  auto module = generateModule(graph, &gradient, "m", context);
  for (const char *name : {"m_forward", "m_gradient"}) {
    llvm::Function *function = module->getFunction(name);
    ASSERT_TRUE(function) << name;
    unsigned panels = 0;
    for (llvm::Instruction &instruction : llvm::instructions(*function))
      panels += llvm::isa<llvm::AllocaInst>(instruction) && instruction.getName().starts_with("matmul.panel");
    EXPECT_EQ(panels, 1u) << name;
  }
}

TEST(TensorCodeGen, IndexingIsNotUnrolledPerElement) {
  auto instructions = [](int n) {
    std::string size = std::to_string(n);
    Graph graph = compileOrFail("input a[" + size + "," + size + "] = 1\ninput i = 1\n"
                                "node f = sum(a[1:, 2:]) + sum(a[:, i]) + sum(a[i]) + sum(a[1:3, i])\noutput f\n");
    auto gradient = llvm::cantFail(buildGradientGraph(graph));
    llvm::LLVMContext context;
    return generateModule(graph, &gradient, "m", context)->getInstructionCount();
  };
  EXPECT_EQ(instructions(16), instructions(4));
}
