//===- Interpreter.h - Evaluating a graph on doubles ------------*- C++ -*-===//
//
// The reference semantics: every op's forward rule on doubles (Interpreter.cpp owns them), and a graph
// evaluated with them. `bpc explain` prints these values; the code generator must reproduce them bit for bit
// (the unit tests check that it does).
//
//===----------------------------------------------------------------------===//
#ifndef BP_INTERPRETER_H
#define BP_INTERPRETER_H

#include "bp/Graph.h"

#include <vector>

namespace bp {

/// The forward rule of `op` (not a leaf) on its operands, getOpInfo(op).arity of them.
double evaluateOp(OpKind op, const double *operands);

/// Every node's value, given one value per argument in Graph::arguments() order.
std::vector<double> evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues);

} // namespace bp

#endif // BP_INTERPRETER_H
