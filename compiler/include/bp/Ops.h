//===- Ops.h - bp's operations: what the IR knows of each one ---*- C++ -*-===//
//
// One OpInfo per operation: its name, how it is written, its arity and how it prints. The table is in
// compiler/lib/Graph/Ops.cpp. What an op computes and how it differentiates belong to the stages that use it,
// each in a table of its own with one row per op, in Ops.def order:
//   forward rule on doubles     compiler/lib/Graph/Interpreter.cpp        evaluateOp (Interpreter.h)
//   local derivatives           compiler/lib/Autodiff/DerivativeRules.cpp localDerivative (Autodiff.h)
//   lowering to LLVM IR         compiler/lib/CodeGen/Lowering.cpp         lowerOp (CodeGen.h)
// Every table checks itself with rowsFollowOpsDef, so an op added to Ops.def without a row in some stage
// fails to build.
//
//===----------------------------------------------------------------------===//
#ifndef BP_OPS_H
#define BP_OPS_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

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
  Index,    // x[0, 1]: indexing, the indices in Node::attrs
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

/// Whether a per-op table (an array of rows with a `kind`) has row i for op i, for every op of Ops.def. Each
/// stage's table asserts it together with `std::size(table) == NumOps`.
template <typename Row, size_t N> constexpr bool rowsFollowOpsDef(const Row (&rows)[N]) {
  if (N != NumOps)
    return false;
  for (size_t i = 0; i < N; ++i)
    if (rows[i].kind != opKind(i))
      return false;
  return true;
}

/// The most operands an operation takes (where's three).
constexpr unsigned MaxArity = [] {
  constexpr unsigned arities[] = {
#define BP_OP(Kind, name, arity) arity,
#include "bp/Ops.def"
  };
  unsigned most = 0;
  for (unsigned arity : arities)
    most = arity > most ? arity : most;
  return most;
}();

/// The precedence of the comparisons, the loosest operators: they do not chain, so a comparison operand of a
/// comparison prints in parentheses, on either side.
constexpr int ComparisonPrecedence = 0;

using NodeId = uint32_t;
constexpr NodeId InvalidNode = UINT32_MAX;

struct OpInfo {
  OpKind kind;
  const char *name;      // as printed in graphs: "add", "sigmoid"
  const char *spelling;  // as written in scripts: "+", "sigmoid"
  unsigned arity;
  Syntax syntax;
  int precedence;        // for printing formulas: 0 (comparisons), 1 (+ -), 2 (* / @), 3 (unary -), 4 (^); 5 otherwise
};

const OpInfo &getOpInfo(OpKind kind);

/// The ops that exist for tensors (`@`, the reductions, the softmax family, transpose, argmax, indexing, and the
/// internal ops of their gradients): not elementwise (but broadcast_to, which the interpreter runs as one),
/// differentiated by vector-Jacobian products, lowered to loop nests of their own. A graph with one is a tensor graph even where every shape is [] (`sum(x)` of a
/// scalar x).
bool isTensorOp(OpKind kind);

/// The ops whose attrs are {axis} or none (every element): the reductions, argmax and the softmax family.
bool takesAxis(OpKind kind);

/// Of those, the ops whose result has the operand's shape (softmax, log_softmax, argmax_mask); the others
/// reduce the axis away.
bool keepsShape(OpKind kind);

/// The builtin function a script calls by this name (`exp`, `max`, ...), if any.
std::optional<OpKind> lookupBuiltin(std::string_view name);

/// True for the words scripts cannot use as names: keywords and builtin function names.
bool isReservedWord(std::string_view name);

} // namespace bp

#endif // BP_OPS_H
