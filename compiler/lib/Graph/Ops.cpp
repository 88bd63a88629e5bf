//===- Ops.cpp - Every operation's forward rule, lowering and derivatives -===//
//
// The one table of bp's semantics. Each row says, side by side:
//   evaluate:        the forward rule on doubles (what the interpreter and `explain` compute)
//   lower:           the same rule in LLVM IR, operation for operation, so compiled code matches bit for bit
//   localDerivative: d(result)/d(operand #i) as graph nodes, in the spirit of micrograd's `a.grad += b * out.grad`
// Conventions at kinks: relu'(0) = 0, abs'(0) = 0, and max/min ties send the derivative to the first argument.
// NaN: every op propagates it; max and min return NaN when either argument is NaN (as NumPy's maximum does),
// and their derivative goes to the argument they return.
// Zeros that stay zero: past max, min, relu or abs the chain rule multiplies with dmul, `a * b` except that
// 0 * inf and 0 * NaN give 0, so a branch they did not take contributes 0, never NaN.
// pow(x, y): d/dx = y * x^(y-1) and d/dy = x^y * log(x), both with dmul (so x^0 has d/dx = 0 at x = 0, and 0^y
// has d/dy = 0); d/dy is NaN where log(x) is (x < 0). sqrt'(x) = 0.5 / |sqrt(x)|: +inf at both +0 and -0.
//
//===----------------------------------------------------------------------===//
#include "bp/Ops.h"
#include "bp/Autodiff.h"
#include "bp/CodeGen.h"

#include "llvm/Support/ErrorHandling.h"

#include <cmath>
#include <iterator>
#include <string>

using namespace bp;
using llvm::Intrinsic::ID;
using llvm::Value;
using B = DerivativeBuilder;
using Operands = llvm::ArrayRef<Value *>;

