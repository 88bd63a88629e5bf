//===- TangentRules.cpp - Every operation's tangent, for forward mode -----===//
//
// Forward mode's column of the op table: per operation of Ops.def, the tangent of its result from its operands'
// tangents (Forward.cpp carries them through the graph). A tangent of InvalidNode is 0, and makes no nodes.
// Elementwise ops: the sum over the operands of local derivative (localDerivative, DerivativeRules.cpp) times
// tangent, each product dmul, so a tangent of 0 or a local derivative of 0 gives 0 even where the other factor
// is infinite or NaN: a branch that max, min, relu, abs or where did not take contributes 0, never NaN
// (`where(x > 0, sqrt(x), 0)` has tangent 0 at x = 0), and an argument that does not move moves nothing.
// Local derivatives that are the constants 0, 1 and -1 (comparisons, +, -) make no product.
// Tensor ops are linear in their tangents, or have their own rule: a @ b gives da @ b + a @ db; sum, mean,
// transpose, indexing (at run time too, at the same index), reshape, broadcast_to, sum_to and index_grad apply
// themselves to the tangent; max and min over an axis pick the tangent of the element they return (the
// sum of the tangent times argmax_mask); softmax gives s * (t - sum(s * t)) (s the result), log_softmax
// t - sum(softmax(x) * t), logsumexp sum(softmax(x) * t), each sum along the op's axis (kept as a dimension of 1
// where it broadcasts back); argmax and argmax_mask are piecewise constant, 0.
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"

#include <cassert>
#include <iterator>

using namespace bp;
using B = DerivativeBuilder;
using Tangents = llvm::ArrayRef<NodeId>;

