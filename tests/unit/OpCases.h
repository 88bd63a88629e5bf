//===- OpCases.h - Every op a script can write, applied to test inputs, for tests over the op table -===//
#ifndef BP_TEST_OP_CASES_H
#define BP_TEST_OP_CASES_H

#include "bp/Graph.h"
#include "bp/Ops.h"

#include <random>
#include <vector>

namespace bp::test {

/// The ops a script can write: not leaves, not the internal ops of gradient graphs.
inline bool scriptWritable(const OpInfo &info) {
  return info.syntax != Syntax::Leaf && info.syntax != Syntax::Internal && info.syntax != Syntax::InternalInfix;
}

/// Each op's attrs to try: none, and each axis of x for the ops that take one; x[1] for indexing.
inline std::vector<std::vector<int64_t>> attrsToTry(OpKind op) {
  if (op == OpKind::Index)
    return {{0, 1, 2}};
  if (op == OpKind::DynamicIndex)
    return {{0}, {1}};
  if (takesAxis(op))
    return {{}, {0}, {1}};
  return {{}};
}

/// Where an op's derivatives are smooth at random points: away from poles and the negative reals for the ops that
/// need positive operands (kinks and jumps are hit with probability about 1e-6).
inline std::uniform_real_distribution<double> domain(OpKind op) {
  bool positive = op == OpKind::Div || op == OpKind::Pow || op == OpKind::Log || op == OpKind::Log1p ||
                  op == OpKind::Sqrt;
  return positive ? std::uniform_real_distribution<double>(0.5, 1.4)
                  : std::uniform_real_distribution<double>(-1.4, 1.4);
}

/// op(x, ...) added to `graph` with new inputs x of shape [2,3] and, for a binary op, y of [3] ([3,2] for @), so
/// that elementwise ops broadcast it; where(x > y, x * y, y - x) for the ternary op; the index of dynamic
/// indexing is the constant 1 (its derivative is 0 by definition, and beside an integer it is not a valid index).
inline NodeId applyToTestInputs(Graph &graph, OpKind op, llvm::ArrayRef<int64_t> attrs) {
  SourceLoc loc{1, 1};
  NodeId x = graph.addTensorArgument(OpKind::Input, "x", loc, {2, 3}, std::vector<double>(6, 0.0));
  std::vector<NodeId> operands = {x};
  unsigned arity = getOpInfo(op).arity;
  if (op == OpKind::DynamicIndex) {
    operands.push_back(graph.addConstant(1, loc));
  } else if (arity >= 2) {
    Shape shape = op == OpKind::MatMul ? Shape{3, 2} : Shape{3};
    NodeId y = graph.addTensorArgument(OpKind::Input, "y", loc, shape, std::vector<double>(elementCount(shape), 0.0));
    operands.push_back(y);
    if (arity == 3)
      operands = {llvm::cantFail(graph.addOp(OpKind::Greater, {x, y}, loc)),
                  llvm::cantFail(graph.addOp(OpKind::Mul, {x, y}, loc)),
                  llvm::cantFail(graph.addOp(OpKind::Sub, {y, x}, loc))};
  }
  return llvm::cantFail(graph.addOp(op, operands, loc, attrs));
}

} // namespace bp::test

#endif // BP_TEST_OP_CASES_H