namespace {

// Leaves have no forward rule of their own (their values come from outside) and no operands.
double leafValue(const double *) { llvm_unreachable("leaves are not evaluated by rule"); }
Value *leafLowering(IRLowering &, Operands) { llvm_unreachable("leaves are not lowered by rule"); }
NodeId noDerivative(B &, unsigned) { llvm_unreachable("leaves have no operands"); }
// The internal selector ops are piecewise constant: derivative 0 wherever it exists.
NodeId zeroDerivative(B &b, unsigned) { return b.constant(0); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// relu passes NaN through (`x > 0` is false for NaN, so test "not x <= 0").
double relu(double x) { return !(x <= 0) ? x : 0.0; }
// Whether max(x, y) (greaterEq) or min(x, y) (lessEq) returns x: on ties, and when x is NaN; when y is NaN
// they return y, so NaN in either argument comes out.
double greaterEq(double x, double y) { return !(x < y) && y == y ? 1.0 : 0.0; }
double lessEq(double x, double y) { return !(x > y) && y == y ? 1.0 : 0.0; }
double sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }
// The chain rule's product where a factor may be a branch not taken: a * b, except that 0 * inf and 0 * NaN
// (in either order) give 0.
double dmul(double a, double b) {
  double product = a * b;
  return product != product && (a == 0 || b == 0) ? 0.0 : product;
}

using llvm::CmpInst;

Value *select(IRLowering &ir, CmpInst::Predicate predicate, Value *lhs, Value *rhs, Value *ifTrue, Value *ifFalse) {
  return ir.builder.CreateSelect(ir.builder.CreateFCmp(predicate, lhs, rhs), ifTrue, ifFalse);
}

/// The IR of greaterEq (`unordered` = FCMP_UGE) or lessEq (FCMP_ULE): !(x < y) && !isnan(y).
Value *takesFirst(IRLowering &ir, CmpInst::Predicate unordered, Value *x, Value *y) {
  return ir.builder.CreateAnd(ir.builder.CreateFCmp(unordered, x, y),
                              ir.builder.CreateFCmp(CmpInst::FCMP_ORD, y, y));
}

constexpr OpInfo opTable[] = {
    // kind, name, spelling, arity, syntax, precedence,
    //   forward rule on doubles, forward rule in IR, local derivative per operand
    {OpKind::Input, "input", "input", 0, Syntax::Leaf, 5, leafValue, leafLowering, noDerivative},
    {OpKind::Param, "param", "param", 0, Syntax::Leaf, 5, leafValue, leafLowering, noDerivative},
    {OpKind::Const, "const", "const", 0, Syntax::Leaf, 5, leafValue, leafLowering, noDerivative},

    {OpKind::Add, "add", "+", 2, Syntax::Infix, 1,
     [](const double *x) { return x[0] + x[1]; },
     [](IRLowering &ir, Operands x) { return ir.builder.CreateFAdd(x[0], x[1]); },
     [](B &b, unsigned) { return b.constant(1); }},
    {OpKind::Sub, "sub", "-", 2, Syntax::Infix, 1,
     [](const double *x) { return x[0] - x[1]; },
     [](IRLowering &ir, Operands x) { return ir.builder.CreateFSub(x[0], x[1]); },
     [](B &b, unsigned i) { return b.constant(i == 0 ? 1 : -1); }},
    {OpKind::Mul, "mul", "*", 2, Syntax::Infix, 2,
     [](const double *x) { return x[0] * x[1]; },
     [](IRLowering &ir, Operands x) { return ir.builder.CreateFMul(x[0], x[1]); },
     [](B &b, unsigned i) { return b.operand(1 - i); }},
    {OpKind::Div, "div", "/", 2, Syntax::Infix, 2,
     [](const double *x) { return x[0] / x[1]; },
     [](IRLowering &ir, Operands x) { return ir.builder.CreateFDiv(x[0], x[1]); },
     [](B &b, unsigned i) {
       // d(x/y)/dx = 1/y;  d(x/y)/dy = -(x/y)/y
       return i == 0 ? b.div(b.constant(1), b.operand(1)) : b.neg(b.div(b.result(), b.operand(1)));
     }},
    {OpKind::Neg, "neg", "-", 1, Syntax::Prefix, 3,
     [](const double *x) { return -x[0]; },
     [](IRLowering &ir, Operands x) { return ir.builder.CreateFNeg(x[0]); },
     [](B &b, unsigned) { return b.constant(-1); }},
    {OpKind::Pow, "pow", "^", 2, Syntax::Infix, 4,
     [](const double *x) { return std::pow(x[0], x[1]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::pow, x); },
     [](B &b, unsigned i) {
       if (i == 0) // y * x^(y-1)
         return b.apply(OpKind::DMul, {b.operand(1), b.apply(OpKind::Pow, {b.operand(0), b.sub(b.operand(1), b.constant(1))})});
       return b.apply(OpKind::DMul, {b.result(), b.apply(OpKind::Log, {b.operand(0)})}); // x^y * log(x)
     }},

    {OpKind::Exp, "exp", "exp", 1, Syntax::Call, 5,
     [](const double *x) { return std::exp(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::exp, x); },
     [](B &b, unsigned) { return b.result(); }},
    {OpKind::Log, "log", "log", 1, Syntax::Call, 5,
     [](const double *x) { return std::log(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::log, x); },
     [](B &b, unsigned) { return b.div(b.constant(1), b.operand(0)); }},
    {OpKind::Sqrt, "sqrt", "sqrt", 1, Syntax::Call, 5,
     [](const double *x) { return std::sqrt(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::sqrt, x); },
     [](B &b, unsigned) { return b.div(b.constant(0.5), b.apply(OpKind::Abs, {b.result()})); }},
    {OpKind::Sin, "sin", "sin", 1, Syntax::Call, 5,
     [](const double *x) { return std::sin(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::sin, x); },
     [](B &b, unsigned) { return b.apply(OpKind::Cos, {b.operand(0)}); }},
    {OpKind::Cos, "cos", "cos", 1, Syntax::Call, 5,
     [](const double *x) { return std::cos(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::cos, x); },
     [](B &b, unsigned) { return b.neg(b.apply(OpKind::Sin, {b.operand(0)})); }},
    {OpKind::Tan, "tan", "tan", 1, Syntax::Call, 5,
     [](const double *x) { return std::tan(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.libm("tan", x); },
     [](B &b, unsigned) { return b.add(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Tanh, "tanh", "tanh", 1, Syntax::Call, 5,
     [](const double *x) { return std::tanh(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.libm("tanh", x); },
     [](B &b, unsigned) { return b.sub(b.constant(1), b.mul(b.result(), b.result())); }},
    {OpKind::Sigmoid, "sigmoid", "sigmoid", 1, Syntax::Call, 5,
     [](const double *x) { return sigmoid(x[0]); },
     [](IRLowering &ir, Operands x) {
       Value *expNeg = ir.intrinsic(llvm::Intrinsic::exp, {ir.builder.CreateFNeg(x[0])});
       return ir.builder.CreateFDiv(ir.constant(1), ir.builder.CreateFAdd(ir.constant(1), expNeg));
     },
     [](B &b, unsigned) { return b.mul(b.result(), b.sub(b.constant(1), b.result())); }},
    {OpKind::Relu, "relu", "relu", 1, Syntax::Call, 5,
     [](const double *x) { return relu(x[0]); },
     [](IRLowering &ir, Operands x) { return select(ir, CmpInst::FCMP_UGT, x[0], ir.constant(0), x[0], ir.constant(0)); },
     [](B &b, unsigned) { return b.apply(OpKind::Step, {b.operand(0)}); }},
    {OpKind::Abs, "abs", "abs", 1, Syntax::Call, 5,
     [](const double *x) { return std::fabs(x[0]); },
     [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::fabs, x); },
     [](B &b, unsigned) { return b.apply(OpKind::Sign, {b.operand(0)}); }},
    {OpKind::Max, "max", "max", 2, Syntax::Call, 5,
     [](const double *x) { return greaterEq(x[0], x[1]) != 0 ? x[0] : x[1]; },
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_UGE, x[0], x[1]), x[0], x[1]);
     },
     [](B &b, unsigned i) {
       NodeId takesFirst = b.apply(OpKind::GreaterEq, {b.operand(0), b.operand(1)});
       return i == 0 ? takesFirst : b.sub(b.constant(1), takesFirst);
     }},
    {OpKind::Min, "min", "min", 2, Syntax::Call, 5,
     [](const double *x) { return lessEq(x[0], x[1]) != 0 ? x[0] : x[1]; },
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_ULE, x[0], x[1]), x[0], x[1]);
     },
     [](B &b, unsigned i) {
       NodeId takesFirst = b.apply(OpKind::LessEq, {b.operand(0), b.operand(1)});
       return i == 0 ? takesFirst : b.sub(b.constant(1), takesFirst);
     }},

    {OpKind::Step, "step", "step", 1, Syntax::Internal, 5,
     [](const double *x) { return x[0] > 0 ? 1.0 : 0.0; },
     [](IRLowering &ir, Operands x) {
       return select(ir, CmpInst::FCMP_OGT, x[0], ir.constant(0), ir.constant(1), ir.constant(0));
     },
     zeroDerivative},
    {OpKind::Sign, "sign", "sign", 1, Syntax::Internal, 5,
     [](const double *x) { return sign(x[0]); },
     [](IRLowering &ir, Operands x) {
       Value *negativeOrZero = select(ir, CmpInst::FCMP_OLT, x[0], ir.constant(0), ir.constant(-1), ir.constant(0));
       return select(ir, CmpInst::FCMP_OGT, x[0], ir.constant(0), ir.constant(1), negativeOrZero);
     },
     zeroDerivative},
    {OpKind::GreaterEq, "ge", "ge", 2, Syntax::Internal, 5,
     [](const double *x) { return greaterEq(x[0], x[1]); },
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_UGE, x[0], x[1]), ir.constant(1), ir.constant(0));
     },
     zeroDerivative},
    {OpKind::LessEq, "le", "le", 2, Syntax::Internal, 5,
     [](const double *x) { return lessEq(x[0], x[1]); },
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_ULE, x[0], x[1]), ir.constant(1), ir.constant(0));
     },
     zeroDerivative},
    {OpKind::DMul, "dmul", "*", 2, Syntax::InternalInfix, 2,
     [](const double *x) { return dmul(x[0], x[1]); },
     [](IRLowering &ir, Operands x) {
       auto &b = ir.builder;
       Value *product = b.CreateFMul(x[0], x[1]);
       Value *aZeroOrBZero = b.CreateOr(b.CreateFCmp(CmpInst::FCMP_OEQ, x[0], ir.constant(0)),
                                        b.CreateFCmp(CmpInst::FCMP_OEQ, x[1], ir.constant(0)));
       Value *zeroTimesNonFinite = b.CreateAnd(b.CreateFCmp(CmpInst::FCMP_UNO, product, product), aZeroOrBZero);
       return b.CreateSelect(zeroTimesNonFinite, ir.constant(0), product);
     },
     [](B &b, unsigned i) { return b.operand(1 - i); }},
};

