//===- Autodiff.cpp - Reverse-mode chain rule as a graph transformation ---===//
//
// For each output: seed d out/d out = 1, walk the forward nodes from last to first, and for every operand
// that depends on an argument add (adjoint of the node) * (local derivative from the op table) to the
// operand's adjoint. A node used twice gets both contributions, summed in the order they were made.
// Only nodes that lie on a path from an argument to the output get adjoints.
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"

using namespace bp;

namespace {

bool isConstant(const Graph &graph, NodeId id, double value) {
  const Node &node = graph.node(id);
  return node.op == OpKind::Const && node.value == value;
}

/// adjoint * local, skipping multiplications by exactly 1 and -1 (exact in IEEE arithmetic). A local derivative
/// that is not a constant may be infinite or NaN (sqrt at 0, a branch max did not take): the product is dmul,
/// which keeps an exactly zero adjoint zero, so a branch that contributes nothing contributes 0, never NaN.
NodeId chainProduct(Graph &graph, NodeId adjoint, NodeId local, SourceLoc loc) {
  if (isConstant(graph, local, 1))
    return adjoint;
  if (isConstant(graph, adjoint, 1))
    return local;
  if (isConstant(graph, local, -1))
    return graph.addNode(OpKind::Neg, {adjoint}, loc);
  bool finiteFactor = graph.node(local).op == OpKind::Const || graph.node(adjoint).op == OpKind::Const;
  return graph.addNode(finiteFactor ? OpKind::Mul : OpKind::DMul, {adjoint, local}, loc);
}

/// Whether each node's value changes with some input or param (constants and their functions do not).
std::vector<bool> findVaryingNodes(const Graph &graph) {
  std::vector<bool> varies(graph.size(), false);
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    varies[id] = node.op == OpKind::Input || node.op == OpKind::Param;
    for (NodeId operand : node.operands)
      varies[id] = varies[id] || varies[operand];
  }
  return varies;
}

ReverseSweep sweepOutput(Graph &graph, const Graph &forward, size_t outputIndex,
                         const std::vector<bool> &varies, const std::vector<NodeId> &arguments) {
  const Graph::Output &output = forward.outputs()[outputIndex];
  ReverseSweep sweep;
  sweep.output = outputIndex;
  sweep.adjoint.assign(forward.size(), InvalidNode);

  if (varies[output.node]) {
    NodeId seed = graph.addConstant(1, output.loc);
    sweep.adjoint[output.node] = seed;
    for (NodeId id = output.node + 1; id-- > 0;) {
      NodeId adjoint = sweep.adjoint[id];
      if (adjoint == InvalidNode)
        continue;
      const Node &node = forward.node(id);
      const OpInfo &info = getOpInfo(node.op);
      for (unsigned i = 0; i < node.operands.size(); ++i) {
        NodeId operand = node.operands[i];
        if (!varies[operand])
          continue;
        DerivativeBuilder builder(graph, id);
        NodeId local = info.localDerivative(builder, i);
        NodeId product = chainProduct(graph, adjoint, local, node.loc);
        sweep.steps.push_back({id, i, operand, local, product});
        NodeId &total = sweep.adjoint[operand];
        total = total == InvalidNode ? product
                                     : graph.addNode(OpKind::Add, {total, product}, forward.node(operand).loc);
      }
    }
  }

  // Name each adjoint after what it is, d out / d node, unless it is a node that already has a name. From
  // the output down: where several nodes share one adjoint node (d = a + b passes df/dd on to a and b
  // unchanged), it is named after the node closest to the output.
  for (NodeId id = forward.size(); id-- > 0;) {
    NodeId adjoint = sweep.adjoint[id];
    if (adjoint != InvalidNode && adjoint >= forward.size() && graph.node(adjoint).name.empty())
      graph.node(adjoint).name = "d" + output.name + "/d" + forward.label(id);
  }
  for (NodeId argument : arguments) {
    NodeId adjoint = sweep.adjoint[argument];
    sweep.gradient.push_back(adjoint != InvalidNode ? adjoint : graph.addConstant(0, output.loc));
  }
  return sweep;
}

} // namespace

GradientGraph bp::buildGradientGraph(const Graph &forward) {
  GradientGraph result{forward, forward.size(), {}};
  std::vector<NodeId> arguments = forward.arguments();
  std::vector<bool> varies = findVaryingNodes(forward);
  for (size_t o = 0; o < forward.outputs().size(); ++o)
    result.sweeps.push_back(sweepOutput(result.graph, forward, o, varies, arguments));
  return result;
}
