//===- Ops.h - bp's operations and what each one means ----------*- C++ -*-===//
//
// One OpInfo per operation: its name, how it is written, its arity, its forward rule on doubles, its
// lowering to LLVM IR, and its local derivative with respect to each operand. The rules live side by side
// in compiler/lib/Graph/Ops.cpp; the interpreter, the code generator and autodiff all read them from there.
//
//===----------------------------------------------------------------------===//
#ifndef BP_OPS_H
#define BP_OPS_H

#include "llvm/ADT/ArrayRef.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llvm {
class Value;
} // namespace llvm

namespace bp {

enum class OpKind : uint8_t {
#define BP_OP(Kind, name, arity) Kind,
#include "bp/Ops.def"
};

/// How an operation is written in scripts (and so how it prints in formulas).
enum class Syntax : uint8_t {
  Leaf,     // input, param, constant
  Infix,    // a + b
  Prefix,   // -a
  Call,     // exp(a): a builtin that scripts may call
  Internal, // step(a): appears only in gradient graphs
  InternalInfix, // a * b: appears only in gradient graphs, and prints like the operator it refines (dmul)
};

/// How many operations Ops.def lists.
constexpr size_t NumOps = 0
#define BP_OP(Kind, name, arity) +1
#include "bp/Ops.def"
    ;

/// Every operation, in Ops.def order (for tests and tables that must cover each one).
constexpr OpKind opKind(size_t index) { return static_cast<OpKind>(index); }

using NodeId = uint32_t;
constexpr NodeId InvalidNode = UINT32_MAX;

class DerivativeBuilder; // Autodiff.h: builds local-derivative nodes in a gradient graph
class IRLowering;        // CodeGen.h: emits LLVM instructions and libm calls

struct OpInfo {
  OpKind kind;
  const char *name;      // as printed in graphs: "add", "sigmoid"
  const char *spelling;  // as written in scripts: "+", "sigmoid"
  unsigned arity;
  Syntax syntax;
  int precedence;        // for printing formulas: 1 (+ -), 2 (* /), 3 (unary -), 4 (^); 5 otherwise

  /// The forward rule on doubles: the reference semantics that generated code reproduces bit for bit.
  double (*evaluate)(const double *operands);
  /// The same rule as LLVM IR.
  llvm::Value *(*lower)(IRLowering &ir, llvm::ArrayRef<llvm::Value *> operands);
  /// The local derivative d(this node)/d(operand #i), built as graph nodes.
  NodeId (*localDerivative)(DerivativeBuilder &b, unsigned operandIndex);
};

const OpInfo &getOpInfo(OpKind kind);

/// The builtin function a script calls by this name (`exp`, `max`, ...), if any.
std::optional<OpKind> lookupBuiltin(std::string_view name);

/// True for the words scripts cannot use as names: keywords and builtin function names.
bool isReservedWord(std::string_view name);

} // namespace bp

#endif // BP_OPS_H
