//===- Lowering.cpp - Every operation's lowering to LLVM IR ---------------===//
//
// CodeGen's column of the op table: per operation of Ops.def, its forward rule (Interpreter.cpp) as LLVM IR,
// operation for operation, so compiled code matches the interpreter bit for bit, NaN, infinities and signed
// zeros included.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"

#include "llvm/Support/ErrorHandling.h"

#include <iterator>

using namespace bp;
using llvm::CmpInst;
using llvm::Value;
using Operands = llvm::ArrayRef<Value *>;

Value *IRLowering::constant(double value) {
  return llvm::ConstantFP::get(builder.getDoubleTy(), value);
}

Value *IRLowering::intrinsic(llvm::Intrinsic::ID id, Operands operands) {
  return builder.CreateIntrinsic(id, {builder.getDoubleTy()}, operands);
}

Value *IRLowering::libm(const char *name, Operands operands) {
  llvm::SmallVector<llvm::Type *, 2> params(operands.size(), builder.getDoubleTy());
  auto *type = llvm::FunctionType::get(builder.getDoubleTy(), params, false);
  llvm::FunctionCallee callee = module.getOrInsertFunction(name, type);
  if (auto *function = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    function->setDoesNotThrow();
    function->setWillReturn();
  }
  return builder.CreateCall(callee, operands);
}

