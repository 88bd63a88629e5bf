//===- TensorLowering.h - Tensor ops as loop nests --------------*- C++ -*-===//
#ifndef BP_CODEGEN_TENSORLOWERING_H
#define BP_CODEGEN_TENSORLOWERING_H

#include "bp/CodeGen.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace bp {

/// Where the literal index `id` (an Index node) starts in its operand's elements, row-major: where it reads
/// in place, its result is the run of elements from there on.
int64_t indexStart(const Graph &graph, NodeId id);
/// Whether the Index node `id` reads one contiguous run of its operand (no slice makes it strided), which the
/// emitter gives it in place of a buffer of its own.
bool indexReadsInPlace(const Graph &graph, NodeId id);

/// Emits node `id` of `graph`, a tensor op or an elementwise op with a tensor result, as a loop nest over its
/// result. `operands` holds, per operand, its double (a scalar) or a pointer to its elements (a tensor);
/// `result` is where a tensor result's elements go (null for a scalar result). Returns `result`, or the scalar.
llvm::Value *lowerTensorOp(IRLowering &ir, const Graph &graph, NodeId id, llvm::ArrayRef<llvm::Value *> operands,
                           llvm::Value *result);

/// `for (i = 0; i < count; ++i) body(i)` (count >= 1), a loop as tensor ops' loops are emitted: the gradient
/// function's loop over the rows of a tensor output's Jacobian.
void emitLoop(IRLowering &ir, int64_t count, llvm::function_ref<void(llvm::Value *i)> body);

} // namespace bp

#endif // BP_CODEGEN_TENSORLOWERING_H
