//===- PropertyTest.cpp - Random scripts: compiled gradients vs finite differences ---===//
//
// Generates well-formed scripts (fixed seed): random DAGs over a few inputs and params, every builtin, fan-out
// (operands drawn from all earlier nodes), deep chains (a bias towards the most recent node), several outputs.
// Each is compiled with the JIT, and every entry of its Jacobian is compared with a central difference of the
// compiled forward function.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {


/// Expressions over operands a and b whose values and derivatives stay finite for any finite a, b.
const char *const Templates[] = {
    "A + B",          "A - B",           "A * B",          "A / (1 + B * B)", "-A",
    "sin(A)",         "cos(A) * B",      "tan(tanh(A))",   "tanh(A)",         "sigmoid(A - B)",
    "exp(tanh(A))",   "log(1 + A * A)",  "sqrt(1 + A * A)", "(1 + A * A) ^ tanh(B)", "pow(1 + B * B, 0.5)",
    "relu(A) + B",    "abs(A - B)",      "max(A, B)",       "min(A, B) * 0.5", "A ^ 2",
};

std::string instantiate(std::string text, const std::string &a, const std::string &b) {
  std::string result;
  for (char c : text)
    result += c == 'A' ? a : c == 'B' ? b : std::string(1, c);
  return result;
}

/// A random script of `nodeCount` nodes. With `wholeChain`, every node's first operand is the node before it,
/// so the outputs depend on every node (the second operand, drawn from anything earlier, adds fan-out).
std::string generate(std::mt19937 &random, int nodeCount, bool wholeChain = false) {
  std::ostringstream script;
  std::vector<std::string> names;
  std::uniform_real_distribution<double> value(-1.5, 1.5);
  int inputs = 2 + static_cast<int>(random() % 3), params = 1 + static_cast<int>(random() % 3);
  for (int i = 0; i < inputs; ++i) {
    names.push_back("x" + std::to_string(i));
    script << "input " << names.back() << " = " << value(random) << "\n";
  }
  for (int i = 0; i < params; ++i) {
    names.push_back("w" + std::to_string(i));
    script << "param " << names.back() << " = " << value(random) << "\n";
  }
  for (int n = 0; n < nodeCount; ++n) {
    auto pick = [&] {
      // Half the time the newest value (deep chains), otherwise anything earlier (fan-out).
      return random() % 2 ? names.back() : names[random() % names.size()];
    };
    std::string a = wholeChain ? names.back() : pick(), b = pick();
    std::string name = "n" + std::to_string(n);
    script << "node " << name << " = "
           << instantiate(Templates[random() % std::size(Templates)], a, b) << "\n";
    names.push_back(name);
  }
  script << "node out1 = " << names[names.size() - 1] << " + 0.5 * " << names[names.size() - 2] << "\n";
  script << "node out2 = tanh(" << names[names.size() - 3] << ")\n";
  script << "output out1, out2\n";
  return script.str();
}

} // namespace

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
  // Graphs over 2,000 nodes are cut into parts (CodeGen.cpp), values crossing a cut going through a frame:
  // random scripts whose outputs depend on a few thousand nodes (the gradient function on over 10,000),
  // forward and gradient, against the interpreter, bit for bit. -O0 keeps it fast; the cut is the same.
  std::mt19937 random(4242);
  for (int nodeCount : {1500, 2500}) {
    std::string script = generate(random, nodeCount, /*wholeChain=*/true);
    Graph graph = compileOrFail(script);
    auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, 0);
    ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
    GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
    std::vector<NodeId> arguments = graph.arguments();
    size_t outputs = graph.outputs().size();
    std::uniform_real_distribution<double> value(-1.5, 1.5);
    for (int point = 0; point < 3; ++point) {
      std::vector<double> in;
      for (size_t a = 0; a < arguments.size(); ++a)
        in.push_back(value(random));
      Values expected = evaluateGraph(gradient.graph, in);
      std::vector<double> forwardOut(outputs), out(outputs), grad(outputs * arguments.size());
      (*model)->forward(in.data(), forwardOut.data());
      (*model)->gradient(in.data(), out.data(), grad.data());
      for (size_t o = 0; o < outputs; ++o) {
        double want = expected[graph.outputs()[o].node];
        EXPECT_TRUE(sameValue(forwardOut[o], want)) << nodeCount << " nodes, output " << o << ": " << forwardOut[o]
                                                   << " vs " << want;
        EXPECT_TRUE(sameValue(out[o], want)) << nodeCount << " nodes, output " << o;
        for (size_t a = 0; a < arguments.size(); ++a)
          EXPECT_TRUE(sameValue(grad[o * arguments.size() + a], expected[gradient.sweeps[o].gradient[a]]))
              << nodeCount << " nodes, d output " << o << " / d argument " << a;
      }
    }
  }
}
