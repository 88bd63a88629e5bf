//===- BatchTest.cpp - The batched graph of a training step ---------------===//
//
// batchObjective's graph sums the per-row objectives of a step in one graph; where it cannot promise the row
// loop's numbers bit for bit, it gives none. TrainStepTest checks the compiled steps built from it.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Batch.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

/// A small digits network: input x[6], label (0 to 2; the arguments 0 to 6), and four params.
const char *const SmallDigits = "input x[6] = 0\ninput label\nparam W1[6,4] = normal(0, 0.5)\nparam b1[4] = 0.1\n"
                                "param W2[4,3] = normal(0, 0.5)\nparam b2[3] = 0\n"
                                "node h = tanh(x / 16 @ W1 + b1)\nnode z = h @ W2 + b2\n"
                                "node loss = -log_softmax(z)[label]\nnode accuracy = argmax(z) == label\n"
                                "output loss, accuracy\n";

std::vector<size_t> range(size_t begin, size_t end) {
  std::vector<size_t> values;
  for (size_t i = begin; i < end; ++i)
    values.push_back(i);
  return values;
}

TEST(Batch, GivesTheDigitsNetworkARowDimension) {
  Graph graph = compileOrFail(SmallDigits);
  auto batched = batchObjective(graph, 0, range(0, 7), {2, 3, 4, 5}, 4);
  ASSERT_TRUE(batched.has_value());
  EXPECT_FALSE(bool(batched->graph.verify()));
  EXPECT_EQ(batched->batched, (std::vector<bool>{true, true, false, false, false, false}));
  const Graph &wide = batched->graph;
  EXPECT_EQ(wide.node(wide.arguments()[0]).type.shape, (Shape{4, 6}));
  EXPECT_EQ(wide.node(wide.arguments()[1]).type.shape, (Shape{4}));
  ASSERT_EQ(wide.outputs().size(), 1u);
  EXPECT_TRUE(wide.node(wide.outputs()[0].node).type.isScalar());
}

/// The interpreter's value and gradient of the batched objective are the per-row ones added in row order from
/// +0, labels out of range included: the per-row index reads (and its gradient places) each row at its own label.
TEST(Batch, SumsThePerRowObjectivesAndGradientsInRowOrder) {
  Graph graph = compileOrFail(SmallDigits);
  const int64_t rows = 3;
  auto batched = batchObjective(graph, 0, range(0, 7), {2, 3, 4, 5}, rows);
  ASSERT_TRUE(batched.has_value());
  Graph objective = graph;
  objective.keepOnlyOutput(0);
  auto perRowGradient = buildGradientGraph(objective);
  auto batchedGradient = buildGradientGraph(batched->graph);
  ASSERT_TRUE(perRowGradient && batchedGradient);
  std::vector<double> defaults = graph.argumentDefaults();
  size_t params = defaults.size() - 7;
  for (double lastLabel : {1.0, -1.0, 3.0, 0.5}) {
    std::vector<double> labels = {2, 0, lastLabel}, wide, perRow, sums(params, 0.0);
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int j = 0; j < 6; ++j)
        wide.push_back(static_cast<double>((r * 7 + j * 5) % 17));
    wide.insert(wide.end(), labels.begin(), labels.end());
    wide.insert(wide.end(), defaults.begin() + 7, defaults.end());
    for (int64_t r = 0; r < rows; ++r) {
      perRow = defaults;
      std::copy_n(wide.begin() + r * 6, 6, perRow.begin());
      perRow[6] = labels[static_cast<size_t>(r)];
      Jacobian one = evaluateGradient(*perRowGradient, perRow);
      sum += one.out[0];
      for (size_t e = 0; e < params; ++e)
        sums[e] += one.grad[7 + e];
    }
    Jacobian all = evaluateGradient(*batchedGradient, wide);
    SCOPED_TRACE("last label " + std::to_string(lastLabel));
    EXPECT_PRED2(sameValue, all.out[0], sum);
    for (size_t e = 0; e < params; ++e)
      EXPECT_PRED2(sameValue, all.grad[all.grad.size() - params + e], sums[e]) << "param element " << e;
  }
}

TEST(Batch, RefusesWhatItCannotBatchExactly) {
  struct Case {
    const char *script;
    std::vector<size_t> rowTargets, variables;
  } cases[] = {
      // A trained variable used twice, or through another value, or with a row-independent term of its own.
      {"input x[3]\nparam w[3] = 1\nnode f = sum(x * w * w)\noutput f\n", {0, 1, 2}, {1}},
      {"input x[3]\nparam w[3] = 1\nnode f = sum(x * (w * 3))\noutput f\n", {0, 1, 2}, {1}},
      {"input x[3]\nparam w[3] = 1\nnode f = sum(x * w) + sum(w)\noutput f\n", {0, 1, 2}, {1}},
      // Broadcast within a row: its sum over the row comes before the sum over the rows.
      {"input x[3]\nparam w = 1\nnode f = sum(x * w)\noutput f\n", {0, 1, 2}, {1}},
      // Ops without a batched form here: transpose, a row-bound right operand of @, a matrix left operand.
      {"input x[2,2]\nparam w[2,2] = 1\nnode f = sum(transpose(x) * w)\noutput f\n", {0, 1, 2, 3}, {1}},
      {"input x[3]\nparam w[3] = 1\nnode f = w @ x\noutput f\n", {0, 1, 2}, {1}},
      {"input x[2,3]\nparam w[3] = 1\nnode f = sum(x @ w)\noutput f\n", range(0, 6), {1}},
      // A row index into a value no row binds (a lookup table).
      {"input i\nparam e[4] = 1\nnode f = e[i]\noutput f\n", {0}, {1}},
      // Part of an input bound, a bound input trained, an objective no row reaches.
      {"input x[3]\nparam w[3] = 1\nnode f = sum(x * w)\noutput f\n", {0, 1}, {1}},
      {"input x[3]\nparam w[3] = 1\nnode f = sum(x * w)\noutput f\n", {0, 1, 2}, {0, 1}},
      {"input x\nparam w = 1\nnode f = w * w\nnode g = x\noutput f, g\n", {0}, {1}},
  };
  for (const Case &c : cases) {
    Graph graph = compileOrFail(c.script);
    EXPECT_FALSE(batchObjective(graph, 0, c.rowTargets, c.variables, 3).has_value()) << c.script;
  }
  // The same scripts' shapes that it does batch.
  Graph graph = compileOrFail("input x[3]\nparam w[3] = 1\nparam s = 2\nnode f = sum(x * w) * s\noutput f\n");
  EXPECT_TRUE(batchObjective(graph, 0, {0, 1, 2}, {1}, 3).has_value());
  EXPECT_TRUE(batchObjective(graph, 0, {0, 1, 2}, {1, 2}, 3).has_value()); // s gets the rows. sums, in order
}

} // namespace
