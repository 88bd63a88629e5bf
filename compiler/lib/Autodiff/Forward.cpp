//===- Forward.cpp - Forward-mode tangents as a graph transformation ------===//
//
// One pass over the forward graph, first node to last: every argument (or each chosen one; the others count as
// constants) gets a tangent leaf of its shape, and every node that depends on such an argument the tangent its
// op's rule builds from its operands' (TangentRules.cpp). A node that depends on no such argument, or whose
// tangent is 0 by its rule (a comparison's), has none: 0, and no nodes.
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
  return buildTangentGraph(forward, GradientSelection::all(forward).arguments);
}

llvm::Expected<TangentGraph> bp::buildTangentGraph(const Graph &forward, std::vector<size_t> arguments) {
  TangentGraph result{forward, forward.size(), {}, {}, std::move(arguments), {}};
  Graph &graph = result.graph;
  std::vector<NodeId> tangent(forward.size(), InvalidNode); // per forward node; InvalidNode: 0
  std::vector<NodeId> all = forward.arguments();
  for (size_t a : result.arguments) {
    NodeId argument = all[a];
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
  Values values(graph);
  // Leaf #i of `leaves` gets `flat`'s elements from offsets[i] on: the arguments and the tangent leaves are set
  // first, so that every node is evaluated once.
  auto place = [&](llvm::ArrayRef<NodeId> leaves, llvm::ArrayRef<size_t> offsets, llvm::ArrayRef<double> flat) {
    assert(flat.size() == offsets.back() && "elementCount(shape) values per leaf");
    for (size_t i = 0; i < leaves.size(); ++i)
      llvm::copy(flat.slice(offsets[i], offsets[i + 1] - offsets[i]), values.tensor(leaves[i]).begin());
  };
  place(graph.arguments(), graph.argumentOffsets(), in);
  place(tangentGraph.tangents, GradientSelection{{}, tangentGraph.arguments}.columnOffsets(graph), tangents);
  for (NodeId id = 0; id < graph.size(); ++id)
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
