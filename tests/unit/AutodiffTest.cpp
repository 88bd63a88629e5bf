//===- AutodiffTest.cpp - Gradients against finite differences and hand-derived values ---===//
//
// Gradients here come from the gradient graph evaluated by the interpreter; CodeGenTest checks that the
// compiled code computes the same numbers bit for bit. The reference values are independent: central
// finite differences of the forward graph, or derivatives worked out by hand.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include <cmath>
#include <random>

using namespace bp;
using bp::test::compileOrFail;

namespace {

/// d output[o] / d argument[a] for every o and a, row-major.
std::vector<double> gradientAt(const Graph &graph, const std::vector<double> &in) {
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  Values values = evaluateGraph(gradient.graph, in);
  std::vector<double> result;
  for (const ReverseSweep &sweep : gradient.sweeps)
    for (NodeId id : sweep.gradient)
      result.push_back(values[id]);
  return result;
}

double outputAt(const Graph &graph, std::vector<double> in, size_t output = 0) {
  return evaluateGraph(graph, in)[graph.outputs()[output].node];
}

/// Central difference of output 0 with respect to argument `a`.
double numericDerivative(const Graph &graph, const std::vector<double> &in, size_t a) {
  double h = 1e-6 * std::max(1.0, std::fabs(in[a]));
  std::vector<double> plus = in, minus = in;
  plus[a] += h;
  minus[a] -= h;
  return (outputAt(graph, plus) - outputAt(graph, minus)) / (plus[a] - minus[a]);
}

} // namespace

// Every op alone against central differences: OpTableTest, whose list comes from the op table.

TEST(Autodiff, TutorialNumbers) {
  Graph nested = compileOrFail("input a = 5\ninput b = -6\ninput c = 7\nnode d = a + b\nnode f = d * c\noutput f\n");
  EXPECT_EQ(outputAt(nested, {5, -6, 7}), -7);
  EXPECT_EQ(gradientAt(nested, {5, -6, 7}), (std::vector<double>{7, 7, -1}));

  Graph neuron = compileOrFail("param a = 1\nparam b = -2\nparam c = -3\nnode f = sigmoid(c * (a + b))\noutput f\n");
  EXPECT_EQ(outputAt(neuron, {1, -2, -3}), 0.9525741268224334);
  // By hand: s = sigmoid(3), s' = s (1 - s); df/da = df/db = s' * c, df/dc = s' * (a + b).
  double s = 1 / (1 + std::exp(-3.0)), ds = s * (1 - s);
  std::vector<double> gradient = gradientAt(neuron, {1, -2, -3});
  EXPECT_DOUBLE_EQ(gradient[0], ds * -3);
  EXPECT_DOUBLE_EQ(gradient[1], ds * -3);
  EXPECT_DOUBLE_EQ(gradient[2], ds * -1);
}

TEST(Autodiff, FanOutSumsEveryUse) {
  // x is used four times; by hand d/dx (x*x + sin(x)*x) = 2x + cos(x) x + sin(x).
  Graph graph = compileOrFail("input x\nnode f = x * x + sin(x) * x\noutput f\n");
  for (double x : {-1.5, 0.3, 2.0}) {
    double expected = 2 * x + std::cos(x) * x + std::sin(x);
    EXPECT_NEAR(gradientAt(graph, {x})[0], expected, 1e-14 * std::max(1.0, std::fabs(expected)));
  }
}

TEST(Autodiff, DeepChain) {
  // n_k = sin(n_{k-1}) 2,000 times: the derivative is the product of the cosines along the chain.
  std::string script = "input x = 0.7\nnode n0 = x\n";
  for (int k = 1; k <= 2000; ++k)
    script += "node n" + std::to_string(k) + " = sin(n" + std::to_string(k - 1) + ")\n";
  script += "output n2000\n";
  Graph graph = compileOrFail(script);
  double value = 0.7, expected = 1;
  for (int k = 1; k <= 2000; ++k) {
    expected *= std::cos(value);
    value = std::sin(value);
  }
  EXPECT_NEAR(gradientAt(graph, {0.7})[0], expected, 1e-12);
  EXPECT_NEAR(gradientAt(graph, {0.7})[0], numericDerivative(graph, {0.7}, 0), 1e-7);
}

TEST(Autodiff, ConventionsAtKinks) {
  Graph graph = compileOrFail("input x\ninput y\nnode r = relu(x)\nnode a = abs(x)\nnode hi = max(x, y)\n"
                              "node lo = min(x, y)\noutput r, a, hi, lo\n");
  // Rows: r, a, hi, lo; columns: x, y. At x = y = 0 every op is at its kink.
  std::vector<double> gradient = gradientAt(graph, {0, 0});
  EXPECT_EQ(gradient, (std::vector<double>{0, 0, 0, 0, 1, 0, 1, 0})) << "relu'(0)=0, abs'(0)=0, ties to x";
  gradient = gradientAt(graph, {-1, 2});
  EXPECT_EQ(gradient, (std::vector<double>{0, 0, -1, 0, 0, 1, 1, 0}));
}

TEST(Autodiff, EveryOutputGetsItsOwnRow) {
  Graph graph = compileOrFail("input x = 2\ninput y = 3\nnode p = x * y\nnode q = x + y\nnode k = 4\noutput p, q, k\n");
  EXPECT_EQ(gradientAt(graph, {2, 3}), (std::vector<double>{3, 2, 1, 1, 0, 0}));
}

