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
// Zeros that stay zero: past max, min, relu, abs, a comparison or where the chain rule multiplies with dmul,
// `a * b` except that 0 * inf and 0 * NaN give 0, so a branch they did not take contributes 0, never NaN
// (`where(x > 0, sqrt(x), 0)` has derivative 0 at x = 0, and `(sqrt(x) > 1) * 5` too).
// pow(x, y): d/dx = y * x^(y-1) and d/dy = x^y * log(x), both with dmul (so x^0 has d/dx = 0 at x = 0, and 0^y
// has d/dy = 0); d/dy is NaN where log(x) is (x < 0). sqrt'(x) = 0.5 / |sqrt(x)|: +inf at both +0 and -0.
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"

#include "llvm/Support/ErrorHandling.h"

#include <iterator>

using namespace bp;
using B = DerivativeBuilder;

namespace {

NodeId noDerivative(B &, unsigned) { llvm_unreachable("leaves have no operands"); }
// Comparisons and the internal selector ops are piecewise constant: derivative 0 wherever it exists (and bp
// takes 0 where they jump).
NodeId zeroDerivative(B &b, unsigned) { return b.constant(0); }
// The tensor ops' derivatives are vector-Jacobian products, which local derivatives cannot express; until
// they are, buildGradientGraph refuses every graph with a tensor op or a tensor value (Graph::firstTensorNode),
// so these rows are never reached.
NodeId tensorDerivative(B &, unsigned) { llvm_unreachable("tensor graphs are refused before differentiation"); }

struct DerivativeRule {
  OpKind kind;
  /// Whether the op passes its adjoint on to only some operands, by a selection (the others get an exact 0):
  /// relu and abs at their kinks, max and min to the argument they return, where to the branch it takes; a
  /// comparison passes it to none.
  bool selects;
  NodeId (*localDerivative)(B &b, unsigned operandIndex);
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
    {OpKind::Log, false, [](B &b, unsigned) { return b.div(b.constant(1), b.operand(0)); }},
    {OpKind::Sqrt, false, [](B &b, unsigned) { return b.div(b.constant(0.5), b.apply(OpKind::Abs, {b.result()})); }},
    {OpKind::Sin, false, [](B &b, unsigned) { return b.apply(OpKind::Cos, {b.operand(0)}); }},
    {OpKind::Cos, false, [](B &b, unsigned) { return b.neg(b.apply(OpKind::Sin, {b.operand(0)})); }},
    {OpKind::Tan, false, [](B &b, unsigned) { return b.add(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Tanh, false, [](B &b, unsigned) { return b.sub(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Sigmoid, false, [](B &b, unsigned) { return b.mul(b.result(), b.sub(b.constant(1), b.result())); }},
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

    {OpKind::MatMul, false, tensorDerivative},
    {OpKind::Sum, false, tensorDerivative},
    {OpKind::Mean, false, tensorDerivative},
    {OpKind::Index, false, tensorDerivative},

    {OpKind::Step, false, zeroDerivative},
    {OpKind::Sign, false, zeroDerivative},
    {OpKind::GreaterEq, false, zeroDerivative},
    {OpKind::LessEq, false, zeroDerivative},
    {OpKind::DMul, false, [](B &b, unsigned i) { return b.operand(1 - i); }},
};
static_assert(std::size(derivativeRules) == NumOps, "derivativeRules needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(derivativeRules), "derivativeRules rows must follow the order of Ops.def");

} // namespace

NodeId bp::localDerivative(OpKind op, DerivativeBuilder &builder, unsigned operandIndex) {
  return derivativeRules[static_cast<size_t>(op)].localDerivative(builder, operandIndex);
}

bool bp::selects(OpKind op) {
  return derivativeRules[static_cast<size_t>(op)].selects;
}
