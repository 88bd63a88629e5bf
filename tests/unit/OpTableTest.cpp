//===- OpTableTest.cpp - Every operation of Ops.def, listed by the table itself ---===//
//
// The op lists here are generated from the op table, so an operation added to Ops.def is tested without
// anyone listing it:
//   - every op with operands (internal ones included, in graphs built directly) compiles to code that
//     reproduces the interpreter bit for bit, forward and gradient, at -O0 and -O2, on ordinary values and on
//     zeros, infinities and NaN;
//   - every op a script can write has a gradient that matches central differences over a domain this file
//     names for it: derivativeDomain's switch has no default, so a new op without a domain fails to build
//     (-Werror=switch).
// Tensor ops (isTensorOp: `@`, sum, mean, indexing, and the internal ops of gradient graphs) are checked apart:
// the two checks above skip them, and a third, built with tensor operands, checks for each that its graph
// verifies, that the interpreter gives a result of the op's shape, that autodiff differentiates a scalar result
// and refuses a tensor one, that the JIT refuses a gradient function (not compiled for tensors yet), and, for the
// ops of forward graphs, that the compiled forward function gives the interpreter's numbers. TensorGradTest and
// TensorCodeGenTest check each op further.
//
//===----------------------------------------------------------------------===//
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <random>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::sameValue;

namespace {

/// How a script writes `info` over inputs x and y ("x + y", "-x", "exp(x)", "max(x, y)"); empty for leaves
/// and for internal ops, which only gradient graphs contain. The one ternary, where, gets a condition that holds
/// at about half the points (x > y), so that both of its branches are checked.
std::string scriptExpression(const OpInfo &info) {
  std::string spelling = info.spelling;
  switch (info.syntax) {
  case Syntax::Infix:
    return "x " + spelling + " y";
  case Syntax::Prefix:
    return spelling + "x";
  case Syntax::Call:
    return spelling + (info.arity == 1 ? "(x)" : info.arity == 2 ? "(x, y)" : "(x > y, x * y, y - x)");
  case Syntax::Leaf:
  case Syntax::Index:
  case Syntax::Internal:
  case Syntax::InternalInfix:
    return "";
  }
  return "";
}

/// Where a script op's derivative is compared with central differences: away from poles, kinks and jumps
/// (random points hit one, or come within the difference's step of it, with probability about 1e-6; a
/// comparison's derivative is 0 away from equality, where its difference quotient is 0 too).
struct Domain {
  double low, high;
};
std::optional<Domain> derivativeDomain(OpKind kind) {
  switch (kind) {
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Neg:
  case OpKind::Exp:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Relu:
  case OpKind::Abs:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::Less:
  case OpKind::LessEqual:
  case OpKind::Greater:
  case OpKind::GreaterEqual:
  case OpKind::Equal:
  case OpKind::NotEqual:
  case OpKind::Where:
    return Domain{-2, 2};
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::Log:
  case OpKind::Sqrt:
    return Domain{0.5, 2};
  case OpKind::Tan:
    return Domain{-1, 1};
  case OpKind::Input:
  case OpKind::Param:
  case OpKind::Const:
  case OpKind::Step:
  case OpKind::Sign:
  case OpKind::GreaterEq:
  case OpKind::LessEq:
  case OpKind::DMul:
  case OpKind::SumTo:
  case OpKind::BroadcastTo:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::IndexGrad:
  case OpKind::DynamicIndexGrad:
    return std::nullopt; // not written in scripts: checked through the ops whose derivatives use them
  case OpKind::MatMul:
  case OpKind::Sum:
  case OpKind::Mean:
  case OpKind::Index:
  case OpKind::DynamicIndex:
    return std::nullopt; // tensor ops: their vector-Jacobian products are checked in TensorGradTest
  }
  return std::nullopt;
}

/// `op` applied to inputs x (, y, z), as the only output: any op, internal ones included.
Graph singleOpGraph(OpKind op) {
  Graph graph;
  std::vector<NodeId> operands;
  for (unsigned i = 0; i < getOpInfo(op).arity; ++i)
    operands.push_back(graph.addArgument(OpKind::Input, std::string(1, "xyz"[i]), {1, 1}, 0.0));
  NodeId result = graph.addNode(op, operands, {1, 1});
  graph.node(result).name = "f";
  graph.addOutput("f", result, {1, 1});
  return graph;
}

} // namespace

