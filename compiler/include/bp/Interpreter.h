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

#include "llvm/ADT/ArrayRef.h"

#include <cassert>
#include <vector>

namespace bp {

/// The forward rule of `op` (not a leaf) on its operands, getOpInfo(op).arity of them.
double evaluateOp(OpKind op, const double *operands);

/// Every node's value, in one buffer: node `id`'s elements, row-major, from its offset on. When every node is
/// a scalar, node `id` is element `id` and no offsets are stored.
class Values {
public:
  explicit Values(const Graph &graph);

  /// The value of a scalar node.
  double operator[](NodeId id) const {
    assert(id < sizes.size() && sizes[id] == 1 && "a scalar node");
    return buffer[offset(id)];
  }
  /// Every element of a node, row-major (one for a scalar).
  llvm::ArrayRef<double> tensor(NodeId id) const { return {buffer.data() + offset(id), sizes[id]}; }
  llvm::MutableArrayRef<double> tensor(NodeId id) { return {buffer.data() + offset(id), sizes[id]}; }

private:
  size_t offset(NodeId id) const { return offsets.empty() ? id : offsets[id]; }

  std::vector<double> buffer;
  std::vector<size_t> offsets; // empty when every node is a scalar
  std::vector<uint32_t> sizes; // elements per node
};

/// Every node's value, given the arguments' values flat: each argument's elementCount(shape) numbers in
/// Graph::arguments() order (Graph::argumentOffsets).
Values evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues);

/// Evaluates node `id` into `values`, where its operands' values are already. Inputs and params are left as
/// they are: their values come from the caller (evaluateGraph sets the arguments'; a gradient graph's seed is
/// set for each row of a Jacobian, Autodiff.h).
void evaluateNode(const Graph &graph, NodeId id, Values &values);

} // namespace bp

#endif // BP_INTERPRETER_H
