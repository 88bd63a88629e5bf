//===- Autodiff.cpp - Reverse-mode chain rule as a graph transformation ---===//
//
// For each output: seed d out/d out (1 for a scalar output), walk the forward nodes from last to first, and for every operand
// that depends on an argument add (adjoint of the node) * (local derivative from DerivativeRules.cpp) to the
// operand's adjoint. A node used twice gets both contributions, summed in the order they were made.
// Only nodes that lie on a path from an argument to the output get adjoints, and a sweep visits no others.
// Past an op that selects (max, min, relu, abs, where, comparisons), products are dmul, so a branch not taken
// stays an exact 0.
// Tensors: every adjoint has its node's shape. An elementwise op's product is its local derivative times the
// adjoint, elementwise, summed back (sum_to) to the operand's shape where the op broadcast the operand; a
// tensor op's product is its vector-Jacobian product. A tensor output's seed is a leaf of its shape that the
// evaluation sets one-hot, once per row of the Jacobian (evaluateGradient below; CodeGen's gradient function
// loops the same way), so its sweep is built once whatever the output's size.
// Second derivatives differentiate a scalar output's gradient graph again, with the gradient entries as its
// outputs: by reverse mode, the Hessian (buildHessianGraph), or by forward mode (Forward.cpp), Hessian-vector
// products without the Hessian (buildHessianVectorGraph).
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"
#include "bp/Diagnostics.h"
#include "bp/Interpreter.h"
#include "bp/PhaseTimes.h"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <queue>

using namespace bp;

namespace {

bool isConstant(const Graph &graph, NodeId id, double value) {
  const Node &node = graph.node(id);
  return node.op == OpKind::Const && node.type.isScalar() && node.value == value;
}

/// adjoint * local, skipping multiplications by exactly 1 and -1 (exact in IEEE arithmetic). Where either factor
/// may be a 0 from a branch not taken (`guard`), the product is dmul, which keeps 0 * inf and 0 * NaN at 0: a
/// branch that contributes nothing contributes 0 to the gradient, never NaN, even where its own derivative is
/// infinite (sqrt at 0 behind a max).
NodeId chainProduct(DerivativeBuilder &builder, Graph &graph, NodeId adjoint, NodeId local, bool guard) {
  if (isConstant(graph, local, 1))
    return adjoint;
  if (isConstant(graph, adjoint, 1))
    return local;
  if (isConstant(graph, local, -1))
    return builder.neg(adjoint);
  return builder.apply(guard ? OpKind::DMul : OpKind::Mul, {adjoint, local});
}

/// Two contributions to one adjoint, of the same shape.
NodeId addAdjoints(Graph &graph, NodeId total, NodeId product, SourceLoc loc) {
  if (graph.node(total).type.isScalar())
    return graph.addNode(OpKind::Add, {total, product}, loc);
  return llvm::cantFail(graph.addOp(OpKind::Add, {total, product}, loc));
}

/// Whether each node's value changes with one of `arguments` (constants, the other inputs and params, and
/// their functions do not).
std::vector<bool> findVaryingNodes(const Graph &graph, llvm::ArrayRef<NodeId> arguments) {
  std::vector<bool> varies(graph.size(), false);
  for (NodeId argument : arguments)
    varies[argument] = true;
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    for (NodeId operand : node.operands)
      varies[id] = varies[id] || varies[operand];
  }
  return varies;
}

/// Builds the reverse sweeps one output at a time. A scratch vector indexed by forward node holds the adjoints
/// of the sweep in progress; a max-heap hands out the nodes that have an adjoint from last to first, so a
/// sweep visits only its output's cone and resets only the entries it set.
class Differentiator {
public:
  Differentiator(const Graph &forward, const GradientSelection &selection, size_t maxSize)
      : forward(forward), maxSize(maxSize), result{forward, forward.size(), {}, selection},
        arguments(selectedArguments(forward, selection)), varies(findVaryingNodes(forward, arguments)),
        scratch(forward.size(), InvalidNode), selected(forward.size(), false) {}

