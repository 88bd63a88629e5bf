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

/// A script evaluated at its own values (or at `in`), and a tracer over it.
struct Evaluated {
  Graph graph;
  Values values;
  NonFiniteTracer tracer;

  explicit Evaluated(const std::string &text, std::optional<std::vector<double>> in = std::nullopt)
      : graph(compileOrFail(text)), values(evaluateGraph(graph, in ? *in : graph.argumentDefaults())),
        tracer(graph, values) {}
  Evaluated(const Evaluated &) = delete; // the tracer refers to the graph and values

  /// The node a script name refers to.
  NodeId node(const std::string &name) const {
    std::optional<NodeId> id = graph.lookup(name);
    EXPECT_TRUE(id.has_value()) << name;
    return id.value_or(0);
  }
  /// The warnings for one result, element 0 of node `name`.
  std::vector<NonFiniteWarning> warnings(const std::string &name) const {
    return tracer.warnings({{name, {node(name), 0}}});
  }
};

TEST(NonFiniteTest, FirstNonFinite) {
  EXPECT_EQ(firstNonFinite({1.0, 2.0}), std::nullopt);
  EXPECT_EQ(firstNonFinite({1.0, INFINITY, NAN}), 1u);
  EXPECT_EQ(firstNonFinite({NAN}), 0u);
  EXPECT_EQ(firstNonFinite({}), std::nullopt);
}

TEST(NonFiniteTest, TracesBackToTheFirstNodeMadeFromFiniteOperands) {
  Evaluated script("input a = 1000\n"
                   "node big = exp(a)\n"
                   "node z = 0 * big\n"
                   "node w = z + 1\n"
                   "output w\n");
  std::vector<ElementRef> chain = script.tracer.trace({script.node("w"), 0});
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].node, script.node("big"));
  EXPECT_EQ(chain[1].node, script.node("z"));
  EXPECT_EQ(chain[2].node, script.node("w"));

  std::vector<NonFiniteNode> all = script.tracer.findAll();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at.node, script.node("big"));
  EXPECT_FALSE(all[0].from.has_value());
  ASSERT_TRUE(all[2].from.has_value());
  EXPECT_EQ(all[2].from->node, script.node("z"));

  std::vector<NonFiniteWarning> warnings = script.warnings("w");
  ASSERT_EQ(warnings.size(), 1u);
  const Diagnostic &warning = warnings[0].diagnostics.front();
  EXPECT_EQ(warning.severity, Severity::Warning);
  EXPECT_EQ(warning.message, "exp(1000) = inf here; it makes w nan");
  EXPECT_EQ(warning.loc.line, 2u);
  ASSERT_EQ(warnings[0].diagnostics.size(), 2u);
  EXPECT_EQ(warnings[0].diagnostics[1].message, "a = 1000");
}

TEST(NonFiniteTest, AnInputThatIsNotFiniteIsTheSource) {
  Evaluated script("input x = 1\nnode y = log(x)\noutput y\n", std::vector<double>{NAN});
  std::vector<NonFiniteWarning> warnings = script.warnings("y");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].origin.node, script.node("x"));
  EXPECT_EQ(warnings[0].diagnostics.front().message, "input x is nan; it makes y nan");
}

TEST(NonFiniteTest, FollowsTheElementsAnElementWasComputedFrom) {
  // p[1] = e[1] / sum(e): from e[1], through the broadcast of the sum; q picks p[1] by an index.
  Evaluated script("input z[3] = [1, 1000, 2]\n"
                   "node e = exp(z)\n"
                   "node p = e / sum(e)\n"
                   "node q = p[1]\n"
                   "output q\n");
  std::vector<ElementRef> chain = script.tracer.trace({script.node("q"), 0});
  ASSERT_GE(chain.size(), 3u);
  EXPECT_EQ(chain.front(), (ElementRef{script.node("e"), 1}));
  EXPECT_EQ(chain[chain.size() - 2], (ElementRef{script.node("p"), 1}));
  std::vector<NonFiniteWarning> warnings = script.warnings("q");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].diagnostics.front().message, "exp(1000) = inf here, in e[1]; it makes q nan");
  EXPECT_EQ(warnings[0].diagnostics[1].message, "z[1] = 1000");
}

TEST(NonFiniteTest, WhereFollowsOnlyTheBranchItTook) {
  // where takes b (inf from exp), not a (NaN from log): the chain goes to b.
  Evaluated script("input x = -1\n"
                   "node a = log(x)\n"
                   "node b = exp(-1000 * x)\n"
                   "node w = where(x > 0, a, b)\n"
                   "output w\n");
  EXPECT_EQ(script.tracer.trace({script.node("w"), 0}).front().node, script.node("b"));
}

TEST(NonFiniteTest, AnIndexOutOfRangeIsWhereTheNaNStarted) {
  Evaluated script("input x[2] = [1, 2]\ninput i = 7\nnode y = x[i] + 1\noutput y\n");
  std::vector<NonFiniteWarning> warnings = script.warnings("y");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].diagnostics.front().message,
            "x[7] = nan here (7 is not an index of axis 0); it makes y nan");
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
  Evaluated script("input x = 0\nnode l = log(x)\nnode a = 2 * l\nnode b = l - 1\noutput a, b\n");
  std::vector<NonFiniteWarning> warnings =
      script.tracer.warnings({{"a", {script.node("a"), 0}}, {"b", {script.node("b"), 0}}});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].diagnostics.front().message, "log(0) = -inf here; it makes a -inf, b -inf");
}

TEST(NonFiniteTest, NothingWhereEverythingIsFinite) {
  Evaluated script("input x = 2\nnode y = log(x)\noutput y\n");
  EXPECT_TRUE(script.tracer.findAll().empty());
  EXPECT_TRUE(script.tracer.fullTrace().empty());
}

} // namespace