namespace {

// Leaves are not lowered by rule: their values are loaded or are constants.
Value *leafLowering(IRLowering &, Operands) { llvm_unreachable("leaves are not lowered by rule"); }
// Tensor ops lower whole, to loop nests (lowerTensorOp, TensorLowering.cpp), never element by element here.
Value *tensorLowering(IRLowering &, Operands) { llvm_unreachable("tensor ops are lowered by lowerTensorOp"); }

Value *select(IRLowering &ir, CmpInst::Predicate predicate, Value *lhs, Value *rhs, Value *ifTrue, Value *ifFalse) {
  return ir.builder.CreateSelect(ir.builder.CreateFCmp(predicate, lhs, rhs), ifTrue, ifFalse);
}

/// The IR of greaterEq (`unordered` = FCMP_UGE) or lessEq (FCMP_ULE): !(x < y) && !isnan(y).
Value *takesFirst(IRLowering &ir, CmpInst::Predicate unordered, Value *x, Value *y) {
  return ir.builder.CreateAnd(ir.builder.CreateFCmp(unordered, x, y),
                              ir.builder.CreateFCmp(CmpInst::FCMP_ORD, y, y));
}

/// A comparison as IEEE 754 makes it (ordered predicates are false on NaN, FCMP_UNE true), as 1.0 or 0.0.
template <CmpInst::Predicate predicate> Value *comparison(IRLowering &ir, Operands x) {
  return select(ir, predicate, x[0], x[1], ir.constant(1), ir.constant(0));
}

struct Lowering {
  OpKind kind;
  Value *(*lower)(IRLowering &ir, Operands operands);
};

constexpr Lowering lowerings[] = {
    {OpKind::Input, leafLowering},
    {OpKind::Param, leafLowering},
    {OpKind::Const, leafLowering},

    {OpKind::Add, [](IRLowering &ir, Operands x) { return ir.builder.CreateFAdd(x[0], x[1]); }},
    {OpKind::Sub, [](IRLowering &ir, Operands x) { return ir.builder.CreateFSub(x[0], x[1]); }},
    {OpKind::Mul, [](IRLowering &ir, Operands x) { return ir.builder.CreateFMul(x[0], x[1]); }},
    {OpKind::Div, [](IRLowering &ir, Operands x) { return ir.builder.CreateFDiv(x[0], x[1]); }},
    {OpKind::Neg, [](IRLowering &ir, Operands x) { return ir.builder.CreateFNeg(x[0]); }},
    {OpKind::Pow, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::pow, x); }},

    {OpKind::Exp, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::exp, x); }},
    {OpKind::Expm1, [](IRLowering &ir, Operands x) { return ir.libm("expm1", x); }},
    {OpKind::Log, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::log, x); }},
    {OpKind::Log1p, [](IRLowering &ir, Operands x) { return ir.libm("log1p", x); }},
    {OpKind::Sqrt, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::sqrt, x); }},
    {OpKind::Sin, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::sin, x); }},
    {OpKind::Cos, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::cos, x); }},
    {OpKind::Tan, [](IRLowering &ir, Operands x) { return ir.libm("tan", x); }},
    {OpKind::Tanh, [](IRLowering &ir, Operands x) { return ir.libm("tanh", x); }},
    {OpKind::Sigmoid,
     [](IRLowering &ir, Operands x) {
       Value *expNeg = ir.intrinsic(llvm::Intrinsic::exp, {ir.builder.CreateFNeg(x[0])});
       return ir.builder.CreateFDiv(ir.constant(1), ir.builder.CreateFAdd(ir.constant(1), expNeg));
     }},
    {OpKind::Softplus,
     [](IRLowering &ir, Operands x) {
       Value *positivePart = select(ir, CmpInst::FCMP_OGT, x[0], ir.constant(0), x[0], ir.constant(0));
       Value *negAbs = ir.builder.CreateFNeg(ir.intrinsic(llvm::Intrinsic::fabs, x));
       Value *expNegAbs = ir.intrinsic(llvm::Intrinsic::exp, {negAbs});
       return ir.builder.CreateFAdd(positivePart, ir.libm("log1p", {expNegAbs}));
     }},
    {OpKind::Relu,
     [](IRLowering &ir, Operands x) {
       return select(ir, CmpInst::FCMP_UGT, x[0], ir.constant(0), x[0], ir.constant(0));
     }},
    {OpKind::Abs, [](IRLowering &ir, Operands x) { return ir.intrinsic(llvm::Intrinsic::fabs, x); }},
    {OpKind::Max,
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_UGE, x[0], x[1]), x[0], x[1]);
     }},
    {OpKind::Min,
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_ULE, x[0], x[1]), x[0], x[1]);
     }},

    {OpKind::Less, comparison<CmpInst::FCMP_OLT>},
    {OpKind::LessEqual, comparison<CmpInst::FCMP_OLE>},
    {OpKind::Greater, comparison<CmpInst::FCMP_OGT>},
    {OpKind::GreaterEqual, comparison<CmpInst::FCMP_OGE>},
    {OpKind::Equal, comparison<CmpInst::FCMP_OEQ>},
    {OpKind::NotEqual, comparison<CmpInst::FCMP_UNE>},
    {OpKind::Where,
     [](IRLowering &ir, Operands x) { return select(ir, CmpInst::FCMP_UNE, x[0], ir.constant(0), x[1], x[2]); }},
    {OpKind::StopGradient, [](IRLowering &, Operands x) { return x[0]; }},

    {OpKind::MatMul, tensorLowering},
    {OpKind::Sum, tensorLowering},
    {OpKind::Mean, tensorLowering},
    {OpKind::ReduceMax, tensorLowering},
    {OpKind::ReduceMin, tensorLowering},
    {OpKind::Softmax, tensorLowering},
    {OpKind::LogSoftmax, tensorLowering},
    {OpKind::LogSumExp, tensorLowering},
    {OpKind::Transpose, tensorLowering},
    {OpKind::Argmax, tensorLowering},
    {OpKind::Index, tensorLowering},
    {OpKind::DynamicIndex, tensorLowering},

    {OpKind::Step,
     [](IRLowering &ir, Operands x) {
       return select(ir, CmpInst::FCMP_OGT, x[0], ir.constant(0), ir.constant(1), ir.constant(0));
     }},
    {OpKind::Sign,
     [](IRLowering &ir, Operands x) {
       Value *negativeOrZero = select(ir, CmpInst::FCMP_OLT, x[0], ir.constant(0), ir.constant(-1), ir.constant(0));
       return select(ir, CmpInst::FCMP_OGT, x[0], ir.constant(0), ir.constant(1), negativeOrZero);
     }},
    {OpKind::GreaterEq,
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_UGE, x[0], x[1]), ir.constant(1), ir.constant(0));
     }},
    {OpKind::LessEq,
     [](IRLowering &ir, Operands x) {
       return ir.builder.CreateSelect(takesFirst(ir, CmpInst::FCMP_ULE, x[0], x[1]), ir.constant(1), ir.constant(0));
     }},
    {OpKind::DMul,
     [](IRLowering &ir, Operands x) {
       auto &b = ir.builder;
       Value *product = b.CreateFMul(x[0], x[1]);
       Value *aZeroOrBZero = b.CreateOr(b.CreateFCmp(CmpInst::FCMP_OEQ, x[0], ir.constant(0)),
                                        b.CreateFCmp(CmpInst::FCMP_OEQ, x[1], ir.constant(0)));
       Value *zeroTimesNonFinite = b.CreateAnd(b.CreateFCmp(CmpInst::FCMP_UNO, product, product), aZeroOrBZero);
       return b.CreateSelect(zeroTimesNonFinite, ir.constant(0), product);
     }},

    {OpKind::SumTo, tensorLowering},
    // Elementwise (lowerTensorOp loops over the result): the operand, read with stride 0 where it is repeated.
    {OpKind::BroadcastTo, [](IRLowering &, Operands x) { return x[0]; }},
    {OpKind::Reshape, tensorLowering},
    {OpKind::IndexGrad, tensorLowering},
    {OpKind::DynamicIndexGrad, tensorLowering},
    {OpKind::ArgmaxMask, tensorLowering},
    {OpKind::WithPartial, tensorLowering},
};
static_assert(std::size(lowerings) == NumOps, "lowerings needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(lowerings), "lowerings rows must follow the order of Ops.def");

} // namespace

Value *bp::lowerOp(IRLowering &ir, OpKind op, Operands operands) {
  return lowerings[static_cast<size_t>(op)].lower(ir, operands);
}
