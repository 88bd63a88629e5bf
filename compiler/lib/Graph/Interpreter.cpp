//===- Interpreter.cpp - Evaluating a graph on doubles --------------------===//
#include "bp/Interpreter.h"

#include <cassert>

using namespace bp;

std::vector<double> bp::evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues) {
  std::vector<NodeId> arguments = graph.arguments();
  assert(arguments.size() == argumentValues.size() && "one value per argument");
  std::vector<double> values(graph.size());
  for (size_t i = 0; i < arguments.size(); ++i)
    values[arguments[i]] = argumentValues[i];
  double operands[2];
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (node.op == OpKind::Input || node.op == OpKind::Param)
      continue;
    if (node.op == OpKind::Const) {
      values[id] = node.value;
      continue;
    }
    for (size_t i = 0; i < node.operands.size(); ++i)
      operands[i] = values[node.operands[i]];
    values[id] = getOpInfo(node.op).evaluate(operands);
  }
  return values;
}
