//===- InterpreterBits.h - A compiled model against the interpreter, bit for bit ---===//
#ifndef BP_TEST_INTERPRETER_BITS_H
#define BP_TEST_INTERPRETER_BITS_H

#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace bp::test {

/// Checks `model`'s forward and gradient functions, compiled from `graph`, against the interpreter on its
/// gradient graph, bit for bit, at `points` points drawn uniformly from [-1.5, 1.5) per argument.
inline void expectInterpreterBits(const Graph &graph, CompiledModel &model, std::mt19937 &random, int points,
                                  const std::string &label) {
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::vector<NodeId> arguments = graph.arguments();
  size_t outputs = graph.outputs().size();
  std::uniform_real_distribution<double> value(-1.5, 1.5);
  for (int point = 0; point < points; ++point) {
    std::vector<double> in;
    for (size_t a = 0; a < arguments.size(); ++a)
      in.push_back(value(random));
    Values expected = evaluateGraph(gradient.graph, in);
    std::vector<double> forwardOut(outputs), out(outputs), grad(outputs * arguments.size());
    model.forward(in.data(), forwardOut.data());
    model.gradient(in.data(), out.data(), grad.data());
    for (size_t o = 0; o < outputs; ++o) {
      double want = expected[graph.outputs()[o].node];
      EXPECT_TRUE(sameValue(forwardOut[o], want)) << label << ", output " << o << ": " << forwardOut[o] << " vs "
                                                  << want;
      EXPECT_TRUE(sameValue(out[o], want)) << label << ", output " << o;
      for (size_t a = 0; a < arguments.size(); ++a)
        EXPECT_TRUE(sameValue(grad[o * arguments.size() + a], expected[gradient.sweeps[o].gradient[a]]))
            << label << ", d output " << o << " / d argument " << a;
    }
  }
}

} // namespace bp::test

#endif // BP_TEST_INTERPRETER_BITS_H
