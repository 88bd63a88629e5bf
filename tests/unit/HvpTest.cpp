//===- HvpTest.cpp - Hessian-vector products, forward over reverse, against the Hessian -===//
//
// buildHessianVectorGraph's H v (the tangent graph of a gradient graph) against the Hessian of reverse over reverse
// (buildHessianGraph) times the same random v, to 1e-12 relative: for every op a script can write (the op table
// iterated, so that an op added to Ops.def is checked without anyone listing it; the internal ops of gradient graphs
// are reached through these), by every argument and by the first alone (the others constants, as --wrt makes them);
// and on random scripts of vectors and a matrix, with fan-out and deep chains.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"

#include <cmath>
#include <random>
#include <sstream>

using namespace bp;
using bp::test::compileOrFail;

namespace {

bool scriptCanWrite(const OpInfo &info) {
  return info.syntax != Syntax::Leaf && info.syntax != Syntax::Internal && info.syntax != Syntax::InternalInfix;
}

std::vector<double> draw(size_t count, double low, double high, std::mt19937 &random) {
  std::uniform_real_distribution<double> distribution(low, high);
  std::vector<double> values(count);
  for (double &value : values)
    value = distribution(random);
  return values;
}

/// H v from buildHessianVectorGraph against buildHessianGraph's H times v, by the chosen `arguments`, at `in`,
/// for a random v; returns the number of entries compared.
size_t expectHessianTimesV(const Graph &graph, llvm::ArrayRef<double> in, std::vector<size_t> arguments,
                           const std::string &what, std::mt19937 &random) {
  auto hessianGraph = buildHessianGraph(graph, 0, arguments);
  EXPECT_TRUE(bool(hessianGraph)) << what << ": " << llvm::toString(hessianGraph.takeError());
  auto hvpGraph = buildHessianVectorGraph(graph, 0, arguments);
  EXPECT_TRUE(bool(hvpGraph)) << what << ": " << llvm::toString(hvpGraph.takeError());
  if (!hessianGraph || !hvpGraph)
    return 0;
  EXPECT_FALSE(llvm::errorToBool(hvpGraph->tangentGraph.graph.verify())) << what;
  std::vector<size_t> columns = GradientSelection{{}, arguments}.columnOffsets(graph);
  size_t n = columns.back();
  std::vector<double> v = draw(n, -1, 1, random), hessian = evaluateGradient(*hessianGraph, in).grad;
  std::vector<std::vector<double>> products = evaluateHessianVector(*hvpGraph, in, v);
  EXPECT_EQ(hessian.size(), n * n) << what;
  EXPECT_EQ(products.size(), arguments.size()) << what;
  if (hessian.size() != n * n || products.size() != arguments.size())
    return 0;
  for (size_t a = 0; a < arguments.size(); ++a) {
    EXPECT_EQ(products[a].size(), columns[a + 1] - columns[a]) << what;
    for (size_t e = 0; e < products[a].size() && e < columns[a + 1] - columns[a]; ++e) {
      size_t row = columns[a] + e;
      double expected = 0, scale = 1;
      for (size_t c = 0; c < n; ++c) {
        double term = hessian[row * n + c] * v[c];
        expected += term;
        scale = std::max(scale, std::fabs(term));
      }
      EXPECT_NEAR(products[a][e], expected, 1e-12 * scale) << what << ": (H v)[" << row << "]";
    }
  }
  return n;
}

/// l = sum(sin(op(x, y)) * x): x of [2,3] (or a scalar), y of [3] (broadcast over x's rows; [3,2] for @; a
/// scalar with x), and for indexing at run time the index i, an argument too (its derivative is 0). where takes
/// where(x > y, x * y, y - x). The arguments' values are in `in`, in [0.5, 2]: inside every op's domain.
struct OpGraph {
  Graph graph;
  std::vector<double> in;
};
OpGraph opGraph(OpKind op, bool scalars, llvm::ArrayRef<int64_t> attrs, std::mt19937 &random) {
  OpGraph built;
  Graph &graph = built.graph;
  SourceLoc loc{1, 1};
  auto argument = [&](const char *name, const Shape &shape) {
    std::vector<double> values = draw(static_cast<size_t>(elementCount(shape)), 0.5, 2, random);
    llvm::append_range(built.in, values);
    return shape.empty() ? graph.addArgument(OpKind::Input, name, loc, values[0])
                         : graph.addTensorArgument(OpKind::Input, name, loc, shape, values);
  };
  auto apply = [&](OpKind kind, std::vector<NodeId> operands, llvm::ArrayRef<int64_t> attrs = {}) {
    return llvm::cantFail(graph.addOp(kind, operands, loc, attrs));
  };
  NodeId x = argument("x", scalars ? Shape{} : Shape{2, 3});
  std::vector<NodeId> operands = {x};
  if (op == OpKind::DynamicIndex) {
    NodeId i = graph.addArgument(OpKind::Input, "i", loc, 1.0);
    built.in.push_back(1);
    operands.push_back(i);
  } else if (getOpInfo(op).arity >= 2) {
    NodeId y = argument("y", scalars ? Shape{} : op == OpKind::MatMul ? Shape{3, 2} : Shape{3});
    operands.push_back(y);
    if (getOpInfo(op).arity == 3)
      operands = {apply(OpKind::Greater, {x, y}), apply(OpKind::Mul, {x, y}), apply(OpKind::Sub, {y, x})};
  }
  NodeId sine = apply(OpKind::Sin, {apply(op, operands, attrs)});
  if (graph.node(sine).type.shape == graph.node(x).type.shape) // a product with x: mixed second derivatives
    sine = apply(OpKind::Mul, {sine, x});
  graph.addOutput("l", apply(OpKind::Sum, {sine}), loc);
  return built;
}

/// Each op's attrs to try: none, and each axis of x for the ops that take one; x[1] and x[0:2, 1:3] for indexing.
std::vector<std::vector<int64_t>> attrsToTry(OpKind op) {
  if (op == OpKind::Index)
    return {{0, 1, 2}, {1, 0, 2, 1, 1, 3}};
  if (op == OpKind::DynamicIndex)
    return {{0}, {1}};
  if (takesAxis(op))
    return {{}, {0}, {1}};
  return {{}};
}

} // namespace