  llvm::Expected<GradientGraph> run() {
    if (llvm::Error err = checkSize())
      return err;
    for (size_t o : result.selection.outputs)
      sweepOutput(o);
    return std::move(result);
  }

private:
  /// Counts what the sweeps would build, one chain-rule step per edge of each output's cone and the gradient
  /// entries (Autodiff.h, MaxGradientSize), without building it: an error at the output that takes the count
  /// past maxSize.
  llvm::Error checkSize() const;
  void sweepOutput(size_t outputIndex);
  static std::vector<NodeId> selectedArguments(const Graph &forward, const GradientSelection &selection) {
    std::vector<NodeId> all = forward.arguments(), ids;
    for (size_t a : selection.arguments)
      ids.push_back(all[a]);
    return ids;
  }

  const Graph &forward;
  size_t maxSize;
  GradientGraph result;
  std::vector<NodeId> arguments; // the selected ones
  std::vector<bool> varies;
  std::vector<NodeId> scratch; // per forward node: its adjoint in the sweep in progress, else InvalidNode
  std::vector<bool> selected;  // per forward node: its adjoint in that sweep passed a selection (see selects)
};

llvm::Error Differentiator::checkSize() const {
  size_t size = 0;
  std::vector<size_t> lastVisit(forward.size(), SIZE_MAX); // per node: the last output whose cone holds it
  std::vector<NodeId> pending;
  size_t argumentElements = 0;
  for (NodeId argument : arguments)
    argumentElements += static_cast<size_t>(elementCount(forward.node(argument).type.shape));
  for (size_t o : result.selection.outputs) {
    NodeId root = forward.outputs()[o].node;
    const Shape &shape = forward.node(root).type.shape;
    size += shape.empty() ? arguments.size() : static_cast<size_t>(elementCount(shape)) * argumentElements;
    if (varies[root]) {
      lastVisit[root] = o;
      pending.push_back(root);
    }
    while (!pending.empty() && size <= maxSize) {
      NodeId id = pending.back();
      pending.pop_back();
      for (NodeId operand : forward.node(id).operands) {
        if (!varies[operand])
          continue;
        ++size;
        if (lastVisit[operand] != o) {
          lastVisit[operand] = o;
          pending.push_back(operand);
        }
      }
    }
    if (size > maxSize) {
      const Graph::Output &output = forward.outputs()[o];
      return makeDiagnosticError(forward.sourceFile(), output.loc,
                                 "gradient too large: with output '" + output.name + "' (" + std::to_string(o + 1) +
                                     " of " + std::to_string(forward.outputs().size()) + ") it takes more than " +
                                     std::to_string(maxSize) + " chain-rule steps and gradient entries");
    }
  }
  return llvm::Error::success();
}

