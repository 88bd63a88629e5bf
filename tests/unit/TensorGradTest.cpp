//===- TensorGradTest.cpp - Gradients of tensor scripts, against differences ===//
//
// Every tensor op's vector-Jacobian product (and broadcasting's sum_to) checked against central differences of
// the interpreter's forward values, for every element of every argument: broadcasting both ways and with a
// scalar, `@` in its four rank cases, sum, mean, max and min with and without an axis (max and min also at ties
// and NaN, exactly), the softmax family (also at logits of 1000), transpose, argmax, literal indexing and
// slices, indices computed at run time (valid or not), comparisons and where. further.bp's gradient is the
// spec's, to the last digit. Tensor outputs: every entry of the Jacobian that evaluateGradient computes (one
// sweep, evaluated once per row with a one-hot seed), laid out row-major over [output elements][argument
// elements], against central differences of every output element.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include <cmath>

using namespace bp;
using bp::test::compileOrFail;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

/// The gradient of the script's one (scalar) output with respect to each argument, flat in argument order.
std::vector<double> gradientOf(const Graph &graph, const std::vector<double> &in) {
  auto gradient = buildGradientGraph(graph);
  EXPECT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  if (!gradient)
    return {};
  EXPECT_FALSE(llvm::errorToBool(gradient->graph.verify()));
  Values values = evaluateGraph(gradient->graph, in);
  std::vector<double> flat;
  std::vector<NodeId> arguments = graph.arguments();
  for (size_t a = 0; a < arguments.size(); ++a) {
    NodeId entry = gradient->sweeps[0].gradient[a];
    EXPECT_EQ(gradient->graph.node(entry).type.shape, graph.node(arguments[a]).type.shape);
    llvm::ArrayRef<double> elements = values.tensor(entry);
    flat.insert(flat.end(), elements.begin(), elements.end());
  }
  return flat;
}

/// Compares the gradient at the defaults with central differences, element by element.
void expectDifferencesAgree(const std::string &script) {
  SCOPED_TRACE(script);
  Graph graph = compileOrFail(script);
  std::vector<double> in = graph.argumentDefaults();
  std::vector<double> analytic = gradientOf(graph, in);
  ASSERT_EQ(analytic.size(), in.size());
  NodeId f = graph.outputs()[0].node;
  for (size_t i = 0; i < in.size(); ++i) {
    double h = 1e-6 * std::max(1.0, std::fabs(in[i]));
    std::vector<double> plus = in, minus = in;
    plus[i] += h;
    minus[i] -= h;
    double numeric = (evaluateGraph(graph, plus)[f] - evaluateGraph(graph, minus)[f]) / (plus[i] - minus[i]);
    EXPECT_NEAR(analytic[i], numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << "element " << i;
  }
}

/// Every output's elements, flat.
std::vector<double> outputsOf(const Graph &graph, const std::vector<double> &in) {
  Values values = evaluateGraph(graph, in);
  std::vector<double> out;
  for (const Graph::Output &output : graph.outputs())
    llvm::append_range(out, values.tensor(output.node));
  return out;
}

/// Compares every entry of the Jacobian of every output, at the defaults, with central differences.
void expectJacobianAgrees(const std::string &script) {
  SCOPED_TRACE(script);
  Graph graph = compileOrFail(script);
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient)) << llvm::toString(gradient.takeError());
  EXPECT_FALSE(llvm::errorToBool(gradient->graph.verify()));
  std::vector<double> in = graph.argumentDefaults();
  Jacobian jacobian = evaluateGradient(*gradient, in);
  std::vector<double> out = outputsOf(graph, in);
  EXPECT_EQ(jacobian.out, out);
  ASSERT_EQ(jacobian.grad.size(), out.size() * in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    double h = 1e-6 * std::max(1.0, std::fabs(in[i]));
    std::vector<double> plus = in, minus = in;
    plus[i] += h;
    minus[i] -= h;
    std::vector<double> above = outputsOf(graph, plus), below = outputsOf(graph, minus);
    for (size_t r = 0; r < out.size(); ++r) {
      double numeric = (above[r] - below[r]) / (plus[i] - minus[i]);
      EXPECT_NEAR(jacobian.grad[r * in.size() + i], numeric, 1e-6 * std::max(1.0, std::fabs(numeric)))
          << "d out[" << r << "] / d in[" << i << "]";
    }
  }
}

constexpr const char *Matrix = "input a[2,3] = [[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]\n";

} // namespace