TEST(Hvp, EveryScriptOpGivesTheHessianTimesV) {
  std::mt19937 random(2029);
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!scriptCanWrite(info))
      continue;
    for (bool scalars : {false, true}) {
      if (scalars && isTensorOp(info.kind))
        continue;
      for (const std::vector<int64_t> &attrs : attrsToTry(info.kind)) {
        std::string what = std::string(info.name) + (scalars ? " on scalars" : "") +
                           (attrs.empty() ? "" : " attrs " + std::to_string(attrs[0]));
        for (int point = 0; point < 2; ++point) {
          OpGraph built = opGraph(info.kind, scalars, attrs, random);
          std::vector<size_t> every;
          for (size_t a = 0; a < built.graph.arguments().size(); ++a)
            every.push_back(a);
          EXPECT_GT(expectHessianTimesV(built.graph, built.in, every, what, random), 0u) << what;
          EXPECT_GT(expectHessianTimesV(built.graph, built.in, {0}, what + " by x", random), 0u) << what;
        }
      }
    }
    ++checked;
  }
  // + - * / ^, unary -, the 15 builtins, the 6 comparisons, where, stop_gradient; @, sum, mean, max, min,
  // softmax, log_softmax, logsumexp, transpose, argmax, indexing (literal and at run time)
  EXPECT_GE(checked, 41u);
}