void Differentiator::sweepOutput(size_t outputIndex) {
  Graph &graph = result.graph;
  const Graph::Output &output = forward.outputs()[outputIndex];
  ReverseSweep &sweep = result.sweeps.emplace_back();
  sweep.output = outputIndex;
  sweep.begin = static_cast<NodeId>(graph.size());
  if (const Shape &shape = forward.node(output.node).type.shape; !shape.empty()) {
    sweep.seed = graph.addNode(OpKind::Input, {}, output.loc); // not addArgument's: not one of the arguments
    graph.node(sweep.seed).type.shape = shape;
    graph.node(sweep.seed).name = "d" + output.name + "/d" + forward.label(output.node);
  }

  if (varies[output.node]) {
    scratch[output.node] = sweep.seed != InvalidNode ? sweep.seed : graph.addConstant(1, output.loc);
    std::priority_queue<NodeId> pending; // nodes with an adjoint, not yet visited; every consumer comes first
    pending.push(output.node);
    while (!pending.empty()) {
      NodeId id = pending.top();
      pending.pop();
      NodeId adjoint = scratch[id]; // complete: every consumer in the cone has a larger id
      sweep.adjoints.emplace_back(id, adjoint);
      const Node &node = forward.node(id);
      bool guard = selected[id] || selects(node.op);
      for (unsigned i = 0; i < node.operands.size(); ++i) {
        NodeId operand = node.operands[i];
        if (!varies[operand])
          continue;
        DerivativeBuilder builder(graph, id);
        NodeId local = InvalidNode, product;
        if (isTensorOp(node.op)) {
          product = vectorJacobianProduct(node.op, builder, i, adjoint, guard);
          if (product == InvalidNode) // the op passes this operand nothing (with_partial's body and partials)
            continue;
        } else {
          local = localDerivative(node.op, builder, i);
          product = chainProduct(builder, graph, adjoint, local, guard);
        }
        const Shape &shape = forward.node(operand).type.shape;
        if (graph.node(product).type.shape != shape) // the op broadcast the operand
          product = builder.apply(OpKind::SumTo, {product}, shape);
        selected[operand] = selected[operand] || guard;
        sweep.steps.push_back({id, i, operand, local, product});
        NodeId &total = scratch[operand];
        if (total == InvalidNode)
          pending.push(operand);
        total = total == InvalidNode ? product : addAdjoints(graph, total, product, forward.node(operand).loc);
      }
    }
  }

  // Name each adjoint after what it is, d out / d node, unless it is a node that already has a name. From
  // the output down: where several nodes share one adjoint node (d = a + b passes df/dd on to a and b
  // unchanged), it is named after the node closest to the output.
  for (auto [id, adjoint] : sweep.adjoints)
    if (adjoint >= forward.size() && graph.node(adjoint).name.empty())
      graph.node(adjoint).name = "d" + output.name + "/d" + forward.label(id);
  NodeId zero = InvalidNode;
  for (NodeId argument : arguments) {
    NodeId adjoint = scratch[argument];
    if (adjoint == InvalidNode && zero == InvalidNode)
      zero = graph.addConstant(0, output.loc);
    const Shape &shape = forward.node(argument).type.shape;
    if (adjoint == InvalidNode && !shape.empty()) // zeros of the argument's shape
      adjoint = llvm::cantFail(graph.addOp(OpKind::BroadcastTo, {zero}, output.loc, shape));
    sweep.gradient.push_back(adjoint != InvalidNode ? adjoint : zero);
  }
  for (auto [id, adjoint] : sweep.adjoints) {
    scratch[id] = InvalidNode;
    selected[id] = false;
  }
  sweep.end = static_cast<NodeId>(graph.size());
}

} // namespace

NodeId ReverseSweep::adjoint(NodeId id) const {
  auto found = std::lower_bound(adjoints.begin(), adjoints.end(), id,
                                [](const std::pair<NodeId, NodeId> &entry, NodeId id) { return entry.first > id; });
  return found != adjoints.end() && found->first == id ? found->second : InvalidNode;
}

std::vector<NodeId> GradientGraph::seededNodes(const ReverseSweep &sweep) const {
  // Only the sweep's own nodes, which follow its seed, can depend on it.
  return sweep.seed == InvalidNode ? std::vector<NodeId>() : graph.dependents(sweep.seed, sweep.end);
}

GradientSelection GradientSelection::all(const Graph &forward) {
  GradientSelection selection;
  for (size_t o = 0; o < forward.outputs().size(); ++o)
    selection.outputs.push_back(o);
  selection.arguments.resize(forward.declaredArguments().size());
  std::iota(selection.arguments.begin(), selection.arguments.end(), 0);
  return selection;
}

/// The offsets of the `chosen` of the ranges that `all` delimits, laid end to end.
static std::vector<size_t> chosenOffsets(const std::vector<size_t> &all, llvm::ArrayRef<size_t> chosen) {
  std::vector<size_t> offsets = {0};
  for (size_t i : chosen)
    offsets.push_back(offsets.back() + all[i + 1] - all[i]);
  return offsets;
}

std::vector<size_t> GradientSelection::rowOffsets(const Graph &forward) const {
  return chosenOffsets(forward.outputOffsets(), outputs);
}

std::vector<size_t> GradientSelection::columnOffsets(const Graph &forward) const {
  return chosenOffsets(forward.argumentOffsets(), arguments);
}

llvm::Expected<GradientGraph> bp::buildGradientGraph(const Graph &forward, size_t maxSize) {
  return buildGradientGraph(forward, GradientSelection::all(forward), maxSize);
}

llvm::Expected<GradientGraph> bp::buildGradientGraph(const Graph &forward, const GradientSelection &selection,
                                                     size_t maxSize) {
  PhaseTimer timer("autodiff");
  return Differentiator(forward, selection, maxSize).run();
}

