//===- PropertyTest.cpp - Random scripts: compiled gradients vs finite differences ---===//
//
// Generates well-formed scripts (fixed seed): random DAGs over a few inputs and params, every builtin, fan-out
// (operands drawn from all earlier nodes), deep chains (a bias towards the most recent node), several outputs.
// Each is compiled with the JIT, and every entry of its Jacobian is compared with a central difference of the
// compiled forward function. The same scripts, with scalar and tensor arguments, check the three ways of taking
// derivatives against each other: forward mode's J t (evaluateTangents) and a seeded reverse sweep's SEED^T J
// equal the Jacobian that evaluateGradient builds row by row, for every unit tangent and seed and random ones.
//
//===----------------------------------------------------------------------===//
#include "InterpreterBits.h"
#include "RandomScripts.h"
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::expectInterpreterBits;
using bp::test::generate;
using bp::test::sameValue;

TEST(Property, RandomScriptsMatchFiniteDifferences) {
  std::mt19937 random(20261129);
  size_t entries = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::string script = generate(random, 5 + trial % 40);
    Graph graph = compileOrFail(script);
    ASSERT_FALSE(graph.outputs().empty()) << script;
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, 2);
    ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());

    std::vector<NodeId> arguments = graph.arguments();
    std::vector<double> in;
    for (NodeId id : arguments)
      in.push_back(graph.node(id).value);
    size_t outputs = graph.outputs().size();
    std::vector<double> out(outputs), grad(outputs * arguments.size()), plus(outputs), minus(outputs);
    (*model)->gradient(in.data(), out.data(), grad.data());

    for (size_t a = 0; a < arguments.size(); ++a) {
      std::vector<double> point = in;
      double h = 1e-6 * std::max(1.0, std::fabs(in[a]));
      point[a] = in[a] + h;
      double above = point[a];
      (*model)->forward(point.data(), plus.data());
      point[a] = in[a] - h;
      double below = point[a];
      (*model)->forward(point.data(), minus.data());
      for (size_t o = 0; o < outputs; ++o) {
        double numeric = (plus[o] - minus[o]) / (above - below);
        double analytic = grad[o * arguments.size() + a];
        ASSERT_TRUE(std::isfinite(analytic)) << script;
        EXPECT_NEAR(analytic, numeric, 2e-5 * std::max(1.0, std::fabs(numeric)))
            << "trial " << trial << ", d" << graph.outputs()[o].name << "/d" << graph.node(arguments[a]).name
            << "\n" << script;
        ++entries;
      }
    }
  }
  EXPECT_GT(entries, 500u);
}

TEST(Property, ScriptsAbovePartSizeMatchTheInterpreterBitForBit) {
  // Graphs over 250 nodes are cut into parts (CodeGen.cpp), values crossing a cut going through a frame:
  // random scripts whose outputs depend on a few thousand nodes (the gradient function on over 10,000),
  // forward and gradient, against the interpreter, bit for bit. -O0 keeps it fast; the cut is the same.
  std::mt19937 random(4242);
  for (int nodeCount : {1500, 2500}) {
    std::string script = generate(random, nodeCount, /*wholeChain=*/true);
    Graph graph = compileOrFail(script);
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, 0);
    ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
    expectInterpreterBits(graph, **model, random, 3, std::to_string(nodeCount) + " nodes");
  }
}

namespace {

/// |a - b| within 1e-12 of `scale`, the largest term of the sum that one of them makes (at least 1): forward and
/// reverse mode add the same products in different orders.
void expectClose(double a, double b, double scale, const std::string &what) {
  EXPECT_NEAR(a, b, 1e-12 * std::max(1.0, scale)) << what;
}

} // namespace

TEST(Property, ForwardModeAndSeededSweepsMatchTheJacobian) {
  std::mt19937 random(20261130);
  std::uniform_real_distribution<double> draw(-1, 1);
  size_t checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    bool tensors = trial % 2;
    std::string script = generate(random, 5 + trial % 30, /*wholeChain=*/false, tensors);
    Graph graph = compileOrFail(script, static_cast<uint64_t>(trial));
    ASSERT_FALSE(graph.outputs().empty()) << script;
    std::vector<double> in = graph.argumentDefaults();
    GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
    Jacobian jacobian = evaluateGradient(gradient, in);
    TangentGraph tangentGraph = llvm::cantFail(buildTangentGraph(graph));
    std::vector<size_t> rows = gradient.rowOffsets();
    size_t width = in.size();
    auto entry = [&](size_t row, size_t column) { return jacobian.grad[row * width + column]; };

    // J t along every unit tangent (a column of J) and along a random one.
    for (size_t c = 0; c <= width; ++c) {
      std::vector<double> tangent(width, 0.0);
      if (c < width)
        tangent[c] = 1;
      else
        for (double &element : tangent)
          element = draw(random);
      std::vector<std::vector<double>> jvps = evaluateTangents(tangentGraph, in, tangent);
      for (size_t o = 0; o < jvps.size(); ++o)
        for (size_t r = 0; r < jvps[o].size(); ++r) {
          double expected = 0, scale = 0;
          for (size_t k = 0; k < width; ++k) {
            expected += entry(rows[o] + r, k) * tangent[k];
            scale = std::max(scale, std::fabs(entry(rows[o] + r, k) * tangent[k]));
          }
          expectClose(jvps[o][r], expected, scale,
                      "trial " + std::to_string(trial) + ", jvp(" + graph.outputs()[o].name + ")[" +
                          std::to_string(r) + "], tangent " + (c < width ? "e" + std::to_string(c) : "random") +
                          "\n" + script);
          ++checked;
        }
    }

    // SEED^T J from each output's reverse sweep, seeded with every unit seed (a row of J) and a random one; a
    // scalar output's sweep starts from 1, and its product is SEED times its gradient.
    Values values = evaluateGraph(gradient.graph, in);
    for (size_t o = 0; o < gradient.sweeps.size(); ++o) {
      const ReverseSweep &sweep = gradient.sweeps[o];
      size_t size = rows[o + 1] - rows[o];
      for (size_t s = 0; s <= size; ++s) {
        std::vector<double> seed(size, 0.0);
        if (s < size)
          seed[s] = 1;
        else
          for (double &element : seed)
            element = draw(random);
        if (sweep.seed != InvalidNode) {
          llvm::copy(seed, values.tensor(sweep.seed).begin());
          for (NodeId id : gradient.seededNodes(sweep))
            evaluateNode(gradient.graph, id, values);
        }
        std::vector<size_t> offsets = graph.argumentOffsets();
        for (size_t a = 0; a < sweep.gradient.size(); ++a) {
          llvm::ArrayRef<double> product = values.tensor(sweep.gradient[a]);
          for (size_t e = 0; e < product.size(); ++e) {
            double expected = 0, scale = 0;
            for (size_t r = 0; r < size; ++r) {
              expected += seed[r] * entry(rows[o] + r, offsets[a] + e);
              scale = std::max(scale, std::fabs(seed[r] * entry(rows[o] + r, offsets[a] + e)));
            }
            double got = sweep.seed == InvalidNode ? seed[0] * product[e] : product[e];
            expectClose(got, expected, scale,
                        "trial " + std::to_string(trial) + ", vjp(" + graph.outputs()[o].name + ") by argument " +
                            std::to_string(a) + "[" + std::to_string(e) + "], seed " +
                            (s < size ? "e" + std::to_string(s) : "random") + "\n" + script);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 5000u);
}
