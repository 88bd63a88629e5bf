//===- OpTableTest.cpp - Every operation of Ops.def, listed by the table itself ---===//
//
// The op lists here are generated from the op table, so an operation added to Ops.def is tested without
// anyone listing it:
//   - every op with operands (internal ones included, in graphs built directly) compiles to code that
//     reproduces the interpreter bit for bit, forward and gradient, at -O0 and -O2, on ordinary values and on
//     zeros, infinities and NaN;
//   - every op a script can write has a gradient that matches central differences over a domain this file
//     names for it: derivativeDomain's switch has no default, so a new op without a domain fails to build
//     (-Werror=switch). stop_gradient, whose derivative is 0 by definition and not its forward rule's (the
//     identity's 1), is checked against central differences of the script with it held constant: 0.
// Tensor ops (isTensorOp: `@`, the reductions, the softmax family, transpose, argmax, indexing, and the internal
// ops of gradient graphs) are checked apart: the two checks above skip them, and a third, built with tensor
// operands, checks for each that its graph verifies, that the interpreter gives a result of the op's shape, that
// autodiff differentiates a scalar result and refuses a tensor one, and that the compiled forward function gives
// the interpreter's numbers; a fourth checks the vector-Jacobian product of every tensor op a script can write
// (of sum(sin(op(x)))) against central differences, over every element and over each axis, and its compiled
// gradient against the interpreter's. TensorGradTest and TensorCodeGenTest check each op further.
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
  case OpKind::Expm1:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Softplus:
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
  case OpKind::StopGradient:
    return Domain{-2, 2};
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::Log:
  case OpKind::Log1p:
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
  case OpKind::IndexGrad:
  case OpKind::DynamicIndexGrad:
  case OpKind::ArgmaxMask:
  case OpKind::WithPartial: // a def's stated derivative: CustomGradTest
    return std::nullopt; // not written in scripts: checked through the ops whose derivatives use them
  case OpKind::MatMul:
  case OpKind::Sum:
  case OpKind::Mean:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
  case OpKind::LogSumExp:
  case OpKind::Transpose:
  case OpKind::Argmax:
  case OpKind::Index:
  case OpKind::DynamicIndex:
    return std::nullopt; // tensor ops: their vector-Jacobian products are checked below and in TensorGradTest
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
  EXPECT_GE(checked, NumOps - 22); // every op but the three leaves and the 19 tensor ops
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
        if (info.kind == OpKind::StopGradient) // held constant, as its derivative is defined
          numeric = 0;
        double analytic = values[gradient.sweeps[0].gradient[a]];
        EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric)))
            << expression << " at x=" << in[0] << " y=" << in[1] << " wrt " << (a ? "y" : "x");
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 29u); // + - * / ^, unary -, the 6 comparisons, where, stop_gradient and the 15 builtins
}

namespace {

/// A tensor op on inputs x of shape [2,3] (and, for `@`, y of [3,2]), the only output: `attrs`, or each op's
/// usual ones (x[1] for indexing, and shapes that fit for the internal ops; none for an axis: every element).
struct TensorOpGraph {
  Graph graph;
  NodeId result = InvalidNode;
  std::vector<double> in;
};
TensorOpGraph tensorOpGraph(OpKind op, std::optional<std::vector<int64_t>> attrs = std::nullopt) {
  TensorOpGraph built;
  std::vector<NodeId> operands;
  bool runTimeIndex = op == OpKind::DynamicIndex || op == OpKind::DynamicIndexGrad;
  for (unsigned i = 0; i < getOpInfo(op).arity; ++i) {
    if (i == 1 && runTimeIndex) { // the index, a scalar
      operands.push_back(built.graph.addArgument(OpKind::Input, "i", {1, 1}, 1.0));
      built.in.push_back(1);
      continue;
    }
    Shape shape = i == 0 || op == OpKind::WithPartial ? Shape{2, 3} : Shape{3, 2};
    std::vector<double> data = {1, -2, 0.5, 4, -0.0, 3};
    operands.push_back(built.graph.addTensorArgument(OpKind::Input, std::string(1, "xyz"[i]), {1, 1}, shape, data));
    built.in.insert(built.in.end(), data.begin(), data.end());
  }
  if (!attrs) {
    attrs.emplace();
    if (op == OpKind::Index)
      attrs = {0, 1, 2}; // x[1]
    if (op == OpKind::SumTo)
      attrs = {3};
    if (op == OpKind::BroadcastTo)
      attrs = {4, 2, 3};
    if (op == OpKind::Reshape)
      attrs = {3, 2};
    if (op == OpKind::IndexGrad)
      attrs = {3, 4, 2, 3, 0, 1, 2}; // into [4,2,3] at [1]
    if (op == OpKind::DynamicIndex)
      attrs = {1}; // x[:, i]
    if (op == OpKind::DynamicIndexGrad)
      attrs = {1, 2, 4, 3}; // into [2,4,3] at [:, i]
    if (op == OpKind::WithPartial)
      attrs = {1}; // x, its value, a def's body
  }
  auto result = built.graph.addOp(op, operands, {1, 1}, *attrs);
  EXPECT_TRUE(bool(result)) << getOpInfo(op).name << ": " << llvm::toString(result.takeError());
  if (result)
    built.result = *result;
  return built;
}

} // namespace