/// Scalar output #output's gradient graph by `arguments`, with the output and then each gradient entry
/// d output / d A (per chosen A) as its outputs: what second derivatives differentiate again.
static llvm::Expected<Graph> gradientAsOutputs(const Graph &forward, size_t output,
                                               const std::vector<size_t> &arguments, size_t maxSize) {
  assert(forward.node(forward.outputs()[output].node).type.isScalar() && "second derivatives need a scalar output");
  auto gradient = buildGradientGraph(forward, {{output}, arguments}, maxSize);
  if (!gradient)
    return gradient.takeError();
  Graph graph = std::move(gradient->graph);
  graph.keepOnlyOutput(output);
  const Graph::Output of = graph.outputs().front();
  std::vector<NodeId> all = forward.arguments();
  for (size_t a = 0; a < arguments.size(); ++a)
    graph.addOutput("d" + of.name + "/d" + forward.node(all[arguments[a]]).name, gradient->sweeps.front().gradient[a],
                    of.loc);
  return graph;
}

llvm::Expected<GradientGraph> bp::buildHessianGraph(const Graph &forward, size_t output,
                                                   std::vector<size_t> arguments, size_t maxSize) {
  auto graph = gradientAsOutputs(forward, output, arguments, maxSize);
  if (!graph)
    return graph.takeError();
  GradientSelection entries{{}, std::move(arguments)};
  for (size_t a = 0; a < entries.arguments.size(); ++a)
    entries.outputs.push_back(a + 1);
  return buildGradientGraph(*graph, entries, maxSize);
}

llvm::Expected<HessianVectorGraph> bp::buildHessianVectorGraph(const Graph &forward, size_t output,
                                                               std::vector<size_t> arguments, size_t maxSize) {
  auto graph = gradientAsOutputs(forward, output, arguments, maxSize);
  if (!graph)
    return graph.takeError();
  size_t count = arguments.size();
  auto tangentGraph = buildTangentGraph(*graph, std::move(arguments));
  if (!tangentGraph)
    return tangentGraph.takeError();
  std::vector<NodeId> products(tangentGraph->outputTangents.begin() + 1,
                               tangentGraph->outputTangents.begin() + 1 + static_cast<ptrdiff_t>(count));
  return HessianVectorGraph{std::move(*tangentGraph), std::move(products)};
}

std::vector<std::vector<double>> bp::evaluateHessianVector(const HessianVectorGraph &hvp, llvm::ArrayRef<double> in,
                                                           llvm::ArrayRef<double> v) {
  std::vector<std::vector<double>> tangents = evaluateTangents(hvp.tangentGraph, in, v);
  return std::vector<std::vector<double>>(std::make_move_iterator(tangents.begin() + 1),
                                          std::make_move_iterator(tangents.end()));
}

Jacobian bp::evaluateGradient(const GradientGraph &gradient, llvm::ArrayRef<double> in) {
  const Graph &graph = gradient.graph;
  std::vector<size_t> rowOffsets = gradient.rowOffsets(), columnOffsets = gradient.columnOffsets();
  size_t width = columnOffsets.back();
  Values values = evaluateGraph(graph, in); // every node once, a tensor output's sweep with its seed 0
  Jacobian result;
  for (const Graph::Output &output : graph.outputs()) {
    llvm::ArrayRef<double> elements = values.tensor(output.node);
    result.out.insert(result.out.end(), elements.begin(), elements.end());
  }
  result.grad.resize(rowOffsets.back() * width);
  for (size_t s = 0; s < gradient.sweeps.size(); ++s) {
    const ReverseSweep &sweep = gradient.sweeps[s];
    std::vector<NodeId> seeded = gradient.seededNodes(sweep);
    for (size_t row = rowOffsets[s]; row < rowOffsets[s + 1]; ++row) {
      if (sweep.seed != InvalidNode) { // one-hot at this row's element
        llvm::MutableArrayRef<double> seed = values.tensor(sweep.seed);
        std::fill(seed.begin(), seed.end(), 0.0);
        seed[row - rowOffsets[s]] = 1;
        for (NodeId id : seeded)
          evaluateNode(graph, id, values);
      }
      for (size_t a = 0; a < sweep.gradient.size(); ++a) {
        llvm::ArrayRef<double> elements = values.tensor(sweep.gradient[a]);
        std::copy(elements.begin(), elements.end(), result.grad.begin() + (row * width + columnOffsets[a]));
      }
    }
  }
  return result;
}
