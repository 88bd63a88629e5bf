//===- DerivativeRules.cpp - Every operation's local derivatives ----------===//
//
// Autodiff's column of the op table: per operation of Ops.def, d(result)/d(operand #i) as graph nodes, in the
// spirit of micrograd's `a.grad += b * out.grad`, and whether the op selects (passes its adjoint on to only
// some operands).
// Conventions at kinks: relu'(0) = 0, abs'(0) = 0, and max/min ties send the derivative to the first argument.
// NaN: max and min return NaN when either argument is NaN, and their derivative goes to the argument they
// return.
// Comparisons are piecewise constant: derivative 0 with respect to both operands, also at the threshold, where
// they jump. where(c, a, b) passes its adjoint to a where c != 0 (NaN included), to b where c == 0, and 0 to c.
// stop_gradient(x) passes x's value with derivative 0 by definition, as a comparison's (Ops.def).
// Zeros that stay zero: past max, min, relu, abs, a comparison, stop_gradient or where the chain rule multiplies
// with dmul, `a * b` except that 0 * inf and 0 * NaN give 0, so a branch they did not take contributes 0, never
// NaN (`where(x > 0, sqrt(x), 0)` has derivative 0 at x = 0, `(sqrt(x) > 1) * 5` and `stop_gradient(sqrt(x))` too).
// pow(x, y): d/dx = y * x^(y-1) and d/dy = x^y * log(x), both with dmul (so x^0 has d/dx = 0 at x = 0, and 0^y
// has d/dy = 0); d/dy is NaN where log(x) is (x < 0). sqrt'(x) = 0.5 / |sqrt(x)|: +inf at both +0 and -0.
// Tensor ops have vector-Jacobian products instead, from the result's adjoint g to the operand's shape:
// a @ b gives g @ b^T and a^T @ g (for vectors: b @ g, g @ a, outer products, g * b and g * a); sum gives g
// broadcast to the operand's shape (with an axis: g with a 1 inserted at the axis, then broadcast); mean that
// divided by the number of terms (g / n, then broadcast); indexing gives index_grad, g placed among zeros, and
// indexing at run time dynamic_index_grad (nothing where the index is not valid, and 0 for the index itself).
// max and min over an axis select: g goes to the first arg-max (arg-min) element of each run, 0 to the others
// (g times argmax_mask, with dmul past a selection). softmax gives s * (g - sum(g * s)) (s the result),
// log_softmax g - softmax(x) * sum(g), logsumexp g * softmax(x), each sum along the op's axis and broadcast
// back over it; every op in these is differentiable again. transpose gives transpose(g); argmax is piecewise
// constant, 0 (and selects, as comparisons do).
// Gradient graphs differentiate again (Hessians, reverse over reverse): the internal ops have rules too. sum_to
// and broadcast_to are each other's vjp, reshape reshapes back, index_grad's is index and dynamic_index_grad's
// dynamic_index at the same index; step, sign, ge, le and argmax_mask are piecewise constant (derivative 0), and
// dmul(a, b) has a * b's derivatives, its products dmul as past a selection.
// A def's stated derivative (with_partial) gives each argument the adjoint times its partial, and nothing to the
// body or the partials: the partials are ordinary nodes, so a Hessian differentiates them in turn.
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"

#include <cassert>

#include <iterator>

using namespace bp;
using B = DerivativeBuilder;