TEST(TensorGrad, ElementwiseOpsSumBroadcastOperandsBack) {
  expectDifferencesAgree(std::string(Matrix) + "input b[3] = [0.5, 2, -1]\nnode l = sum(sin(a + b) * b - a / b)\n"
                                               "output l\n");
  expectDifferencesAgree("input c[2,1] = [[0.5], [-1.5]]\ninput r[1,3] = [[2, 0.25, -0.75]]\n"
                         "node l = sum(tanh(c * r) - c ^ 2 * exp(r))\noutput l\n");
  expectDifferencesAgree(std::string(Matrix) + "input s = 1.9\nparam t = -0.3\n"
                                               "node l = sum(s * a - sigmoid(a * t) + max(a, s - 1.5))\noutput l\n");
  expectDifferencesAgree("input x[3] = [0.5, 1.5, 2.5]\ninput y[2,3] = [[1, 2, 3], [0.5, 0.25, 2]]\n"
                         "node l = sum(log(x * y) + sqrt(y) / x - min(x, 1) * y)\noutput l\n");
}

TEST(TensorGrad, ComparisonsAndWhereSelectElementwise) {
  expectDifferencesAgree(std::string(Matrix) + "input b[3] = [0.5, 2, -1]\n"
                                               "node l = sum(where(a > b, a * a, sin(a) * b) + (a < 0) * a)\n"
                                               "output l\n");
  // The branch not taken contributes an exact zero, even where its derivative is infinite.
  Graph graph = compileOrFail("input x[3] = [0, -1, 4]\nnode l = sum(where(x > 0, sqrt(x), 0))\noutput l\n");
  EXPECT_THAT(gradientOf(graph, graph.argumentDefaults()), ElementsAre(0, 0, 0.25));
}

TEST(TensorGrad, MatMulInItsFourRankCases) {
  const char *cases[] = {
      "input A[2,3] = [[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]\nparam B[3,2] = [[1, -0.5], [0.25, 2], [-1, 0.75]]\n",
      "input A[3] = [0.3, -1.2, 0.7]\nparam B[3,2] = [[1, -0.5], [0.25, 2], [-1, 0.75]]\n",
      "input A[2,3] = [[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]\nparam B[3] = [1, 0.25, -1]\n",
      "input A[3] = [0.3, -1.2, 0.7]\nparam B[3] = [1, 0.25, -1]\n",
  };
  for (const char *declarations : cases)
    expectDifferencesAgree(std::string(declarations) + "node l = sum(sin(A @ B))\noutput l\n");
}