TEST(OpTable, EveryOpCompilesToTheInterpretersNumbers) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  static_assert(MaxArity == 3, "points have one coordinate per operand");
  std::vector<std::array<double, 3>> points = {
      {0, 0, 1},      {1, 1, nan},    {-0.0, 2, inf}, {0, -0.0, nan}, {2, -0.0, 3}, {0, inf, -1}, {0, nan, 2},
      {-0.0, inf, nan}, {nan, 1, 2},  {1, nan, inf},  {inf, -1, nan}, {-inf, 0, 1}, {3, 3, 3}};
  std::mt19937 random(7);
  std::uniform_real_distribution<double> draw(-3, 3);
  for (int i = 0; i < 12; ++i)
    points.push_back({draw(random), draw(random), draw(random)});

  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (info.arity == 0 || isTensorOp(info.kind))
      continue;
    Graph graph = singleOpGraph(info.kind);
    auto built = buildGradientGraph(graph);
    ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
    const GradientGraph &gradient = *built;
    for (unsigned optLevel : {0u, 2u}) {
      auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
      ASSERT_TRUE(bool(model)) << info.name << ": " << llvm::toString(model.takeError());
      for (auto [x, y, z] : points) {
        std::vector<double> in = {x, y, z};
        in.resize(info.arity);
        Values expected = evaluateGraph(gradient.graph, in);
        double out, outFromGradient, grad[MaxArity];
        (*model)->forward(in.data(), &out);
        (*model)->gradient(in.data(), &outFromGradient, grad);
        NodeId f = graph.outputs()[0].node;
        EXPECT_TRUE(sameValue(out, expected[f]))
            << info.name << " -O" << optLevel << " at " << x << ", " << y << ", " << z;
        EXPECT_TRUE(sameValue(outFromGradient, expected[f])) << info.name << " -O" << optLevel;
        for (size_t a = 0; a < info.arity; ++a)
          EXPECT_TRUE(sameValue(grad[a], expected[gradient.sweeps[0].gradient[a]]))
              << info.name << " -O" << optLevel << " d/d" << "xyz"[a] << " at " << x << ", " << y << ", " << z;
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, NumOps - 14); // every op but the three leaves and the eleven tensor ops
}

TEST(OpTable, EveryScriptOpHasTheDerivativeOfItsForwardRule) {
  std::mt19937 random(2026);
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (isTensorOp(info.kind))
      continue;
    std::string expression = scriptExpression(info);
    std::optional<Domain> domain = derivativeDomain(info.kind);
    ASSERT_EQ(expression.empty(), !domain) << info.name << ": a script op needs a domain, and only script ops have one";
    if (expression.empty())
      continue;
    // "+ 0 * y" keeps y an input of unary ops, so every graph has the same two arguments.
    Graph graph = compileOrFail("input x\ninput y\nnode f = " + expression + " + 0 * y\noutput f\n");
    auto built = buildGradientGraph(graph);
    ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
    const GradientGraph &gradient = *built;
    std::uniform_real_distribution<double> draw(domain->low, domain->high);
    for (int point = 0; point < 8; ++point) {
      std::vector<double> in = {draw(random), draw(random)};
      Values values = evaluateGraph(gradient.graph, in);
      for (size_t a = 0; a < 2; ++a) {
        double h = 1e-6 * std::max(1.0, std::fabs(in[a]));
        std::vector<double> plus = in, minus = in;
        plus[a] += h;
        minus[a] -= h;
        NodeId f = graph.outputs()[0].node;
        double numeric = (evaluateGraph(graph, plus)[f] - evaluateGraph(graph, minus)[f]) / (plus[a] - minus[a]);
        double analytic = values[gradient.sweeps[0].gradient[a]];
        EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric)))
            << expression << " at x=" << in[0] << " y=" << in[1] << " wrt " << (a ? "y" : "x");
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 25u); // + - * / ^, unary -, the 6 comparisons, and the 13 builtins
}