namespace {

bool isConstant(B &b, NodeId id, double value) {
  const Node &node = b.nodeAt(id);
  return node.op == OpKind::Const && node.type.isScalar() && node.value == value;
}

/// a + b, where either may be 0 (InvalidNode).
NodeId addTangents(B &b, NodeId x, NodeId y) {
  if (x == InvalidNode)
    return y;
  return y == InvalidNode ? x : b.add(x, y);
}

/// Leaves have no operands; Forward.cpp gives the arguments theirs.
NodeId leafTangent(B &, Tangents) { llvm_unreachable("leaves have no operands"); }

/// Sum over the operands of local derivative * tangent, broadcast to the result's shape.
NodeId elementwiseTangent(B &b, Tangents tangents) {
  NodeId total = InvalidNode;
  for (unsigned i = 0; i < tangents.size(); ++i) {
    if (tangents[i] == InvalidNode)
      continue;
    NodeId local = localDerivative(b.resultNode().op, b, i);
    if (isConstant(b, local, 0))
      continue;
    NodeId term = isConstant(b, local, 1)    ? tangents[i]
                  : isConstant(b, local, -1) ? b.neg(tangents[i])
                                             : b.apply(OpKind::DMul, {local, tangents[i]});
    total = addTangents(b, total, term);
  }
  Shape shape = b.shape(b.result()); // a copy: adding nodes moves the graph's
  if (total != InvalidNode && b.shape(total) != shape) // an operand the op broadcast
    total = b.apply(OpKind::BroadcastTo, {total}, shape);
  return total;
}

/// The node's attrs, copied: a reference into the graph does not survive adding a node.
llvm::SmallVector<int64_t, 8> attrsOf(B &b) {
  return llvm::SmallVector<int64_t, 8>(b.resultNode().attrs.begin(), b.resultNode().attrs.end());
}

/// The op itself applied to the tangent of its first operand (the other operands as they are): for the ops
/// linear in it.
NodeId linearTangent(B &b, Tangents tangents) {
  if (tangents[0] == InvalidNode)
    return InvalidNode;
  llvm::SmallVector<NodeId, 2> operands = {tangents[0]};
  for (unsigned i = 1; i < tangents.size(); ++i)
    operands.push_back(b.operand(i));
  return b.apply(b.resultNode().op, operands, attrsOf(b));
}

/// Piecewise constant: 0.
NodeId zeroTangent(B &, Tangents) { return InvalidNode; }

/// with_partial(value, arg, partial), a def's stated derivative: value's tangent (none from the def's body, attrs
/// {1}) plus partial times arg's tangent, broadcast over the result's shape where that is larger and summed to it
/// (the transpose of its vjp); nothing from the partial's own tangent. dmul, as elementwiseTangent: a tangent of
/// 0 gives 0 past an infinite partial.
NodeId withPartialTangent(B &b, Tangents tangents) {
  NodeId value = b.resultNode().attrs[0] == 0 ? tangents[0] : InvalidNode;
  if (tangents[1] == InvalidNode)
    return value;
  NodeId term = b.apply(OpKind::DMul, {b.operand(2), tangents[1]});
  Shape shape = b.resultNode().type.shape; // a copy: adding nodes moves the graph's
  Shape all = llvm::cantFail(broadcastShapes(b.shape(term), shape, "multiply"));
  if (all != b.shape(term))
    term = b.apply(OpKind::BroadcastTo, {term}, all);
  if (all != shape)
    term = b.apply(OpKind::SumTo, {term}, shape);
  return addTangents(b, value, term);
}

NodeId matmulTangent(B &b, Tangents tangents) {
  NodeId left = tangents[0] == InvalidNode ? InvalidNode : b.apply(OpKind::MatMul, {tangents[0], b.operand(1)});
  NodeId right = tangents[1] == InvalidNode ? InvalidNode : b.apply(OpKind::MatMul, {b.operand(0), tangents[1]});
  return addTangents(b, left, right);
}

/// The sum of t along the node's axis (or over every element); `keep` keeps the axis as a dimension of 1, so that
/// the sum broadcasts back over it.
NodeId sumAlongAxis(B &b, NodeId t, bool keep) {
  llvm::SmallVector<int64_t, 8> attrs = attrsOf(b);
  NodeId sum = b.apply(OpKind::Sum, {t}, attrs);
  if (!keep || attrs.empty())
    return sum;
  Shape kept = b.shape(b.operand(0));
  kept[static_cast<size_t>(attrs[0])] = 1;
  return b.apply(OpKind::Reshape, {sum}, kept);
}

/// max and min over an axis: the tangent of the element each run returns, its first maximum (minimum; the first
/// minimum of x is the first maximum of -x, NaN included).
NodeId extremeTangent(B &b, Tangents tangents) {
  NodeId x = b.operand(0);
  if (b.resultNode().op == OpKind::ReduceMin)
    x = b.neg(x);
  NodeId mask = b.apply(OpKind::ArgmaxMask, {x}, attrsOf(b));
  return sumAlongAxis(b, b.apply(OpKind::DMul, {mask, tangents[0]}), false);
}

NodeId softmaxOfOperand(B &b) { return b.apply(OpKind::Softmax, {b.operand(0)}, attrsOf(b)); }

// s = softmax(x): s * (t - sum(s * t)); log_softmax: t - sum(softmax(x) * t); logsumexp: sum(softmax(x) * t).
NodeId softmaxTangent(B &b, Tangents tangents) {
  NodeId s = b.result(), t = tangents[0];
  return b.mul(s, b.sub(t, sumAlongAxis(b, b.mul(s, t), true)));
}
NodeId logSoftmaxTangent(B &b, Tangents tangents) {
  NodeId t = tangents[0];
  return b.sub(t, sumAlongAxis(b, b.mul(softmaxOfOperand(b), t), true));
}
NodeId logSumExpTangent(B &b, Tangents tangents) {
  return sumAlongAxis(b, b.mul(softmaxOfOperand(b), tangents[0]), false);
}

using Rule = NodeId (*)(B &b, Tangents tangents);

struct TangentRule {
  OpKind kind;
  /// nullptr: forward mode does not support the op yet.
  Rule tangent;
};

constexpr TangentRule tangentRules[] = {
    {OpKind::Input, leafTangent},
    {OpKind::Param, leafTangent},
    {OpKind::Const, leafTangent},

    {OpKind::Add, elementwiseTangent},
    {OpKind::Sub, elementwiseTangent},
    {OpKind::Mul, elementwiseTangent},
    {OpKind::Div, elementwiseTangent},
    {OpKind::Neg, elementwiseTangent},
    {OpKind::Pow, elementwiseTangent},

    {OpKind::Exp, elementwiseTangent},
    {OpKind::Expm1, elementwiseTangent},
    {OpKind::Log, elementwiseTangent},
    {OpKind::Log1p, elementwiseTangent},
    {OpKind::Sqrt, elementwiseTangent},
    {OpKind::Sin, elementwiseTangent},
    {OpKind::Cos, elementwiseTangent},
    {OpKind::Tan, elementwiseTangent},
    {OpKind::Tanh, elementwiseTangent},
    {OpKind::Sigmoid, elementwiseTangent},
    {OpKind::Softplus, elementwiseTangent},
    {OpKind::Relu, elementwiseTangent},
    {OpKind::Abs, elementwiseTangent},
    {OpKind::Max, elementwiseTangent},
    {OpKind::Min, elementwiseTangent},

    {OpKind::Less, elementwiseTangent},
    {OpKind::LessEqual, elementwiseTangent},
    {OpKind::Greater, elementwiseTangent},
    {OpKind::GreaterEqual, elementwiseTangent},
    {OpKind::Equal, elementwiseTangent},
    {OpKind::NotEqual, elementwiseTangent},
    {OpKind::Where, elementwiseTangent},
    {OpKind::StopGradient, elementwiseTangent},

    {OpKind::MatMul, matmulTangent},
    {OpKind::Sum, linearTangent},
    {OpKind::Mean, linearTangent},
    {OpKind::ReduceMax, extremeTangent},
    {OpKind::ReduceMin, extremeTangent},
    {OpKind::Softmax, softmaxTangent},
    {OpKind::LogSoftmax, logSoftmaxTangent},
    {OpKind::LogSumExp, logSumExpTangent},
    {OpKind::Transpose, linearTangent},
    {OpKind::Argmax, zeroTangent},
    {OpKind::Index, linearTangent},
    {OpKind::DynamicIndex, linearTangent}, // the index's tangent is 0: x's, read at the same index

    {OpKind::Step, elementwiseTangent},
    {OpKind::Sign, elementwiseTangent},
    {OpKind::GreaterEq, elementwiseTangent},
    {OpKind::LessEq, elementwiseTangent},
    {OpKind::DMul, elementwiseTangent},

    {OpKind::SumTo, linearTangent},
    {OpKind::BroadcastTo, linearTangent},
    {OpKind::Reshape, linearTangent},
    {OpKind::IndexGrad, linearTangent},
    {OpKind::DynamicIndexGrad, linearTangent}, // as dynamic_index: g's tangent, placed at the same index
    {OpKind::ArgmaxMask, zeroTangent},
    {OpKind::WithPartial, withPartialTangent},
};
static_assert(std::size(tangentRules) == NumOps, "tangentRules needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(tangentRules), "tangentRules rows must follow the order of Ops.def");

} // namespace

NodeId bp::tangentOf(OpKind op, DerivativeBuilder &builder, llvm::ArrayRef<NodeId> tangents) {
  Rule rule = tangentRules[static_cast<size_t>(op)].tangent;
  assert(rule && "an op without a tangent rule (hasTangentRule)");
  assert(tangents.size() == builder.resultNode().operands.size() && "a tangent per operand");
  return rule(builder, tangents);
}

bool bp::hasTangentRule(OpKind op) { return tangentRules[static_cast<size_t>(op)].tangent != nullptr; }
