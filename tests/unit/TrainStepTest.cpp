//===- TrainStepTest.cpp - The compiled training step against the per-row loop ===//
//
// PREFIX_train_step must give, bit for bit, what `bpc train` computed before its step was compiled: per row,
// bind the row and call the objective's gradient function, add up, take the means, and move the variables
// with the C++ Optimizer. That loop is kept here as the reference.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/CodeGen.h"
#include "bp/JIT.h"
#include "bp/Optimizer.h"

#include "gtest/gtest.h"

#include <cmath>
#include <algorithm>
#include <limits>
#include <random>
#include <vector>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

/// The arguments' default values, flat (Graph::argumentOffsets); 0 where an input has none.
std::vector<double> defaults(const Graph &graph) {
  std::vector<double> values;
  for (NodeId id : graph.arguments()) {
    const Node &node = graph.node(id);
    if (node.type.isScalar())
      values.push_back(node.hasValue ? node.value : 0.0);
    else if (node.hasValue)
      values.insert(values.end(), node.data.begin(), node.data.end());
    else
      values.resize(values.size() + static_cast<size_t>(elementCount(node.type.shape)), 0.0);
  }
  return values;
}

/// What `steps` training steps return and leave.
struct Trained {
  std::vector<double> losses, values;
};

/// bpc train's loop before its step was compiled: each step takes `batch` rows of `rows` (spec.rowTargets.size()
/// numbers each) in order, wrapping around; without columns, one row, the values as they are.
Trained perRowTraining(const Graph &graph, const TrainStepSpec &spec, const std::vector<double> &rows,
                       size_t batch, size_t steps) {
  Graph objective = graph;
  objective.keepOnlyOutput(spec.objective);
  auto model = CompiledModel::create(objective, CompiledModel::ForwardAndGradient);
  EXPECT_TRUE(bool(model)) << llvm::toString(model.takeError());
  std::vector<size_t> elements = trainedElements(graph, spec);
  std::unique_ptr<Optimizer> optimizer = Optimizer::create(spec.optimizer, spec.rate, elements.size());
  size_t columns = spec.rowTargets.size(), rowCount = columns ? rows.size() / columns : 1, cursor = 0;
  Trained trained{{}, defaults(graph)};
  std::vector<double> &values = trained.values;
  std::vector<double> gradient(values.size()), step(elements.size()), moved(elements.size());
  for (size_t s = 0; s < steps; ++s) {
    std::fill(step.begin(), step.end(), 0.0);
    double loss = 0;
    for (size_t k = 0; k < batch; ++k, cursor = (cursor + 1) % rowCount) {
      for (size_t c = 0; c < columns; ++c)
        values[spec.rowTargets[c]] = rows[cursor * columns + c];
      double out;
      (*model)->gradient(values.data(), &out, gradient.data());
      loss += out;
      for (size_t e = 0; e < elements.size(); ++e)
        step[e] += gradient[elements[e]];
    }
    loss /= static_cast<double>(batch);
    for (double &g : step)
      g = (spec.maximize ? -1.0 : 1.0) * (g / static_cast<double>(batch));
    for (size_t e = 0; e < elements.size(); ++e)
      moved[e] = values[elements[e]];
    optimizer->step(moved, step);
    for (size_t e = 0; e < elements.size(); ++e)
      values[elements[e]] = moved[e];
    trained.losses.push_back(loss);
  }
  for (size_t c = 0; c < columns; ++c) // the step function binds rows in a copy
    values[spec.rowTargets[c]] = defaults(graph)[spec.rowTargets[c]];
  return trained;
}

/// The same steps through the compiled training step (at -O`optLevel`).
Trained compiledTraining(const Graph &graph, const TrainStepSpec &spec, const std::vector<double> &rows,
                         size_t batch, size_t steps, unsigned optLevel) {
  auto compiled = CompiledTrainStep::create(graph, spec, optLevel);
  EXPECT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  size_t columns = spec.rowTargets.size(), rowCount = columns ? rows.size() / columns : 1, cursor = 0;
  Trained trained{{}, defaults(graph)};
  std::vector<double> state((*compiled)->stateSize(), 0.0), gathered(batch * columns);
  for (size_t s = 0; s < steps; ++s) {
    for (size_t k = 0; k < batch && columns; ++k, cursor = (cursor + 1) % rowCount)
      std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>(cursor * columns), columns,
                  gathered.begin() + static_cast<std::ptrdiff_t>(k * columns));
    trained.losses.push_back((*compiled)->step(trained.values.data(), state.data(),
                                               columns ? gathered.data() : nullptr, static_cast<long>(batch)));
  }
  return trained;
}

std::vector<size_t> range(size_t begin, size_t end) {
  std::vector<size_t> values;
  for (size_t i = begin; i < end; ++i)
    values.push_back(i);
  return values;
}

