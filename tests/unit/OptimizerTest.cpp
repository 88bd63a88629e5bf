//===- OptimizerTest.cpp - Update arithmetic against hand-computed steps ---===//
#include "TestHelpers.h"

#include "bp/Interpreter.h"
#include "bp/Optimizer.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace bp;
using bp::test::compileOrFail;

TEST(Optimizer, SgdIsTheTutorialsUpdate) {
  // Maximizing f = (a + b) * c at (5, -6, 7): the gradient is (7, 7, -1); optimizers minimize, so pass -g.
  std::vector<double> values = {5, -6, 7};
  Optimizer::create(OptimizerKind::SGD, 0.01, 3)->step(values, {-7.0, -7.0, 1.0});
  EXPECT_EQ(values, (std::vector<double>{5 + 0.01 * 7, -6 + 0.01 * 7, 7 + 0.01 * -1}));
  // The tutorial's number after one step, computed by bp's interpreter on the script at the new values.
  Graph tutorial = compileOrFail("param a = 5\nparam b = -6\nparam c = 7\nnode f = (a + b) * c\noutput f\n");
  EXPECT_EQ(evaluateGraph(tutorial, values)[tutorial.outputs()[0].node], -6.0113999999999965);
}

TEST(Optimizer, MomentumAccumulatesVelocity) {
  std::vector<double> values = {1.0};
  auto momentum = Optimizer::create(OptimizerKind::Momentum, 0.1, 1);
  momentum->step(values, {2.0}); // u = 2,            v = 1 - 0.2 = 0.8
  EXPECT_DOUBLE_EQ(values[0], 0.8);
  momentum->step(values, {2.0}); // u = 0.9*2 + 2 = 3.8, v = 0.8 - 0.38 = 0.42
  EXPECT_DOUBLE_EQ(values[0], 0.42);
  momentum->step(values, {0.0}); // u = 3.42,         v = 0.42 - 0.342 = 0.078
  EXPECT_DOUBLE_EQ(values[0], 0.078);
}

TEST(Optimizer, AdamCorrectsItsBias) {
  std::vector<double> values = {1.0, -2.0};
  auto adam = Optimizer::create(OptimizerKind::Adam, 0.1, 2);
  // Step 1: m = 0.1 g, s = 0.001 g^2; bias-corrected m/(sqrt(s)) = g/|g|, so each value moves by 0.1 (less eps).
  adam->step(values, {4.0, -0.5});
  EXPECT_NEAR(values[0], 1.0 - 0.1 * 4.0 / (4.0 + 1e-8), 1e-15);
  EXPECT_NEAR(values[1], -2.0 + 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  // Step 2 with g = 1 for the first value: m = 0.9*0.4 + 0.1 = 0.46, s = 0.999*0.016 + 0.001 = 0.016984.
  adam->step(values, {1.0, 0.0});
  double mHat = 0.46 / (1 - 0.81), sHat = 0.016984 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(values[0], 1.0 - 0.1 * 4.0 / (4.0 + 1e-8) - 0.1 * mHat / (std::sqrt(sHat) + 1e-8), 1e-12);
  // The second value's gradient is 0 now, yet it keeps moving on its momentum: m = 0.9 * -0.05 = -0.045,
  // s = 0.999 * 0.00025 = 0.00024975.
  double mHat1 = -0.045 / (1 - 0.81), sHat1 = 0.00024975 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(values[1], -2.0 + 0.1 * 0.5 / (0.5 + 1e-8) - 0.1 * mHat1 / (std::sqrt(sHat1) + 1e-8), 1e-12);
  EXPECT_GT(values[1], -2.0 + 0.1 * 0.5 / (0.5 + 1e-8)); // it moved on, in the direction of its first step
}

TEST(Optimizer, NamesRoundTrip) {
  for (OptimizerKind kind : {OptimizerKind::SGD, OptimizerKind::Momentum, OptimizerKind::Adam})
    EXPECT_EQ(parseOptimizerKind(optimizerName(kind)), kind);
  EXPECT_FALSE(parseOptimizerKind("lbfgs"));
}