TEST(TensorGrad, SumAndMeanOverEveryElementOrOneAxis) {
  for (const char *reduction : {"sum(a)", "mean(a)", "sum(a, axis=0)", "sum(a, axis=1)", "mean(a, axis=0)",
                                "mean(a, axis=-1)"})
    expectDifferencesAgree(std::string(Matrix) + "node r = " + reduction + "\nnode l = sum(sin(r) * r)\noutput l\n");
  expectDifferencesAgree("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                         "node l = sum(exp(mean(x, axis=1) / 4)) + sum(sin(sum(x, axis=2)))\noutput l\n");
}

TEST(TensorGrad, LiteralIndexingPlacesTheAdjoint) {
  expectDifferencesAgree(std::string(Matrix) + "node l = sin(a[1, 2]) * a[0, -1] + sum(a[-1] * a[0])\noutput l\n");
  Graph graph = compileOrFail(std::string(Matrix) + "node l = a[1, 0] * 3\noutput l\n");
  EXPECT_THAT(gradientOf(graph, graph.argumentDefaults()), ElementsAre(0, 0, 0, 3, 0, 0));
}

TEST(TensorGrad, SlicesPlaceTheAdjointWithStrides) {
  expectDifferencesAgree(std::string(Matrix) + "node l = sum(sin(a[:, 1]) * a[0, 1:]) + sum(a[-1:, :2] * a[:1, -2:])"
                                               " + sum(exp(a[-9:9, 0:-1]))\noutput l\n");
  expectDifferencesAgree("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                         "node l = sum(sin(x[1:, 0:2, 1]) * x[0, 1:, 0]) + sum(x[:, 1] @ x[0, :2])\noutput l\n");
  Graph graph = compileOrFail(std::string(Matrix) + "node l = sum(a[:, 1:] * 2) + sum(a[1:, 0])\noutput l\n");
  EXPECT_THAT(gradientOf(graph, graph.argumentDefaults()), ElementsAre(0, 2, 2, 1, 2, 2));
}

TEST(TensorGrad, RunTimeIndicesScatterTheAdjoint) {
  // The indices are expressions of constants here: differences of an argument used as an index would leave the
  // integers.
  expectDifferencesAgree(std::string(Matrix) + "node k = 3 - 2\nnode l = sin(a[k, k - 1]) * sum(a[k - 2])"
                                               " + sum(a[:, k] * a[1:, k + 1]) + sum(exp(a[0:1, -k]))\noutput l\n");
  expectDifferencesAgree("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                         "node k = 2 ^ 0\nnode l = sum(sin(x[k, :, k - 1]) * x[0, :, k]) + sum(x[:, k + 1] @ x[k, 0])"
                         "\noutput l\n");
}

TEST(TensorGrad, RunTimeIndexGetsNoGradientAndAnInvalidOnePlacesNothing) {
  Graph graph = compileOrFail(std::string(Matrix) + "input i = 1\nnode l = a[i, -1] * 3 + sum(a[:, i])\noutput l\n");
  std::vector<double> in = graph.argumentDefaults();
  EXPECT_THAT(gradientOf(graph, in), ElementsAre(0, 1, 0, 0, 1, 3, 0));
  in.back() = -2; // a[0, -1] and a[:, 1]
  EXPECT_THAT(gradientOf(graph, in), ElementsAre(0, 1, 3, 0, 1, 0, 0));
  in.back() = 2; // a row out of range, a column in range
  EXPECT_THAT(gradientOf(graph, in), ElementsAre(0, 0, 1, 0, 0, 1, 0));
  for (double invalid : {3.0, -4.0, 0.5, double(NAN), double(INFINITY), -1e300}) {
    in.back() = invalid;
    EXPECT_TRUE(std::isnan(evaluateGraph(graph, in)[graph.outputs()[0].node])) << invalid;
    EXPECT_THAT(gradientOf(graph, in), ElementsAre(0, 0, 0, 0, 0, 0, 0)) << invalid;
  }
}

TEST(TensorGrad, MaxAndMinOverEveryElementOrOneAxis) {
  for (const char *reduction : {"max(a)", "min(a)", "max(a, axis=0)", "max(a, axis=1)", "min(a, axis=0)",
                                "min(a, axis=-1)"})
    expectDifferencesAgree(std::string(Matrix) + "node r = " + reduction + "\nnode l = sum(sin(r) * r)\noutput l\n");
  expectDifferencesAgree("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                         "node l = sum(exp(max(x, axis=1) / 4)) + sum(sin(min(x, axis=2))) + max(x) * min(x)\n"
                         "output l\n");
}

TEST(TensorGrad, MaxAndMinSendTheAdjointToTheFirstExtremeOnly) {
  auto gradient = [](const std::string &expression, const std::string &x) {
    Graph graph = compileOrFail("input x[5] = " + x + "\nnode l = " + expression + "\noutput l\n");
    return gradientOf(graph, graph.argumentDefaults());
  };
  // Ties: the first maximum (minimum) takes all of the adjoint, as the forward value takes it.
  EXPECT_THAT(gradient("max(x)", "[1, 3, 3, 2, 3]"), ElementsAre(0, 1, 0, 0, 0));
  EXPECT_THAT(gradient("min(x) * 2", "[1, 0, 3, 0, 1]"), ElementsAre(0, 2, 0, 0, 0));
  // Signed zeros are equal: the first of them wins.
  EXPECT_THAT(gradient("max(x)", "[-0.0, 0, -1, -0.0, -2]"), ElementsAre(1, 0, 0, 0, 0));
  // NaN wins over every number, the first NaN over later ones: the value is NaN, its derivative goes to it.
  Graph nan = compileOrFail("input x[5] = [1, 3, 2, 5, 0]\nnode l = max(x)\nnode m = min(x)\noutput l, m\n");
  std::vector<double> in = {1, 3, NAN, 5, NAN};
  auto built = buildGradientGraph(nan);
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  Values values = evaluateGraph(built->graph, in);
  EXPECT_TRUE(std::isnan(values[nan.outputs()[0].node]));
  EXPECT_TRUE(std::isnan(values[nan.outputs()[1].node]));
  for (const ReverseSweep &sweep : built->sweeps)
    EXPECT_THAT(values.tensor(sweep.gradient[0]), ElementsAre(0, 0, 1, 0, 0));
  // They select: below them the chain rule keeps the zeros of the elements not taken, even where the adjoint
  // is infinite (sqrt'(0)).
  EXPECT_THAT(gradient("sqrt(max(x) - 3)", "[1, 3, 2, 3, -1]"), ElementsAre(0, INFINITY, 0, 0, 0));
  EXPECT_THAT(gradient("sqrt(sum(min(x, axis=0)) + 1)", "[1, -1, 2, -1, 0]"), ElementsAre(0, INFINITY, 0, 0, 0));
}

TEST(TensorGrad, SoftmaxFamilyOverTheLastAxisOrOne) {
  for (const char *op : {"softmax", "log_softmax", "logsumexp"})
    for (const char *axis : {"", ", axis=0", ", axis=1", ", axis=-2"})
      expectDifferencesAgree(std::string(Matrix) + "node l = sum(sin(3 * " + op + "(a" + axis + ")))\noutput l\n");
  expectDifferencesAgree("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                         "node l = sum(sin(softmax(x, axis=1))) + sum(log_softmax(x) ^ 2) + sum(logsumexp(x, axis=0))\n"
                         "output l\n");
  expectDifferencesAgree("input x[4] = [0.5, -1, 2, 0]\nnode l = -log_softmax(x)[2] + softmax(x)[1] * logsumexp(x)\n"
                         "output l\n");
  // A scalar is one run of one element: softmax 1, log_softmax 0, logsumexp itself.
  expectDifferencesAgree("input s = 0.7\nnode l = softmax(s) * s + log_softmax(s) + logsumexp(s) * s\noutput l\n");
}

TEST(TensorGrad, SoftmaxFamilyIsStableForLargeLogits) {
  // Logits of 1000 overflow exp; with the maximum subtracted first, values and gradients stay finite (the
  // numbers: NumPy, by hand, as exp(z - max(z)) / sum).
  std::string z = "input z[3] = [1000, 999, 1001]\n";
  expectDifferencesAgree(z + "node l = -log_softmax(z)[0]\noutput l\n");
  expectDifferencesAgree(z + "node l = logsumexp(z) - softmax(z)[2]\noutput l\n");
  Graph graph = compileOrFail(z + "node l = -log_softmax(z)[0]\noutput l\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  EXPECT_DOUBLE_EQ(values[graph.outputs()[0].node], 1.4076059644443804);
  EXPECT_THAT(gradientOf(graph, graph.argumentDefaults()),
              testing::Pointwise(testing::DoubleNear(1e-15),
                                 std::vector<double>{0.24472847105479767 - 1, 0.09003057317038043, 0.6652409557748218}));
  Graph lse = compileOrFail("input z[2,2] = [[1000, 1000], [-1000, -1000]]\nnode l = logsumexp(z)\noutput l\n");
  EXPECT_EQ(lse.node(lse.outputs()[0].node).type.shape, Shape{2});
  Values sums = evaluateGraph(lse, lse.argumentDefaults());
  EXPECT_THAT(sums.tensor(lse.outputs()[0].node), ElementsAre(1000 + std::log(2.0), -1000 + std::log(2.0)));
}

TEST(TensorGrad, TransposeAndArgmax) {
  expectDifferencesAgree(std::string(Matrix) + "param w[2,3] = [[0.5, 2, -1], [1, -0.25, 0.75]]\n"
                                               "node l = sum(sin(transpose(a) @ w) * (transpose(w) @ a))\n"
                                               "output l\n");
  // argmax is piecewise constant: derivative 0, and it selects, as the comparisons do.
  expectDifferencesAgree(std::string(Matrix) + "node l = argmax(a) * sum(a) + sum(argmax(a, axis=0) * a[0])\n"
                                               "output l\n");
  Graph graph = compileOrFail(std::string(Matrix) + "node l = argmax(a) + sum(argmax(a, axis=1))\noutput l\n");
  EXPECT_THAT(gradientOf(graph, graph.argumentDefaults()), ElementsAre(0, 0, 0, 0, 0, 0));
}

TEST(TensorGrad, FurtherBpGivesTheSpecsGradient) {
  Graph graph = compileOrFail("input X[1,3] = [[2, 4, -2]]\n"
                              "param W[3,2] = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]\n"
                              "node y = X @ W\nnode yo = sigmoid(y)\nnode loss = -log(yo[0, 0])\noutput loss\n");
  std::vector<double> grad = gradientOf(graph, graph.argumentDefaults());
  ASSERT_EQ(grad.size(), 9u);
  EXPECT_THAT(llvm::ArrayRef<double>(grad).drop_front(3),
              ElementsAre(-0.13827684068669388, 0, -0.27655368137338776, 0, 0.13827684068669388, 0));
}

TEST(TensorGrad, JacobiansOfElementwiseOpsWithBroadcasting) {
  expectJacobianAgrees(std::string(Matrix) + "input b[3] = [0.5, 2, -1]\nnode y = sin(a + b) * b - a / b\noutput y\n");
  expectJacobianAgrees("input c[2,1] = [[0.5], [-1.5]]\ninput r[1,3] = [[2, 0.25, -0.75]]\ninput s = 1.5\n"
                       "node y = tanh(c * r) - s * exp(r)\noutput y\n");
  expectJacobianAgrees(std::string(Matrix) + "input b[3] = [0.5, 2, -1]\n"
                                             "node y = where(a > b, a * a, sin(a) * b) + max(a, 0.25)\noutput y\n");
}

TEST(TensorGrad, JacobiansOfMatMulReductionsAndIndexing) {
  const char *matmuls[] = {
      "input A[2,3] = [[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]\nparam B[3,2] = [[1, -0.5], [0.25, 2], [-1, 0.75]]\n",
      "input A[3] = [0.3, -1.2, 0.7]\nparam B[3,2] = [[1, -0.5], [0.25, 2], [-1, 0.75]]\n",
      "input A[2,3] = [[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]\nparam B[3] = [1, 0.25, -1]\n",
  };
  for (const char *declarations : matmuls)
    expectJacobianAgrees(std::string(declarations) + "node y = A @ B\nnode z = sigmoid(A @ B)\noutput y\noutput z\n");
  for (const char *reduction : {"sum(a, axis=0)", "sum(a, axis=1)", "mean(a, axis=0)", "mean(a, axis=-1)"})
    expectJacobianAgrees(std::string(Matrix) + "node y = exp(" + reduction + ")\noutput y\n");
  expectJacobianAgrees("input x[2,3,2] = [[[1, 2], [3, 4], [5, 6]], [[0.5, -1], [0.25, 2], [-3, 1]]]\n"
                       "node y = sum(x, axis=1) * mean(x, axis=1)\noutput y\n");
  expectJacobianAgrees(std::string(Matrix) + "node y = a[1] * a[0]\nnode z = sin(a[-1]) * a[0, 2]\noutput y, z\n");
}

TEST(TensorGrad, JacobianRowsFollowTheOutputsElements) {
  // grad is row-major over [output elements][argument elements]: the rows of x, then those of y, then l's;
  // the columns x[0], x[1], s. An output that is an argument has the identity as its Jacobian.
  Graph graph = compileOrFail("input x[2] = [1, 2]\ninput s = 3\nnode y = x * s\nnode l = sum(y)\n"
                              "output x\noutput y\noutput l\n");
  auto gradient = llvm::cantFail(buildGradientGraph(graph));
  Jacobian jacobian = evaluateGradient(gradient, graph.argumentDefaults());
  EXPECT_THAT(jacobian.out, ElementsAre(1, 2, 3, 6, 9));
  EXPECT_THAT(jacobian.grad, ElementsAre(1, 0, 0, 0, 1, 0, 3, 0, 1, 0, 3, 2, 3, 3, 3));
  // One sweep per output, whatever its size: the seed is a leaf of the output's shape, not an argument.
  ASSERT_EQ(gradient.sweeps.size(), 3u);
  EXPECT_EQ(gradient.graph.node(gradient.sweeps[1].seed).type.shape, Shape{2});
  EXPECT_EQ(gradient.sweeps[2].seed, InvalidNode);
  EXPECT_EQ(gradient.graph.arguments(), graph.arguments());
}

TEST(TensorGrad, JacobianEntriesCountTowardsTheGradientSizeLimit) {
  // A [100] output by 100 argument elements: 10,000 entries, over a limit of 5,000 and under one of 20,000.
  Graph graph = compileOrFail("input x[100] = 1\nnode y = x * 2\noutput y\n");
  EXPECT_THAT(llvm::toString(buildGradientGraph(graph, 5000).takeError()),
              HasSubstr("gradient too large: with output 'y' (1 of 1) it takes more than 5000"));
  EXPECT_TRUE(bool(buildGradientGraph(graph, 20000)));
}