TEST(Autodiff, TwentyThousandTermSum) {
  std::string sum = "a";
  for (int i = 1; i < 20000; ++i)
    sum += " + a";
  Graph graph = compileOrFail("input a = 0.5\nnode s = " + sum + "\noutput s\n");
  EXPECT_EQ(outputAt(graph, {0.5}), 10000);
  EXPECT_EQ(gradientAt(graph, {0.5})[0], 20000);
}

TEST(Autodiff, SelectionSweepsOnlyTheChosenOutputsByTheChosenArguments) {
  // A cheap loss and an expensive chain: --of loss --wrt b builds one sweep, with adjoints only for the nodes
  // between b and loss, and its entries equal the full gradient's.
  std::string script = "input x = 0.5\nparam w = 1.5\nparam b = -0.25\nnode loss = (w * x + b) ^ 2\nnode c0 = x\n";
  for (int i = 1; i <= 200; ++i)
    script += "node c" + std::to_string(i) + " = sin(c" + std::to_string(i - 1) + " * w)\n";
  Graph graph = compileOrFail(script + "output loss, c200\n");
  GradientGraph full = llvm::cantFail(buildGradientGraph(graph));
  GradientSelection selection{{0}, {2}}; // loss by b (arguments: x, then w, b)
  GradientGraph chosen = llvm::cantFail(buildGradientGraph(graph, selection));
  ASSERT_EQ(chosen.sweeps.size(), 1u);
  EXPECT_EQ(chosen.sweeps[0].output, 0u);
  ASSERT_EQ(chosen.sweeps[0].gradient.size(), 1u);
  EXPECT_LT(chosen.graph.size() - chosen.forwardSize, 10u);
  EXPECT_GT(full.graph.size() - full.forwardSize, 400u);
  // loss = %3 ^ 2 with %3 = %2 + b: adjoints for loss, %3 and b only (not w * x, nor w or x).
  EXPECT_EQ(chosen.sweeps[0].adjoints.size(), 3u);
  EXPECT_EQ(chosen.sweeps[0].adjoint(*graph.lookup("w")), InvalidNode);
  EXPECT_EQ(chosen.rowOffsets(), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(chosen.columnOffsets(), (std::vector<size_t>{0, 1}));
  std::vector<double> in = graph.argumentDefaults();
  Jacobian all = evaluateGradient(full, in), part = evaluateGradient(chosen, in);
  EXPECT_EQ(part.out, all.out);
  ASSERT_EQ(part.grad.size(), 1u);
  EXPECT_EQ(part.grad[0], all.grad[2]); // row loss, column b
}

TEST(Autodiff, EachSweepHoldsOnlyItsOutputsCone) {
  // 2,000 outputs n_i = x * i: each sweep has adjoints for n_i and x alone, however large the graph.
  std::string script = "input x = 1.5\ninput y = 2\n";
  std::string outputs;
  for (int i = 0; i < 2000; ++i) {
    script += "node n" + std::to_string(i) + " = x * " + std::to_string(i + 2) + "\n";
    outputs += (i ? ", n" : "n") + std::to_string(i);
  }
  Graph graph = compileOrFail(script + "output " + outputs + "\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  ASSERT_EQ(gradient.sweeps.size(), 2000u);
  NodeId x = *graph.lookup("x"), y = *graph.lookup("y");
  Values values = evaluateGraph(gradient.graph, {1.5, 2});
  for (size_t o = 0; o < 2000; ++o) {
    const ReverseSweep &sweep = gradient.sweeps[o];
    NodeId output = graph.outputs()[o].node;
    ASSERT_EQ(sweep.adjoints.size(), 2u) << "output " << o;
    EXPECT_EQ(sweep.adjoints[0].first, output);
    EXPECT_EQ(sweep.adjoints[1].first, x);
    EXPECT_EQ(sweep.adjoint(x), sweep.gradient[0]);
    EXPECT_EQ(sweep.adjoint(y), InvalidNode);
    EXPECT_EQ(values[sweep.gradient[0]], double(o + 2));
    EXPECT_EQ(values[sweep.gradient[1]], 0);
  }
  // Backward nodes per output stay constant: the seed, the local derivative, one shared zero.
  EXPECT_LE(gradient.graph.size() - gradient.forwardSize, 3u * 2000);
}

TEST(Autodiff, GradientSizeLimitIsADiagnosticAtTheOutput) {
  // A chain c_k = c_(k-1) * x, every link an output: output k's sweep takes 2k chain-rule steps, plus one
  // entry per argument, so the gradient grows with the square of the chain.
  std::string script = "input x = 0.5\nnode c0 = x\n", outputs = "output c0";
  for (int k = 1; k <= 100; ++k) {
    script += "node c" + std::to_string(k) + " = c" + std::to_string(k - 1) + " * x\n";
    outputs += ", c" + std::to_string(k);
  }
  Graph graph = compileOrFail(script + outputs + "\n");
  auto fits = [&](size_t maxSize) {
    auto gradient = buildGradientGraph(graph, maxSize);
    return gradient ? true : (llvm::consumeError(gradient.takeError()), false);
  };
  // c0 (x itself) needs one entry, c1..c9 add 3 + 5 + ... + 19: 100 in all; c10 takes it to 121, and the whole
  // chain needs 101^2 = 10201.
  EXPECT_TRUE(fits(10201));
  EXPECT_FALSE(fits(10200));
  auto tooLarge = buildGradientGraph(graph, 120);
  ASSERT_FALSE(!!tooLarge);
  EXPECT_THAT(llvm::toString(tooLarge.takeError()),
              testing::HasSubstr("test.bp:103:48: error: gradient too large: with output 'c10' (11 of 101) it takes "
                                 "more than 120 chain-rule steps and gradient entries"));
}