namespace {

NodeId noDerivative(B &, unsigned) { llvm_unreachable("leaves have no operands"); }
// Comparisons and the internal selector ops are piecewise constant: derivative 0 wherever it exists (and bp
// takes 0 where they jump).
NodeId zeroDerivative(B &b, unsigned) { return b.constant(0); }
// The tensor ops' derivatives are vector-Jacobian products (their own column), which local derivatives cannot
// express.
NodeId tensorDerivative(B &, unsigned) { llvm_unreachable("tensor ops differentiate by their vjp"); }

using Vjp = NodeId (*)(B &b, unsigned operandIndex, NodeId adjoint, bool guard);

// Ops without a vector-Jacobian product: the elementwise ops (local derivatives instead).
constexpr Vjp noVjp = nullptr;

NodeId product(B &b, NodeId x, NodeId y, bool guard) { return b.apply(guard ? OpKind::DMul : OpKind::Mul, {x, y}); }

/// `x` (a vector) as a column, [k] -> [k,1], so that x times a row broadcasts to an outer product.
NodeId column(B &b, NodeId x) { return b.apply(OpKind::Reshape, {x}, {b.shape(x)[0], 1}); }

NodeId matmulVjp(B &b, unsigned i, NodeId g, bool guard) {
  NodeId a = b.operand(0), c = b.operand(1);
  size_t aRank = b.shape(a).size(), cRank = b.shape(c).size();
  if (aRank == 1 && cRank == 1) // [k] @ [k] -> []: g * c and g * a
    return product(b, g, i == 0 ? c : a, guard);
  if (aRank == 2 && cRank == 2) // [m,k] @ [k,n]: g @ c^T and a^T @ g
    return i == 0 ? b.apply(OpKind::MatMul, {g, b.apply(OpKind::Transpose, {c})})
                  : b.apply(OpKind::MatMul, {b.apply(OpKind::Transpose, {a}), g});
  if (aRank == 1) // [k] @ [k,n] -> [n]: c @ g, and the outer product a g
    return i == 0 ? b.apply(OpKind::MatMul, {c, g}) : product(b, column(b, a), g, guard);
  // [m,k] @ [k] -> [m]: the outer product g c, and g @ a
  return i == 0 ? product(b, column(b, g), c, guard) : b.apply(OpKind::MatMul, {g, a});
}

/// g of a reduction's result, with a 1 at the reduced axis: it broadcasts back over the operand's shape
/// (elementwise ops broadcast it; over every element g is a scalar already).
NodeId keepAxis(B &b, NodeId g) {
  const Node &node = b.resultNode();
  if (node.attrs.empty())
    return g;
  Shape kept = b.shape(b.operand(0));
  kept[static_cast<size_t>(node.attrs[0])] = 1;
  return b.apply(OpKind::Reshape, {g}, kept);
}

/// g (of the reduction's result) broadcast back to the operand's shape, through a 1 at the reduced axis.
NodeId unreduce(B &b, NodeId g) {
  Shape shape = b.shape(b.operand(0)); // a copy: adding nodes moves the graph's
  return b.apply(OpKind::BroadcastTo, {keepAxis(b, g)}, shape);
}

NodeId sumVjp(B &b, unsigned, NodeId g, bool) { return unreduce(b, g); }

NodeId meanVjp(B &b, unsigned, NodeId g, bool) {
  const Shape &shape = b.shape(b.operand(0));
  const Node &node = b.resultNode();
  int64_t terms = node.attrs.empty() ? elementCount(shape) : shape[static_cast<size_t>(node.attrs[0])];
  return unreduce(b, b.div(g, b.constant(static_cast<double>(terms))));
}

/// The node's attrs ({axis} or none), copied: a reference into the graph does not survive adding a node.
llvm::SmallVector<int64_t, 1> axisAttrs(B &b) {
  return llvm::SmallVector<int64_t, 1>(b.resultNode().attrs.begin(), b.resultNode().attrs.end());
}

/// max and min pass g to the first arg-max (arg-min) element of each run, and 0 to the others: g times a mask
/// (the guard keeps 0 * inf at 0). The first minimum of x is the first maximum of -x, NaN included.
NodeId extremeVjp(B &b, unsigned, NodeId g, bool guard) {
  NodeId x = b.operand(0);
  if (b.resultNode().op == OpKind::ReduceMin)
    x = b.neg(x);
  return product(b, b.apply(OpKind::ArgmaxMask, {x}, axisAttrs(b)), keepAxis(b, g), guard);
}

/// softmax(x, axis) of the node's operand, for the vector-Jacobian products of log_softmax and logsumexp.
NodeId softmaxOfOperand(B &b) { return b.apply(OpKind::Softmax, {b.operand(0)}, axisAttrs(b)); }

/// The sum of t along the node's axis, kept as a dimension of 1 (or over every element, a scalar).
NodeId sumAlongAxis(B &b, NodeId t) { return keepAxis(b, b.apply(OpKind::Sum, {t}, axisAttrs(b))); }

// s = softmax(x): s * (g - sum(g * s)); log_softmax: g - softmax(x) * sum(g); logsumexp: g * softmax(x).
NodeId softmaxVjp(B &b, unsigned, NodeId g, bool guard) {
  NodeId s = b.result();
  return product(b, s, b.sub(g, sumAlongAxis(b, product(b, g, s, guard))), guard);
}
NodeId logSoftmaxVjp(B &b, unsigned, NodeId g, bool guard) {
  return b.sub(g, product(b, softmaxOfOperand(b), sumAlongAxis(b, g), guard));
}
NodeId logSumExpVjp(B &b, unsigned, NodeId g, bool guard) {
  return product(b, keepAxis(b, g), softmaxOfOperand(b), guard);
}

NodeId transposeVjp(B &b, unsigned, NodeId g, bool) { return b.apply(OpKind::Transpose, {g}); }

/// argmax and argmax_mask are piecewise constant: zeros of the operand's shape.
NodeId zeroVjp(B &b, unsigned i, NodeId, bool) {
  Shape shape = b.shape(b.operand(i));
  NodeId zero = b.constant(0);
  return shape.empty() ? zero : b.apply(OpKind::BroadcastTo, {zero}, shape);
}

NodeId indexVjp(B &b, unsigned, NodeId g, bool) {
  const Shape &shape = b.shape(b.operand(0));
  llvm::SmallVector<int64_t, 16> attrs{static_cast<int64_t>(shape.size())};
  attrs.append(shape.begin(), shape.end());
  attrs.append(b.resultNode().attrs.begin(), b.resultNode().attrs.end());
  return b.apply(OpKind::IndexGrad, {g}, attrs);
}

/// g placed among zeros of x's shape where x[i] was read along the axis, nowhere for an invalid i; the index
/// selects, so its own derivative is 0 (zeros of its shape: one index per row is a vector).
NodeId dynamicIndexVjp(B &b, unsigned i, NodeId g, bool guard) {
  if (i == 1)
    return zeroVjp(b, i, g, guard);
  const Shape &shape = b.shape(b.operand(0));
  llvm::SmallVector<int64_t, 8> attrs{b.resultNode().attrs[0]};
  attrs.append(shape.begin(), shape.end());
  return b.apply(OpKind::DynamicIndexGrad, {g, b.operand(1)}, attrs);
}

/// The internal ops of gradient graphs have vector-Jacobian products too, so that a gradient graph can be
/// differentiated again (Hessians): sum_to and broadcast_to are each other's, reshape's reshapes back.
NodeId sumToVjp(B &b, unsigned, NodeId g, bool) {
  Shape shape = b.shape(b.operand(0)); // a copy: adding nodes moves the graph's
  return b.apply(OpKind::BroadcastTo, {g}, shape);
}
NodeId broadcastToVjp(B &b, unsigned, NodeId g, bool) {
  Shape shape = b.shape(b.operand(0));
  return b.apply(OpKind::SumTo, {g}, shape);
}
NodeId reshapeVjp(B &b, unsigned, NodeId g, bool) {
  Shape shape = b.shape(b.operand(0));
  return b.apply(OpKind::Reshape, {g}, shape);
}

/// index_grad places its operand among zeros where index reads: its vjp reads g there, index with its attrs
/// (those after the rank and the source's dimensions).
NodeId indexGradVjp(B &b, unsigned, NodeId g, bool) {
  llvm::SmallVector<int64_t, 16> attrs(b.resultNode().attrs.begin(), b.resultNode().attrs.end());
  size_t rank = static_cast<size_t>(attrs[0]);
  return b.apply(OpKind::Index, {g}, llvm::ArrayRef(attrs).drop_front(1 + rank));
}

/// dynamic_index_grad places g where dynamic_index reads: its vjp reads g there at the same index (one per row
/// for an index vector), and the index's derivative is 0.
NodeId dynamicIndexGradVjp(B &b, unsigned i, NodeId g, bool guard) {
  if (i == 1)
    return zeroVjp(b, i, g, guard);
  llvm::SmallVector<int64_t, 2> attrs{b.resultNode().attrs[0]};
  if (!b.shape(b.operand(1)).empty())
    attrs.push_back(1);
  return b.apply(OpKind::DynamicIndex, {g, b.operand(1)}, attrs);
}

/// with_partial(value, arg, partial), a def's stated derivative: value gets the adjoint unchanged, unless it is
/// the def's body (attrs {1}), whose own derivative the stated one replaces; arg gets the adjoint times the
/// partial, broadcast over arg's shape where that is larger (the sweep sums it back where it is smaller); the
/// partial gets nothing. Nothing is InvalidNode.
NodeId withPartialVjp(B &b, unsigned i, NodeId g, bool guard) {
  if (i != 1)
    return i == 0 && b.resultNode().attrs[0] == 0 ? g : InvalidNode;
  NodeId scaled = product(b, g, b.operand(2), guard);
  Shape shape = llvm::cantFail(broadcastShapes(b.shape(scaled), b.shape(b.operand(1)), "multiply"));
  return shape == b.shape(scaled) ? scaled : b.apply(OpKind::BroadcastTo, {scaled}, shape);
}

struct DerivativeRule {
  OpKind kind;
  /// Whether the op passes its adjoint on to only some operands, by a selection (the others get an exact 0):
  /// relu and abs at their kinks, max and min to the argument they return, where to the branch it takes; a
  /// comparison and stop_gradient pass it to none.
  bool selects;
  NodeId (*localDerivative)(B &b, unsigned operandIndex);
  Vjp vjp = noVjp;
};

constexpr DerivativeRule derivativeRules[] = {
    // kind, selects, local derivative per operand
    {OpKind::Input, false, noDerivative},
    {OpKind::Param, false, noDerivative},
    {OpKind::Const, false, noDerivative},

    {OpKind::Add, false, [](B &b, unsigned) { return b.constant(1); }},
    {OpKind::Sub, false, [](B &b, unsigned i) { return b.constant(i == 0 ? 1 : -1); }},
    {OpKind::Mul, false, [](B &b, unsigned i) { return b.operand(1 - i); }},
    {OpKind::Div, false,
     [](B &b, unsigned i) {
       // d(x/y)/dx = 1/y;  d(x/y)/dy = -(x/y)/y
       return i == 0 ? b.div(b.constant(1), b.operand(1)) : b.neg(b.div(b.result(), b.operand(1)));
     }},
    {OpKind::Neg, false, [](B &b, unsigned) { return b.constant(-1); }},
    {OpKind::Pow, false,
     [](B &b, unsigned i) {
       if (i == 0) // y * x^(y-1)
         return b.apply(OpKind::DMul, {b.operand(1), b.apply(OpKind::Pow, {b.operand(0), b.sub(b.operand(1), b.constant(1))})});
       return b.apply(OpKind::DMul, {b.result(), b.apply(OpKind::Log, {b.operand(0)})}); // x^y * log(x)
     }},

    {OpKind::Exp, false, [](B &b, unsigned) { return b.result(); }},
    {OpKind::Expm1, false, [](B &b, unsigned) { return b.apply(OpKind::Exp, {b.operand(0)}); }},
    {OpKind::Log, false, [](B &b, unsigned) { return b.div(b.constant(1), b.operand(0)); }},
    {OpKind::Log1p, false,
     [](B &b, unsigned) { return b.div(b.constant(1), b.add(b.constant(1), b.operand(0))); }},
    {OpKind::Sqrt, false, [](B &b, unsigned) { return b.div(b.constant(0.5), b.apply(OpKind::Abs, {b.result()})); }},
    {OpKind::Sin, false, [](B &b, unsigned) { return b.apply(OpKind::Cos, {b.operand(0)}); }},
    {OpKind::Cos, false, [](B &b, unsigned) { return b.neg(b.apply(OpKind::Sin, {b.operand(0)})); }},
    {OpKind::Tan, false, [](B &b, unsigned) { return b.add(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Tanh, false, [](B &b, unsigned) { return b.sub(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Sigmoid, false, [](B &b, unsigned) { return b.mul(b.result(), b.sub(b.constant(1), b.result())); }},
    {OpKind::Softplus, false, [](B &b, unsigned) { return b.apply(OpKind::Sigmoid, {b.operand(0)}); }},
    {OpKind::Relu, true, [](B &b, unsigned) { return b.apply(OpKind::Step, {b.operand(0)}); }},
    {OpKind::Abs, true, [](B &b, unsigned) { return b.apply(OpKind::Sign, {b.operand(0)}); }},
    {OpKind::Max, true,
     [](B &b, unsigned i) {
       NodeId takesFirst = b.apply(OpKind::GreaterEq, {b.operand(0), b.operand(1)});
       return i == 0 ? takesFirst : b.sub(b.constant(1), takesFirst);
     }},
    {OpKind::Min, true,
     [](B &b, unsigned i) {
       NodeId takesFirst = b.apply(OpKind::LessEq, {b.operand(0), b.operand(1)});
       return i == 0 ? takesFirst : b.sub(b.constant(1), takesFirst);
     }},

    {OpKind::Less, true, zeroDerivative},
    {OpKind::LessEqual, true, zeroDerivative},
    {OpKind::Greater, true, zeroDerivative},
    {OpKind::GreaterEqual, true, zeroDerivative},
    {OpKind::Equal, true, zeroDerivative},
    {OpKind::NotEqual, true, zeroDerivative},
    {OpKind::Where, true,
     [](B &b, unsigned i) {
       if (i == 0)
         return b.constant(0);
       // c != 0 for a, c == 0 for b: exactly one of them is 1, NaN c counting as nonzero.
       return b.apply(i == 1 ? OpKind::NotEqual : OpKind::Equal, {b.operand(0), b.constant(0)});
     }},
    {OpKind::StopGradient, true, zeroDerivative},

    {OpKind::MatMul, false, tensorDerivative, matmulVjp},
    {OpKind::Sum, false, tensorDerivative, sumVjp},
    {OpKind::Mean, false, tensorDerivative, meanVjp},
    {OpKind::ReduceMax, true, tensorDerivative, extremeVjp},
    {OpKind::ReduceMin, true, tensorDerivative, extremeVjp},
    {OpKind::Softmax, false, tensorDerivative, softmaxVjp},
    {OpKind::LogSoftmax, false, tensorDerivative, logSoftmaxVjp},
    {OpKind::LogSumExp, false, tensorDerivative, logSumExpVjp},
    {OpKind::Transpose, false, tensorDerivative, transposeVjp},
    {OpKind::Argmax, true, tensorDerivative, zeroVjp},
    {OpKind::Index, false, tensorDerivative, indexVjp},
    {OpKind::DynamicIndex, false, tensorDerivative, dynamicIndexVjp},

    // The internal ops, differentiated again in a gradient graph's gradient (Hessians). step, sign, ge and le
    // are piecewise constant, as the comparisons, and select as they do. dmul(a, b) has a * b's derivatives,
    // and selects, so past it the chain rule is dmul too: where dmul made 0 * inf a 0 (a branch not taken), the
    // derivative of that 0 stays 0, never NaN.
    {OpKind::Step, true, zeroDerivative},
    {OpKind::Sign, true, zeroDerivative},
    {OpKind::GreaterEq, true, zeroDerivative},
    {OpKind::LessEq, true, zeroDerivative},
    {OpKind::DMul, true, [](B &b, unsigned i) { return b.operand(1 - i); }},

    {OpKind::SumTo, false, tensorDerivative, sumToVjp},
    {OpKind::BroadcastTo, false, tensorDerivative, broadcastToVjp},
    {OpKind::Reshape, false, tensorDerivative, reshapeVjp},
    {OpKind::IndexGrad, false, tensorDerivative, indexGradVjp},
    {OpKind::DynamicIndexGrad, false, tensorDerivative, dynamicIndexGradVjp},
    {OpKind::ArgmaxMask, true, tensorDerivative, zeroVjp},
    {OpKind::WithPartial, false, tensorDerivative, withPartialVjp},
};
static_assert(std::size(derivativeRules) == NumOps, "derivativeRules needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(derivativeRules), "derivativeRules rows must follow the order of Ops.def");

} // namespace

NodeId bp::localDerivative(OpKind op, DerivativeBuilder &builder, unsigned operandIndex) {
  return derivativeRules[static_cast<size_t>(op)].localDerivative(builder, operandIndex);
}

NodeId bp::vectorJacobianProduct(OpKind op, DerivativeBuilder &builder, unsigned operandIndex, NodeId adjoint,
                                  bool guard) {
  Vjp vjp = derivativeRules[static_cast<size_t>(op)].vjp;
  assert(vjp && "every tensor op has a vjp");
  return vjp(builder, operandIndex, adjoint, guard);
}

NodeId DerivativeBuilder::apply(OpKind op, llvm::ArrayRef<NodeId> operands, llvm::ArrayRef<int64_t> attrs) {
  SourceLoc loc = graph.node(node).loc;
  bool scalars = attrs.empty() && !isTensorOp(op) &&
                 llvm::all_of(operands, [&](NodeId id) { return graph.node(id).type.isScalar(); });
  if (scalars) // the common case, and all of a scalar script: no shape rule to run
    return graph.addNode(op, operands, loc);
  return llvm::cantFail(graph.addOp(op, operands, loc, attrs));
}

bool bp::selects(OpKind op) {
  return derivativeRules[static_cast<size_t>(op)].selects;
}