// The table checks itself: one row per line of Ops.def, in its order, with its arity.
constexpr unsigned opsDefArity[] = {
#define BP_OP(Kind, name, arity) arity,
#include "bp/Ops.def"
};
static_assert(std::size(opTable) == NumOps, "opTable needs exactly one row per line of Ops.def");
constexpr bool rowsFollowOpsDef() {
  for (size_t i = 0; i < NumOps; ++i)
    if (opTable[i].kind != static_cast<OpKind>(i) || opTable[i].arity != opsDefArity[i])
      return false;
  return true;
}
static_assert(rowsFollowOpsDef(), "opTable rows must follow the order and arities of Ops.def");

} // namespace

const OpInfo &bp::getOpInfo(OpKind kind) {
  return opTable[static_cast<size_t>(kind)];
}

std::optional<OpKind> bp::lookupBuiltin(std::string_view name) {
  if (name == "pow") // the one builtin that is also an operator: pow(x, y) is x ^ y
    return OpKind::Pow;
  for (const OpInfo &info : opTable)
    if (info.syntax == Syntax::Call && name == info.spelling)
      return info.kind;
  return std::nullopt;
}

bool bp::isReservedWord(std::string_view name) {
  static const char *const keywords[] = {"input", "param", "node", "output", "def"};
  for (const char *keyword : keywords)
    if (name == keyword)
      return true;
  return lookupBuiltin(name).has_value();
}
