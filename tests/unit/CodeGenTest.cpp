//===- CodeGenTest.cpp - Compiled code reproduces the interpreter bit for bit ---===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

std::unique_ptr<CompiledModel> compile(const Graph &graph, unsigned optLevel = 2) {
  auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return nullptr;
  }
  return std::move(*model);
}

} // namespace

// Each op alone is checked in OpTableTest (its list comes from the op table); here, ops composed, so that
// values and adjoints flow from one lowering into the next.
TEST(CodeGen, ComposedOpsMatchTheInterpreterBitForBit) {
  const char *expressions[] = {"sigmoid(x) * tanh(y) / (1 + x ^ 2)", "max(1, sqrt(x)) * relu(y - log(abs(x)))",
                               "exp(min(x, y)) - sin(x * y) ^ 2 / (cos(y) + 2)"};
  std::mt19937 random(7);
  std::uniform_real_distribution<double> draw(-3, 3);
  for (const char *expression : expressions) {
    Graph graph = compileOrFail(std::string("input x\ninput y\nnode f = ") + expression + "\noutput f\n");
    for (unsigned optLevel : {0u, 2u}) {
      auto model = compile(graph, optLevel);
      ASSERT_TRUE(model);
      GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
      std::vector<std::vector<double>> points = {{0, 0}, {1, 1}, {-0.0, 2}, {NAN, 1}, {INFINITY, -1}};
      for (int i = 0; i < 20; ++i)
        points.push_back({draw(random), draw(random)});
      for (const std::vector<double> &in : points) {
        Values expected = evaluateGraph(gradient.graph, in);
        double out, outFromGradient, grad[2];
        model->forward(in.data(), &out);
        model->gradient(in.data(), &outFromGradient, grad);
        NodeId f = graph.outputs()[0].node;
        EXPECT_TRUE(sameValue(out, expected[f])) << expression << " -O" << optLevel << " at " << in[0] << ", "
                                                << in[1] << ": " << out << " vs " << expected[f];
        EXPECT_TRUE(sameValue(outFromGradient, expected[f])) << expression;
        for (size_t a = 0; a < 2; ++a)
          EXPECT_TRUE(sameValue(grad[a], expected[gradient.sweeps[0].gradient[a]]))
              << expression << " -O" << optLevel << " d/d" << (a ? "y" : "x") << " at " << in[0] << ", " << in[1];
      }
    }
  }
}

TEST(CodeGen, NestedNeuronsExactly) {
  Graph graph = compileOrFail("input a = 5\ninput b = -6\ninput c = 7\nnode d = a + b\nnode f = d * c\noutput f\n");
  auto model = compile(graph);
  ASSERT_TRUE(model);
  double in[] = {5, -6, 7}, out, grad[3];
  model->gradient(in, &out, grad);
  EXPECT_EQ(out, -7);
  EXPECT_EQ(grad[0], 7);
  EXPECT_EQ(grad[1], 7);
  EXPECT_EQ(grad[2], -1);
}

TEST(CodeGen, ModuleOverTheSLPCutOffMatchesTheInterpreterBitForBit) {
  // A 26,000-term sum: its module (forward and gradient) is over LargeModuleInstructions, so -O2 runs
  // without the SLP vectorizer; results still equal the interpreter's bit for bit.
  std::string sum = "a";
  for (int i = 1; i < 26000; ++i)
    sum += " + a";
  Graph graph = compileOrFail("input a = 0.25\nnode s = " + sum + "\noutput s\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  llvm::LLVMContext context;
  EXPECT_GT(generateModule(graph, &gradient, "sum", context)->getInstructionCount(), LargeModuleInstructions);
  auto model = compile(graph);
  ASSERT_TRUE(model);
  for (double in : {0.25, 0.1, -1e-3}) {
    double forwardOut, out, grad;
    model->forward(&in, &forwardOut);
    model->gradient(&in, &out, &grad);
    Values expected = evaluateGraph(gradient.graph, {in});
    EXPECT_TRUE(sameValue(forwardOut, expected[graph.outputs()[0].node])) << in;
    EXPECT_TRUE(sameValue(out, expected[graph.outputs()[0].node])) << in;
    EXPECT_TRUE(sameValue(grad, expected[gradient.sweeps[0].gradient[0]])) << in;
    EXPECT_EQ(grad, 26000);
  }
}

TEST(CodeGen, ManyResultsAreCutIntoPartsBitForBit) {
  // 300 params a_k and 11 outputs: over 3,000 gradient entries, so the results alone are cut into parts (250
  // stores each); the constant 0 (d n_i/d a_k) is stored 3,000 times and one computed value, df/da_k = sin(x),
  // 300 times, each spread over several parts.
  std::string script = "input x = 0.3\ninput y = -2\ninput z = 5\n", outputs = "output f";
  std::string sum = "a0";
  for (int k = 0; k < 300; ++k) {
    script += "param a" + std::to_string(k) + " = " + std::to_string(k % 7) + ".5\n";
    sum += k ? " + a" + std::to_string(k) : "";
  }
  script += "node f = sin(x) * (" + sum + ")\n";
  for (int i = 0; i < 10; ++i) {
    script += "node n" + std::to_string(i) + " = x * " + std::to_string(i + 2) + ".25 + y\n";
    outputs += ", n" + std::to_string(i);
  }
  Graph graph = compileOrFail(script + outputs + "\n");
  auto model = compile(graph, 0);
  ASSERT_TRUE(model);
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<double> in;
  for (NodeId id : arguments)
    in.push_back(graph.node(id).value);
  size_t outputCount = graph.outputs().size();
  std::vector<double> forwardOut(outputCount), out(outputCount), grad(outputCount * arguments.size());
  model->forward(in.data(), forwardOut.data());
  model->gradient(in.data(), out.data(), grad.data());
  Values expected = evaluateGraph(gradient.graph, in);
  for (size_t o = 0; o < outputCount; ++o) {
    EXPECT_TRUE(sameValue(forwardOut[o], expected[graph.outputs()[o].node])) << "output " << o;
    EXPECT_TRUE(sameValue(out[o], expected[graph.outputs()[o].node])) << "output " << o;
    for (size_t a = 0; a < arguments.size(); ++a)
      ASSERT_TRUE(sameValue(grad[o * arguments.size() + a], expected[gradient.sweeps[o].gradient[a]]))
          << "d output " << o << " / d argument " << a;
  }
  EXPECT_EQ(grad[3], std::sin(0.3)); // df/da0
}

TEST(CodeGen, PrefixFromPathIsACIdentifier) {
  EXPECT_EQ(prefixFromPath("examples/nested.bp"), "nested");
  EXPECT_EQ(prefixFromPath("/tmp/my-net.v2.bp"), "my_net_v2");
  EXPECT_EQ(prefixFromPath("2layer.bp"), "bp_2layer");
}

TEST(CodeGen, UnknownTargetIsAnError) {
  auto machine = createTargetMachine("nonsense-unknown-triple", 2);
  ASSERT_FALSE(machine);
  EXPECT_NE(llvm::toString(machine.takeError()).find("unknown target"), std::string::npos);
}
