//===- NonFiniteTest.cpp - Finding where a NaN or an infinity started -----===//
//
// NonFiniteTracer on evaluated graphs: the chain from the element where a value stopped being finite to a
// result, the operand elements it follows (broadcast, indexing, where's branch, a reduction), every non-finite
// node in order, and the warnings, forward and backward (the chain-rule step and its local derivative).
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/NonFinite.h"

#include <cmath>

using namespace bp;
using bp::test::compileOrFail;

namespace {

/// The node a script name refers to.
NodeId node(const Graph &graph, const std::string &name) {
  std::optional<NodeId> id = graph.lookup(name);
  EXPECT_TRUE(id.has_value()) << name;
  return id.value_or(0);
}

TEST(NonFiniteTest, FirstNonFinite) {
  EXPECT_EQ(firstNonFinite({1.0, 2.0}), std::nullopt);
  EXPECT_EQ(firstNonFinite({1.0, INFINITY, NAN}), 1u);
  EXPECT_EQ(firstNonFinite({NAN}), 0u);
  EXPECT_EQ(firstNonFinite({}), std::nullopt);
}

TEST(NonFiniteTest, TracesBackToTheFirstNodeMadeFromFiniteOperands) {
  Graph graph = compileOrFail("input a = 1000\n"
                              "node big = exp(a)\n"
                              "node z = 0 * big\n"
                              "node w = z + 1\n"
                              "output w\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  NonFiniteTracer tracer(graph, values);
  std::vector<ElementRef> chain = tracer.trace({node(graph, "w"), 0});
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].node, node(graph, "big"));
  EXPECT_EQ(chain[1].node, node(graph, "z"));
  EXPECT_EQ(chain[2].node, node(graph, "w"));

  std::vector<NonFiniteNode> all = tracer.findAll();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at.node, node(graph, "big"));
  EXPECT_FALSE(all[0].from.has_value());
  ASSERT_TRUE(all[2].from.has_value());
  EXPECT_EQ(all[2].from->node, node(graph, "z"));

  std::vector<NonFiniteWarning> warnings = tracer.warnings({{"w", {node(graph, "w"), 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  const Diagnostic &warning = warnings[0].diagnostics.front();
  EXPECT_EQ(warning.severity, Severity::Warning);
  EXPECT_EQ(warning.message, "exp(1000) = inf here; it makes w nan");
  EXPECT_EQ(warning.loc.line, 2u);
  ASSERT_EQ(warnings[0].diagnostics.size(), 2u);
  EXPECT_EQ(warnings[0].diagnostics[1].message, "a = 1000");
}

TEST(NonFiniteTest, AnInputThatIsNotFiniteIsTheSource) {
  Graph graph = compileOrFail("input x = 1\nnode y = log(x)\noutput y\n");
  Values values = evaluateGraph(graph, {NAN});
  NonFiniteTracer tracer(graph, values);
  std::vector<NonFiniteWarning> warnings = tracer.warnings({{"y", {node(graph, "y"), 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].origin.node, node(graph, "x"));
  EXPECT_EQ(warnings[0].diagnostics.front().message, "input x is nan; it makes y nan");
}

TEST(NonFiniteTest, FollowsTheElementsAnElementWasComputedFrom) {
  // p[0] = e[0] / sum(e): from e[0], through the broadcast of the sum; q picks p[0] by an index.
  Graph graph = compileOrFail("input z[3] = [1, 1000, 2]\n"
                              "node e = exp(z)\n"
                              "node p = e / sum(e)\n"
                              "node q = p[1]\n"
                              "output q\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  NonFiniteTracer tracer(graph, values);
  std::vector<ElementRef> chain = tracer.trace({node(graph, "q"), 0});
  ASSERT_GE(chain.size(), 3u);
  EXPECT_EQ(chain.front(), (ElementRef{node(graph, "e"), 1}));
  EXPECT_EQ(chain[chain.size() - 2], (ElementRef{node(graph, "p"), 1}));
  std::vector<NonFiniteWarning> warnings = tracer.warnings({{"q", {node(graph, "q"), 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].diagnostics.front().message, "exp(1000) = inf here, in e[1]; it makes q nan");
  EXPECT_EQ(warnings[0].diagnostics[1].message, "z[1] = 1000");
}

TEST(NonFiniteTest, WhereFollowsOnlyTheBranchItTook) {
  // where takes b (inf from exp), not a (NaN from log): the chain goes to b.
  Graph graph = compileOrFail("input x = -1\n"
                              "node a = log(x)\n"
                              "node b = exp(-1000 * x)\n"
                              "node w = where(x > 0, a, b)\n"
                              "output w\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  NonFiniteTracer tracer(graph, values);
  std::vector<ElementRef> chain = tracer.trace({node(graph, "w"), 0});
  EXPECT_EQ(chain.front().node, node(graph, "b"));
}

TEST(NonFiniteTest, ABackwardNodeIsToldByItsChainRuleStep) {
  Graph forward = compileOrFail("param x = 0\nnode s = sqrt(x)\nnode loss = 0 * s\noutput loss\n");
  auto gradient = buildGradientGraph(forward);
  ASSERT_TRUE(static_cast<bool>(gradient)) << llvm::toString(gradient.takeError());
  Values values = evaluateGraph(gradient->graph, forward.argumentDefaults());
  NodeId entry = gradient->sweeps[0].gradient[0];
  ASSERT_TRUE(std::isnan(values.tensor(entry)[0]));
  NonFiniteTracer tracer(*gradient, values);
  std::vector<ElementRef> chain = tracer.trace({entry, 0});
  ASSERT_GE(chain.size(), 2u);
  EXPECT_GE(chain.front().node, gradient->forwardSize); // the local derivative, not a forward node
  std::vector<NonFiniteWarning> warnings = tracer.warnings({{"dloss/dx", {entry, 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  const std::vector<Diagnostic> &diagnostics = warnings[0].diagnostics;
  EXPECT_EQ(diagnostics[0].message,
            "the derivative of sqrt(x) at x = 0 is inf (0.5 / abs(0)); it makes dloss/dx nan");
  EXPECT_EQ(diagnostics[0].loc.line, 2u); // at sqrt(x), the forward node
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(diagnostics[1].message, "the chain rule then computes dloss/dx = 0 * inf = nan");
}

TEST(NonFiniteTest, ResultsFromOnePlaceShareOneWarning) {
  Graph graph = compileOrFail("input x = 0\nnode l = log(x)\nnode a = 2 * l\nnode b = l - 1\noutput a, b\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  NonFiniteTracer tracer(graph, values);
  std::vector<NonFiniteWarning> warnings =
      tracer.warnings({{"a", {node(graph, "a"), 0}}, {"b", {node(graph, "b"), 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].diagnostics.front().message, "log(0) = -inf here; it makes a -inf, b -inf");
}

TEST(NonFiniteTest, NothingWhereEverythingIsFinite) {
  Graph graph = compileOrFail("input x = 2\nnode y = log(x)\noutput y\n");
  Values values = evaluateGraph(graph, graph.argumentDefaults());
  NonFiniteTracer tracer(graph, values);
  EXPECT_TRUE(tracer.findAll().empty());
  EXPECT_TRUE(tracer.fullTrace().empty());
}

} // namespace