void expectSameTraining(const Graph &graph, const TrainStepSpec &spec, const std::vector<double> &rows,
                        size_t batch, size_t steps) {
  Trained reference = perRowTraining(graph, spec, rows, batch, steps);
  for (unsigned optLevel : {0u, 2u}) {
    Trained compiled = compiledTraining(graph, spec, rows, batch, steps, optLevel);
    SCOPED_TRACE("-O" + std::to_string(optLevel) + ", " + optimizerName(spec.optimizer));
    ASSERT_EQ(compiled.values.size(), reference.values.size());
    for (size_t i = 0; i < reference.values.size(); ++i)
      EXPECT_PRED2(sameValue, compiled.values[i], reference.values[i]) << "in[" << i << "]";
    for (size_t s = 0; s < steps; ++s)
      EXPECT_PRED2(sameValue, compiled.losses[s], reference.losses[s]) << "step " << s + 1;
  }
}

// A 3-4-1 classifier of one sample; rows bind x's elements out of order, and the scalar label.
const char *const TinyNet = "input x[3]\ninput label\nparam W1[3,4] = normal(0, 0.5)\nparam b1[4] = 0\n"
                            "param w2[4] = normal(0, 0.5)\nparam b2 = 0\nnode h = tanh(x @ W1 + b1)\n"
                            "node p = sigmoid(h @ w2 + b2)\n"
                            "node loss = -(label * log(p) + (1 - label) * log(1 - p))\noutput p, loss\n";

TEST(TrainStep, MatchesThePerRowLoopForEveryOptimizer) {
  Graph graph = compileOrFail(TinyNet);
  // label, x[2], x[0], x[1]: five rows, batches of 3 wrapping around.
  std::vector<double> rows = {1, 0.5, 1, -2, 0, -1, 0.25, 3, 1, 2, -0.5, 0.75, 0, 0, 1.5, -1, 1, 1, 1, 1};
  for (OptimizerKind optimizer : {OptimizerKind::SGD, OptimizerKind::Momentum, OptimizerKind::Adam}) {
    TrainStepSpec spec;
    spec.objective = 1;
    spec.optimizer = optimizer;
    spec.rate = 0.1;
    spec.variables = {2, 3, 4, 5};
    spec.rowTargets = {3, 2, 0, 1};
    expectSameTraining(graph, spec, rows, 3, 6);
  }
}

TEST(TrainStep, MatchesThePerRowLoopMaximizingOverSomeVariables) {
  Graph graph = compileOrFail(TinyNet);
  TrainStepSpec spec; // maximize p, the first output, moving w2 and the input x (listed out of order)
  spec.objective = 0;
  spec.maximize = true;
  spec.optimizer = OptimizerKind::Adam;
  spec.rate = 0.05;
  spec.variables = {4, 0};
  spec.rowTargets = {3}; // label
  expectSameTraining(graph, spec, {1, 0}, 2, 5);
}

TEST(TrainStep, MatchesThePerRowLoopWithoutRows) {
  // The tutorial's network: one step is its exact numbers; several of momentum stay those of the loop.
  Graph graph = compileOrFail("param a = 5\nparam b = -6\nparam c = 7\nnode f = (a + b) * c\noutput f\n");
  TrainStepSpec spec;
  spec.maximize = true;
  spec.variables = {0, 1, 2};
  Trained one = compiledTraining(graph, spec, {}, 1, 1, 2);
  EXPECT_EQ(one.values, (std::vector<double>{5.07, -5.93, 6.99}));
  EXPECT_EQ(one.losses, (std::vector<double>{-7}));
  spec.optimizer = OptimizerKind::Momentum;
  expectSameTraining(graph, spec, {}, 1, 4);
}

// A small digits network (Batch.h batches it): x[6] and label bound by rows, four params trained.
const char *const SmallDigits = "input x[6]\ninput label\nparam W1[6,4] = normal(0, 0.5)\nparam b1[4] = 0.1\n"
                                "param W2[4,3] = normal(0, 0.5)\nparam b2[3] = 0\n"
                                "node h = tanh(x / 16 @ W1 + b1)\nnode z = h @ W2 + b2\n"
                                "node loss = -log_softmax(z)[label]\nnode accuracy = argmax(z) == label\n"
                                "output loss, accuracy\n";

/// `count` rows of `columns` numbers: pixels 0 to 16 and a label 0 to 2 last (sometimes one out of range).
std::vector<double> randomRows(size_t count, size_t columns, uint64_t seed, bool badLabels) {
  std::mt19937_64 random(seed);
  std::vector<double> rows;
  for (size_t r = 0; r < count; ++r) {
    for (size_t c = 0; c + 1 < columns; ++c)
      rows.push_back(static_cast<double>(random() % 17));
    rows.push_back(badLabels && r % 7 == 3 ? 3.0 : static_cast<double>(random() % 3));
  }
  return rows;
}

