//===- Forward.cpp - Forward-mode tangents as a graph transformation ------===//
//
// One pass over the forward graph, first node to last: every argument gets a tangent leaf of its shape, and every
// node that depends on an argument the tangent its op's rule builds from its operands' (TangentRules.cpp). A node
// that depends on no argument, or whose tangent is 0 by its rule (a comparison's), has none: 0, and no nodes.
// Each output's tangent is then J times the arguments' tangents, a directional derivative, for every output from
// the one pass, where the reverse sweeps of Autodiff.cpp take one per output.
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"
#include "bp/Diagnostics.h"
#include "bp/Interpreter.h"

#include "llvm/ADT/STLExtras.h"

using namespace bp;

llvm::Expected<TangentGraph> bp::buildTangentGraph(const Graph &forward) {
  TangentGraph result{forward, forward.size(), {}, {}, {}};
  Graph &graph = result.graph;
  std::vector<NodeId> tangent(forward.size(), InvalidNode); // per forward node; InvalidNode: 0
  for (NodeId argument : forward.arguments()) {
    const Node &node = forward.node(argument);
    NodeId leaf = graph.addNode(OpKind::Input, {}, node.loc); // not addArgument's: not one of the arguments
    graph.node(leaf).type.shape = node.type.shape;
    graph.node(leaf).name = "d" + node.name;
    tangent[argument] = leaf;
    result.tangents.push_back(leaf);
  }
  std::vector<NodeId> operandTangents;
  for (NodeId id = 0; id < forward.size(); ++id) {
    const Node &node = forward.node(id);
    operandTangents.clear();
    for (NodeId operand : node.operands)
      operandTangents.push_back(tangent[operand]);
    if (llvm::all_of(operandTangents, [](NodeId t) { return t == InvalidNode; }))
      continue;
    if (!hasTangentRule(node.op))
      return makeDiagnosticError(forward.sourceFile(), node.loc,
                                 std::string("forward mode does not support '") + getOpInfo(node.op).name + "' yet");
    DerivativeBuilder builder(graph, id);
    tangent[id] = tangentOf(node.op, builder, operandTangents);
  }
  NodeId zero = InvalidNode;
  for (const Graph::Output &output : forward.outputs()) {
    NodeId t = tangent[output.node];
    if (t == InvalidNode) {
      if (zero == InvalidNode)
        zero = graph.addConstant(0, output.loc);
      const Shape &shape = forward.node(output.node).type.shape;
      t = shape.empty() ? zero : llvm::cantFail(graph.addOp(OpKind::BroadcastTo, {zero}, output.loc, shape));
    }
    result.outputTangents.push_back(t);
  }
  for (size_t o = 0; o < forward.outputs().size(); ++o)
    graph.addOutput("jvp(" + forward.outputs()[o].name + ")", result.outputTangents[o], forward.outputs()[o].loc);
  result.nodeTangents = std::move(tangent);
  return result;
}

Values bp::evaluateTangentGraph(const TangentGraph &tangentGraph, llvm::ArrayRef<double> in,
                                llvm::ArrayRef<double> tangents) {
  const Graph &graph = tangentGraph.graph;
  Values values = evaluateGraph(graph, in); // the tangent nodes with every tangent leaf 0
  std::vector<size_t> offsets = graph.argumentOffsets();
  assert(tangents.size() == offsets.back() && "a tangent per argument element");
  for (size_t a = 0; a < tangentGraph.tangents.size(); ++a)
    llvm::copy(tangents.slice(offsets[a], offsets[a + 1] - offsets[a]),
               values.tensor(tangentGraph.tangents[a]).begin());
  for (NodeId id = tangentGraph.forwardSize; id < graph.size(); ++id)
    evaluateNode(graph, id, values);
  return values;
}

std::vector<std::vector<double>> bp::evaluateTangents(const TangentGraph &tangentGraph, llvm::ArrayRef<double> in,
                                                      llvm::ArrayRef<double> tangents) {
  Values values = evaluateTangentGraph(tangentGraph, in, tangents);
  std::vector<std::vector<double>> result;
  for (NodeId t : tangentGraph.outputTangents)
    result.emplace_back(values.tensor(t).begin(), values.tensor(t).end());
  return result;
}