TEST(OpTable, EveryTensorOpIsInterpretedAndCompiled) {
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!isTensorOp(info.kind))
      continue;
    // Operand #0 of shape [2,3], #1 of shape [3,2]: right for `@`, and for the reductions over every element.
    Graph graph;
    std::vector<NodeId> operands;
    std::vector<double> in;
    bool runTimeIndex = info.kind == OpKind::DynamicIndex || info.kind == OpKind::DynamicIndexGrad;
    for (unsigned i = 0; i < info.arity; ++i) {
      if (i == 1 && runTimeIndex) { // the index, a scalar
        operands.push_back(graph.addArgument(OpKind::Input, "i", {1, 1}, 1.0));
        in.push_back(1);
        continue;
      }
      Shape shape = i == 0 ? Shape{2, 3} : Shape{3, 2};
      std::vector<double> data = {1, -2, 0.5, 4, -0.0, 3};
      operands.push_back(graph.addTensorArgument(OpKind::Input, std::string(1, "xy"[i]), {1, 1}, shape, data));
      in.insert(in.end(), data.begin(), data.end());
    }
    std::vector<int64_t> attrs;
    if (info.kind == OpKind::Index)
      attrs = {0, 1, 2}; // x[1]
    if (info.kind == OpKind::SumTo)
      attrs = {3};
    if (info.kind == OpKind::BroadcastTo)
      attrs = {4, 2, 3};
    if (info.kind == OpKind::Reshape)
      attrs = {3, 2};
    if (info.kind == OpKind::IndexGrad)
      attrs = {3, 4, 2, 3, 0, 1, 2}; // into [4,2,3] at [1]
    if (info.kind == OpKind::DynamicIndex)
      attrs = {1}; // x[:, i]
    if (info.kind == OpKind::DynamicIndexGrad)
      attrs = {1, 2, 4, 3}; // into [2,4,3] at [:, i]
    auto result = graph.addOp(info.kind, operands, {1, 1}, attrs);
    ASSERT_TRUE(bool(result)) << info.name << ": " << llvm::toString(result.takeError());
    graph.addOutput("f", *result, {1, 1});
    EXPECT_FALSE(llvm::errorToBool(graph.verify())) << info.name;
    Values values = evaluateGraph(graph, in);
    EXPECT_EQ(values.tensor(*result).size(), static_cast<size_t>(elementCount(graph.node(*result).type.shape)))
        << info.name;
    if (getOpInfo(info.kind).syntax != Syntax::Internal) { // internal ops are never differentiated
      EXPECT_FALSE(llvm::errorToBool(buildGradientGraph(graph).takeError())) << info.name;
      // The gradient function compiles, a tensor result's Jacobian too (TensorCodeGenTest checks its numbers).
      EXPECT_FALSE(llvm::errorToBool(CompiledModel::create(graph, CompiledModel::ForwardAndGradient, 0).takeError()))
          << info.name;
    }
    // The forward function compiles, to the interpreter's numbers (TensorCodeGenTest checks each op further;
    // internal ops, which only gradient graphs hold, here by themselves).
    auto model = CompiledModel::create(graph, CompiledModel::ForwardOnly, 0);
    ASSERT_TRUE(bool(model)) << info.name << ": " << llvm::toString(model.takeError());
    std::vector<double> out(values.tensor(*result).size());
    (*model)->forward(in.data(), out.data());
    for (size_t i = 0; i < out.size(); ++i)
      EXPECT_TRUE(sameValue(out[i], values.tensor(*result)[i])) << info.name << " element " << i;
    ++checked;
  }
  // @, sum, mean, indexing (literal and at run time), sum_to, broadcast_to, reshape, transpose, index_grad and
  // dynamic_index_grad
  EXPECT_EQ(checked, 11u);
}