TEST(OpTable, EveryTensorOpIsInterpretedAndCompiled) {
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!isTensorOp(info.kind))
      continue;
    auto [graph, result, in] = tensorOpGraph(info.kind);
    ASSERT_NE(result, InvalidNode);
    graph.addOutput("f", result, {1, 1});
    EXPECT_FALSE(llvm::errorToBool(graph.verify())) << info.name;
    Values values = evaluateGraph(graph, in);
    EXPECT_EQ(values.tensor(result).size(), static_cast<size_t>(elementCount(graph.node(result).type.shape)))
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
    std::vector<double> out(values.tensor(result).size());
    (*model)->forward(in.data(), out.data());
    for (size_t i = 0; i < out.size(); ++i)
      EXPECT_TRUE(sameValue(out[i], values.tensor(result)[i])) << info.name << " element " << i;
    ++checked;
  }
  // @, sum, mean, max, min, softmax, log_softmax, logsumexp, transpose, argmax, indexing (literal and at run
  // time), sum_to, broadcast_to, reshape, index_grad, dynamic_index_grad, argmax_mask, with_partial
  EXPECT_EQ(checked, 19u);
}

TEST(OpTable, EveryScriptTensorOpHasTheGradientOfItsForwardRule) {
  // l = sum(sin(op(x, y))): the vector-Jacobian product against central differences of the forward rule, and
  // the compiled gradient against the interpreter's, bit for bit, for every op a script can write, over every
  // element and over each axis where the op takes one.
  size_t checked = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!isTensorOp(info.kind) || info.syntax == Syntax::Internal)
      continue;
    std::vector<std::optional<std::vector<int64_t>>> attrsToTry = {std::nullopt};
    if (takesAxis(info.kind))
      attrsToTry.insert(attrsToTry.end(), {std::vector<int64_t>{0}, std::vector<int64_t>{1}});
    for (const auto &attrs : attrsToTry) {
      std::string what = std::string(info.name) + (attrs && !attrs->empty() ? " axis " + std::to_string((*attrs)[0]) : "");
      auto [graph, result, in] = tensorOpGraph(info.kind, attrs);
      ASSERT_NE(result, InvalidNode) << what;
      NodeId sine = llvm::cantFail(graph.addOp(OpKind::Sin, {result}, {1, 1}));
      NodeId l = llvm::cantFail(graph.addOp(OpKind::Sum, {sine}, {1, 1}));
      graph.addOutput("l", l, {1, 1});
      auto gradient = buildGradientGraph(graph);
      ASSERT_TRUE(bool(gradient)) << what << ": " << llvm::toString(gradient.takeError());
      Values values = evaluateGraph(gradient->graph, in);
      std::vector<double> analytic;
      for (NodeId entry : gradient->sweeps[0].gradient)
        analytic.insert(analytic.end(), values.tensor(entry).begin(), values.tensor(entry).end());
      ASSERT_EQ(analytic.size(), in.size()) << what;
      for (size_t i = 0; i < in.size(); ++i) {
        if (info.kind == OpKind::DynamicIndex && i + 1 == in.size()) { // the index: derivative 0, no differences
          EXPECT_EQ(analytic[i], 0.0) << what; //   (beside an integer it is not a valid index)
          continue;
        }
        double h = 1e-6 * std::max(1.0, std::fabs(in[i]));
        std::vector<double> plus = in, minus = in;
        plus[i] += h;
        minus[i] -= h;
        double numeric = (evaluateGraph(graph, plus)[l] - evaluateGraph(graph, minus)[l]) / (plus[i] - minus[i]);
        EXPECT_NEAR(analytic[i], numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << what << " element " << i;
      }
      for (unsigned optLevel : {0u, 2u}) {
        auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel);
        ASSERT_TRUE(bool(model)) << what << ": " << llvm::toString(model.takeError());
        double out;
        std::vector<double> grad(in.size());
        (*model)->gradient(in.data(), &out, grad.data());
        EXPECT_TRUE(sameValue(out, values[l])) << what << " -O" << optLevel;
        for (size_t i = 0; i < in.size(); ++i)
          EXPECT_TRUE(sameValue(grad[i], analytic[i])) << what << " -O" << optLevel << " element " << i;
      }
    }
    ++checked;
  }
  // @, sum, mean, max, min, softmax, log_softmax, logsumexp, transpose, argmax, indexing (literal and at run time)
  EXPECT_GE(checked, 12u);
}