TEST(TrainStep, BatchedStepsMatchThePerRowLoop) {
  Graph graph = compileOrFail(SmallDigits);
  for (OptimizerKind optimizer : {OptimizerKind::SGD, OptimizerKind::Momentum, OptimizerKind::Adam})
    for (uint64_t seed : {1u, 2u}) {
      TrainStepSpec spec;
      spec.objective = 0;
      spec.optimizer = optimizer;
      spec.rate = 0.5;
      spec.variables = {2, 3, 4, 5};
      spec.rowTargets = {6, 0, 1, 2, 3, 4, 5}; // the label first, then x
      spec.batch = 4;
      std::vector<double> rows = randomRows(10, 7, seed, false);
      for (size_t r = 0; r < 10; ++r) // the label column first
        std::rotate(rows.begin() + r * 7, rows.begin() + r * 7 + 6, rows.begin() + r * 7 + 7);
      SCOPED_TRACE("seed " + std::to_string(seed));
      expectSameTraining(graph, spec, rows, 4, 5);
    }
}

TEST(TrainStep, BatchedStepsMatchThePerRowLoopWhereALabelIsOutOfRange) {
  Graph graph = compileOrFail(SmallDigits);
  TrainStepSpec spec; // a NaN objective where a row's label is 3: that step moves nothing
  spec.variables = {2, 3, 4, 5};
  spec.rowTargets = range(0, 7);
  std::vector<double> rows = randomRows(8, 7, 3, true);
  Trained perRow = compiledTraining(graph, spec, rows, 4, 3, 2);
  spec.batch = 4;
  Trained batched = compiledTraining(graph, spec, rows, 4, 3, 2);
  EXPECT_TRUE(std::isnan(batched.losses[0]) && !std::isnan(batched.losses[1]) && std::isnan(batched.losses[2]));
  for (size_t s = 0; s < 3; ++s)
    EXPECT_PRED2(sameValue, batched.losses[s], perRow.losses[s]) << "step " << s + 1;
  EXPECT_EQ(batched.values, perRow.values);
}

TEST(TrainStep, StepsOfAnotherRowCountGoRowByRow) {
  Graph graph = compileOrFail(SmallDigits);
  TrainStepSpec spec; // compiled for 4 rows, called with 3 and 1
  spec.optimizer = OptimizerKind::Momentum;
  spec.variables = {2, 3, 4, 5};
  spec.rowTargets = range(0, 7);
  spec.batch = 4;
  std::vector<double> rows = randomRows(7, 7, 4, false);
  expectSameTraining(graph, spec, rows, 3, 3);
  expectSameTraining(graph, spec, rows, 1, 2);
}

TEST(TrainStep, ScriptsThatCannotBeBatchedGoRowByRow) {
  // w is used three times, once outside the rows: the batched sums would round differently.
  Graph graph = compileOrFail("input x[3]\nparam w[3] = 0.5\nparam s = 2\nnode f = sum(x * w * w) * s + sum(w)\n"
                              "output f\n");
  TrainStepSpec spec; // a large rate keeps a gradient's last bits in the values
  spec.rate = 1;
  spec.variables = {1, 2};
  spec.rowTargets = {0, 1, 2};
  spec.batch = 5;
  std::mt19937_64 random(5);
  std::uniform_real_distribution<double> uniform(-2, 2);
  std::vector<double> rows(3 * 15);
  for (double &value : rows)
    value = uniform(random);
  expectSameTraining(graph, spec, rows, 5, 6);
}

TEST(TrainStep, ChangesNothingWhereTheMeansAreNotFinite) {
  // f = sqrt(a) at a = 0 is finite, its gradient is not: NaN, and nothing moves (the state neither).
  Graph graph = compileOrFail("input x\nparam a = 0\nnode f = sqrt(a) + x\noutput f\n");
  TrainStepSpec spec;
  spec.optimizer = OptimizerKind::Adam;
  spec.variables = {1};
  spec.rowTargets = {0};
  auto compiled = CompiledTrainStep::create(graph, spec);
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  ASSERT_EQ((*compiled)->stateSize(), 3u);
  std::vector<double> in = {0, 0}, state(3, 0.0), rows = {1, 2};
  EXPECT_TRUE(std::isnan((*compiled)->step(in.data(), state.data(), rows.data(), 2)));
  EXPECT_EQ(in, (std::vector<double>{0, 0}));
  EXPECT_EQ(state, (std::vector<double>{0, 0, 0}));
  // A mean objective that is not finite is the result itself; no rows give NaN.
  rows = {std::numeric_limits<double>::infinity(), 2};
  in[1] = 4;
  EXPECT_EQ((*compiled)->step(in.data(), state.data(), rows.data(), 2), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan((*compiled)->step(in.data(), state.data(), rows.data(), 0)));
  EXPECT_EQ(in, (std::vector<double>{0, 4}));
  EXPECT_EQ(state, (std::vector<double>{0, 0, 0}));
  // A finite step: the mean of f over x = 1, 2 at a = 4 is 3.5; the input in[0] is left as it was.
  rows = {1, 2};
  EXPECT_EQ((*compiled)->step(in.data(), state.data(), rows.data(), 2), 3.5);
  EXPECT_EQ(in[0], 0);
  EXPECT_LT(in[1], 4);
  EXPECT_EQ(state[2], 1); // adam's step count
}

} // namespace