TEST(Hvp, TheRosenbrockFunction) {
  // f = (1 - x)^2 + 100 (y - x^2)^2 at (-1.2, 1): H = [[1330, 480], [480, 200]], so H [1, 1] = [1810, 680].
  Graph graph = compileOrFail("input x = -1.2\ninput y = 1\nnode f = (1 - x)^2 + 100 * (y - x^2)^2\noutput f\n");
  auto hvpGraph = buildHessianVectorGraph(graph, 0, {0, 1});
  ASSERT_TRUE(bool(hvpGraph)) << llvm::toString(hvpGraph.takeError());
  std::vector<std::vector<double>> products = evaluateHessianVector(*hvpGraph, {-1.2, 1}, {1, 1});
  ASSERT_EQ(products.size(), 2u);
  EXPECT_NEAR(products[0][0], 1810, 1e-12 * 1810);
  EXPECT_NEAR(products[1][0], 680, 1e-12 * 680);
  // By y alone x is a constant: d2f/dy2 v = 200 v, from a graph with one tangent leaf.
  auto byY = buildHessianVectorGraph(graph, 0, {1});
  ASSERT_TRUE(bool(byY)) << llvm::toString(byY.takeError());
  EXPECT_EQ(byY->tangentGraph.tangents.size(), 1u);
  products = evaluateHessianVector(*byY, {-1.2, 1}, {2});
  ASSERT_EQ(products.size(), 1u);
  EXPECT_NEAR(products[0][0], 400, 1e-12 * 400);
}

namespace {

/// Expressions over vectors A and B of [3] (W is a [3,3] param) whose values and second derivatives stay finite.
const char *const VectorTemplates[] = {
    "A + B",           "A * B",           "A / (1 + B * B)",     "sin(A) * B",
    "tanh(A)",         "sigmoid(A - B)",  "exp(tanh(A))",        "log(1 + A * A)",
    "sqrt(1 + A * A)", "W @ A",           "transpose(W) @ (A * B)", "softmax(A)",
    "log_softmax(A) * B", "logsumexp(A) + B", "mean(A * B) * A",  "A ^ 2",
    "cos(sum(A)) * B", "relu(A) + max(A, B)", "abs(A - B) * A",   "(1 + A * A) ^ tanh(B)",
};

std::string substitute(const std::string &text, const std::string &a, const std::string &b) {
  std::string result;
  for (char c : text)
    result += c == 'A' ? a : c == 'B' ? b : std::string(1, c);
  return result;
}

/// A random script over vectors x0, x1 (inputs) and a matrix W (param): `nodeCount` nodes, each a template whose
/// operands are the newest node half the time (deep chains) and anything earlier otherwise (fan-out), and the
/// scalar output l of the last two.
std::string vectorScript(std::mt19937 &random, int nodeCount) {
  std::ostringstream script;
  std::uniform_real_distribution<double> value(-1.5, 1.5);
  auto vector = [&] {
    return "[" + std::to_string(value(random)) + ", " + std::to_string(value(random)) + ", " +
           std::to_string(value(random)) + "]";
  };
  script << "input x0[3] = " << vector() << "\ninput x1[3] = " << vector() << "\n";
  script << "param W[3,3] = [" << vector() << ", " << vector() << ", " << vector() << "]\n";
  std::vector<std::string> names = {"x0", "x1"};
  for (int n = 0; n < nodeCount; ++n) {
    auto pick = [&] { return random() % 2 ? names.back() : names[random() % names.size()]; };
    std::string a = pick(), b = pick();
    names.push_back("n" + std::to_string(n));
    script << "node " << names.back() << " = "
           << substitute(VectorTemplates[random() % std::size(VectorTemplates)], a, b) << "\n";
  }
  script << "node l = sum(" << names.back() << ") + 0.5 * sum(" << names[names.size() - 2] << " * W @ x0)\n";
  script << "output l\n";
  return script.str();
}

} // namespace

TEST(Hvp, RandomScriptsGiveTheHessianTimesV) {
  std::mt19937 random(20261129);
  size_t entries = 0;
  for (int trial = 0; trial < 30; ++trial) {
    std::string script = vectorScript(random, 3 + trial % 12);
    Graph graph = compileOrFail(script);
    if (graph.outputs().empty())
      continue;
    std::vector<double> in = graph.argumentDefaults();
    std::string what = "script:\n" + script;
    entries += expectHessianTimesV(graph, in, {0, 1, 2}, what, random);
    entries += expectHessianTimesV(graph, in, {2}, what + "by W", random);
  }
  EXPECT_GT(entries, 400u);
}
