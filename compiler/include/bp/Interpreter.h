//===- Interpreter.h - Evaluating a graph on doubles ------------*- C++ -*-===//
//
// The reference semantics: evaluates every node with the op table's forward rules. `bpc explain` prints
// these values; the code generator must reproduce them bit for bit (the unit tests check that it does).
//
//===----------------------------------------------------------------------===//
#ifndef BP_INTERPRETER_H
#define BP_INTERPRETER_H

#include "bp/Graph.h"

#include <vector>

namespace bp {

/// Every node's value, given one value per argument in Graph::arguments() order.
std::vector<double> evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues);

} // namespace bp

#endif // BP_INTERPRETER_H
