//===- Autodiff.h - Reverse-mode differentiation of a graph -----*- C++ -*-===//
//
// buildGradientGraph turns a forward graph into a gradient graph: the forward nodes (same ids), then for
// every output (or those a GradientSelection chooses, by the arguments it chooses) a reverse sweep of backward nodes that compute d output / d argument by the chain rule. Each
// chain-rule step is recorded, so that `bpc explain` can show the local derivative and the product that make
// every adjoint.
//
// Each sweep walks only its output's cone (the nodes the output depends on), so time and memory are linear in
// the forward graph plus the gradient graph, however many outputs a script has.
//
// A tensor output has a Jacobian, of shape output.shape + argument.shape per argument: one row per output
// element. Its sweep is built once, from a seed leaf of the output's shape, and evaluated once per row with the
// seed one-hot (evaluateGradient here, the compiled gradient function's loop in CodeGen), so the gradient graph
// and the code do not grow with the output's size. With a seed given by a caller, the same sweep is a
// vector-Jacobian product.
//
//===----------------------------------------------------------------------===//
#ifndef BP_AUTODIFF_H
#define BP_AUTODIFF_H

#include "bp/Graph.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace bp {

class Values;

/// What an op's local-derivative rule (DerivativeRules.cpp) uses to build its formula inside the gradient graph.
class DerivativeBuilder {
public:
  DerivativeBuilder(Graph &graph, NodeId node) : graph(graph), node(node) {}

  /// The node being differentiated, and its operands.
  NodeId result() const { return node; }
  const Node &resultNode() const { return graph.node(node); }
  NodeId operand(unsigned i) const { return graph.node(node).operands[i]; }

  const Shape &shape(NodeId id) const { return graph.node(id).type.shape; }
  const Node &nodeAt(NodeId id) const { return graph.node(id); }

  NodeId constant(double value) { return graph.addConstant(value, graph.node(node).loc); }
  /// `op` on these operands, of the shape its rule gives (broadcasting, or the attrs of an internal tensor op).
  NodeId apply(OpKind op, llvm::ArrayRef<NodeId> operands, llvm::ArrayRef<int64_t> attrs = {});
  NodeId add(NodeId a, NodeId b) { return apply(OpKind::Add, {a, b}); }
  NodeId sub(NodeId a, NodeId b) { return apply(OpKind::Sub, {a, b}); }
  NodeId mul(NodeId a, NodeId b) { return apply(OpKind::Mul, {a, b}); }
  NodeId div(NodeId a, NodeId b) { return apply(OpKind::Div, {a, b}); }
  NodeId neg(NodeId a) { return apply(OpKind::Neg, {a}); }

private:
  Graph &graph;
  NodeId node;
};

/// The local derivative d(result)/d(operand #operandIndex) of the node `builder` differentiates, whose op is
/// `op`, built as graph nodes by the op's rule (DerivativeRules.cpp). For an elementwise op (not isTensorOp).
NodeId localDerivative(OpKind op, DerivativeBuilder &builder, unsigned operandIndex);

/// The vector-Jacobian product of a tensor op (isTensorOp, the internal ones of gradient graphs included): from
/// `adjoint`, d out/d result with the result's shape, the contribution d out/d result * d result/d operand
/// with the shape of operand #operandIndex (DerivativeRules.cpp), or InvalidNode where the op passes that operand
/// nothing (with_partial: the def's body and the partials). `guard` as in selects: the elementwise products it
/// makes are dmul.
NodeId vectorJacobianProduct(OpKind op, DerivativeBuilder &builder, unsigned operandIndex, NodeId adjoint,
                             bool guard);

/// Whether `op` passes its adjoint on to only some operands, by a selection (relu, abs, max, min, where, and the
/// comparisons, which pass it to none). Past such an op an adjoint may be 0 because a branch was not taken, and
/// the chain rule multiplies with dmul to keep that 0 a 0.
bool selects(OpKind op);

/// One use of the chain rule: `consumer` uses `operand` as its operand #operandIndex, so
///   d out/d operand += d out/d consumer * d consumer/d operand
///                      (adjoint)           (localDerivative)  = product
/// `product` has the operand's shape: where the consumer broadcast the operand, it is summed back (sum_to).
/// A tensor op has no local derivative (InvalidNode): its product is its vectorJacobianProduct.
struct ChainRuleStep {
  NodeId consumer;
  unsigned operandIndex;
  NodeId operand;
  NodeId localDerivative;
  NodeId product;
};

/// The reverse sweep for one output.
struct ReverseSweep {
  size_t output;                    // index into Graph::outputs()
  /// A tensor output's seed, d out/d out: a leaf (an Input that is not an argument, Graph::arguments) of the
  /// output's shape, whose elements the caller sets (one-hot for a row of the Jacobian). InvalidNode for a scalar
  /// output, whose sweep starts from the constant 1.
  NodeId seed = InvalidNode;
  NodeId begin = 0, end = 0;        // the nodes the sweep added to the gradient graph: [begin, end)
  std::vector<ChainRuleStep> steps; // in the order they were taken (consumers from last to first)
  /// (forward node, its adjoint's node) for every node between an argument and the output, from last to first.
  std::vector<std::pair<NodeId, NodeId>> adjoints;
  std::vector<NodeId> gradient;     // per selected argument (GradientSelection::arguments): d output / d argument

  /// The adjoint of forward node `id`, InvalidNode if the sweep did not need one.
  NodeId adjoint(NodeId id) const;
};

/// What to differentiate: some outputs (indices into Graph::outputs) by some arguments (indices into
/// Graph::arguments), each list increasing and without repeats. The gradient's rows are the chosen outputs'
/// elements and its columns the chosen arguments' (GradientGraph::rowOffsets, columnOffsets).
struct GradientSelection {
  std::vector<size_t> outputs, arguments;

  /// Every output by every input and param: the full Jacobian.
  static GradientSelection all(const Graph &forward);
  /// Per selected output, its first row of the gradient, then the number of rows: the selected outputs'
  /// elements, in output order.
  std::vector<size_t> rowOffsets(const Graph &forward) const;
  /// Per selected argument, its first column of the gradient, then the length of a row: the selected
  /// arguments' elements, in Graph::arguments order.
  std::vector<size_t> columnOffsets(const Graph &forward) const;
};

struct GradientGraph {
  Graph graph;                     // forward nodes [0, forwardSize), then backward nodes
  size_t forwardSize = 0;
  std::vector<ReverseSweep> sweeps; // one per selected output, in output order
  GradientSelection selection;      // what was differentiated: a sweep's gradient is per selected argument

  /// The layout of the gradient function's grad (GradientSelection): per sweep its first row, then the rows.
  std::vector<size_t> rowOffsets() const { return selection.rowOffsets(graph); }
  /// Per selected argument its first column, then the length of a row.
  std::vector<size_t> columnOffsets() const { return selection.columnOffsets(graph); }

  /// The nodes of `sweep` that depend on its seed, in increasing order: what is evaluated again for each row of
  /// a tensor output's Jacobian (every other node, forward or backward, once). None for a scalar output.
  std::vector<NodeId> seededNodes(const ReverseSweep &sweep) const;
};

/// The largest gradient bp builds, counted before building it: one per chain-rule step (every edge of every
/// output's cone: an output's sweep walks back over each edge it depends on) plus one per gradient entry (per
/// argument for a scalar output, whose gradient's elements the script's own size bounds; per element of the
/// Jacobian for a tensor output: output elements times argument elements, the doubles its rows take and the
/// work of its sweeps grows with). Each step adds a few nodes to the gradient graph, so this bounds its memory;
/// outputs with overlapping cones make the count grow with outputs times cone size, and the limit turns that
/// into an error instead of exhausting memory. A single scalar output of the largest script (Frontend.h) fits.
constexpr size_t MaxGradientSize = 10'000'000;

/// Differentiates every output with respect to every input and param (the full Jacobian). Fails, without
/// building anything, with a diagnostic at the first output that takes the gradient past `maxSize`.
llvm::Expected<GradientGraph> buildGradientGraph(const Graph &forward, size_t maxSize = MaxGradientSize);
/// Differentiates only the selected outputs by the selected arguments: a sweep per selected output, and
/// adjoints only for nodes on a path from a selected argument to it (the other arguments count as constants).
llvm::Expected<GradientGraph> buildGradientGraph(const Graph &forward, const GradientSelection &selection,
                                                 size_t maxSize = MaxGradientSize);

/// The Hessian of scalar output #output (an index into Graph::outputs) by the arguments `arguments` (indices
/// into Graph::arguments, increasing), reverse over reverse: the output's gradient graph by those arguments,
/// with the output and then each gradient entry d output / d argument as its outputs, differentiated again by
/// the same arguments (every op's derivative rule is itself differentiable). Its selection chooses the gradient
/// entries, so evaluateGradient gives the Hessian as `grad`: a row per element of the chosen arguments, a column
/// per element of the chosen arguments (both in Graph::arguments order), and the output and its gradient as `out`.
llvm::Expected<GradientGraph> buildHessianGraph(const Graph &forward, size_t output, std::vector<size_t> arguments,
                                                size_t maxSize = MaxGradientSize);

/// What the gradient function computes, as the compiled one lays it out: `out`, every output's elements
/// (Graph::outputOffsets), and `grad`, row-major over [output elements][argument elements] (row r: d out[r] /
/// d in[i] for every argument element i, Graph::argumentOffsets). With a selection, only the selected outputs'
/// rows and the selected arguments' columns (GradientGraph::rowOffsets, columnOffsets).
struct Jacobian {
  std::vector<double> out, grad;
};

/// The interpreter's gradient function (Interpreter.h), the reference the compiled one reproduces bit for bit:
/// the forward values and every node that no seed reaches once, then, for each row of a tensor output, its
/// sweep's seeded nodes with the seed one-hot. `in` holds the arguments, flat (Graph::argumentOffsets).
Jacobian evaluateGradient(const GradientGraph &gradient, llvm::ArrayRef<double> in);

/// Forward mode (Forward.cpp): the tangent of node `builder` differentiates, of op `op`, from its operands'
/// tangents (InvalidNode for an operand whose tangent is 0), built as graph nodes by the op's row of
/// TangentRules.cpp: an elementwise op sums local derivative times tangent over its operands, a tensor op applies
/// its own linear map to the tangents. InvalidNode where the tangent is 0 (a comparison's, argmax's).
NodeId tangentOf(OpKind op, DerivativeBuilder &builder, llvm::ArrayRef<NodeId> tangents);
/// Whether TangentRules.cpp has a tangent rule for `op` (every op with operands but those it lists without).
bool hasTangentRule(OpKind op);

/// A forward graph with its tangents: the forward nodes (same ids), a leaf per argument (an Input that is not an
/// argument, Graph::arguments) holding the argument's tangent, of its shape, then the nodes that carry the
/// tangents forward, and an output per forward output, `jvp(NAME)`: J times the tangents, the directional
/// derivative. A node's tangent is built once, from its operands' (tangentOf), so the graph grows with the
/// forward graph, not with the number of outputs or arguments.
struct TangentGraph {
  Graph graph;                        // forward nodes [0, forwardSize), then the tangent leaves and nodes
  size_t forwardSize = 0;
  std::vector<NodeId> tangents;       // per chosen argument, in Graph::arguments order: the leaf of its tangent
  std::vector<NodeId> outputTangents; // per forward output: its tangent (also graph's output #forward outputs + o)
  /// The arguments that have tangents (indices into Graph::arguments, increasing): every one, unless
  /// buildTangentGraph was given some; the others count as constants, with tangent 0 and no leaf.
  std::vector<size_t> arguments;
  std::vector<NodeId> nodeTangents;   // per forward node: its tangent; InvalidNode where it is 0
};

/// Builds `forward`'s tangent graph, or an error at the first node whose op has no tangent rule.
llvm::Expected<TangentGraph> buildTangentGraph(const Graph &forward);
/// The same with tangents for the chosen `arguments` only (indices into Graph::arguments, increasing).
llvm::Expected<TangentGraph> buildTangentGraph(const Graph &forward, std::vector<size_t> arguments);

/// The tangent of every output (per output, its elements row-major) at arguments `in` (flat,
/// Graph::argumentOffsets) along `tangents` (flat, the chosen arguments' elements end to end:
/// GradientSelection::columnOffsets of TangentGraph::arguments), by the interpreter.
std::vector<std::vector<double>> evaluateTangents(const TangentGraph &tangentGraph, llvm::ArrayRef<double> in,
                                                  llvm::ArrayRef<double> tangents);
/// The same evaluation's every node: the forward values and the tangents (TangentGraph::nodeTangents).
Values evaluateTangentGraph(const TangentGraph &tangentGraph, llvm::ArrayRef<double> in,
                            llvm::ArrayRef<double> tangents);

/// Hessian-vector products of scalar output #output (an index into Graph::outputs) by the chosen `arguments`
/// (indices into Graph::arguments, increasing), forward over reverse: the tangent graph (buildTangentGraph, with
/// tangents for those arguments) of the output's gradient graph by those arguments, whose outputs are the output
/// and then each gradient entry d output / d A. Along directions v, the tangent of d output / d A is
/// (H v)_A = sum over B of d2 output / dA dB * v_B: H is never formed, and the graph, like the time to evaluate
/// it, is a small constant times the gradient graph. An ordinary graph: the forward arguments and a tangent leaf
/// per chosen argument (v) in, H v out, as a jvp's.
struct HessianVectorGraph {
  /// Outputs: the output, d output / d A per chosen A, then their tangents: jvp(output), the gradient times v,
  /// and jvp(d output / d A) per chosen A, (H v)_A.
  TangentGraph tangentGraph;
  std::vector<NodeId> products; // per chosen argument A: (H v)_A, of A's shape
};

/// Builds the Hessian-vector products' graph, or the error of the gradient graph (over `maxSize`) or of forward
/// mode.
llvm::Expected<HessianVectorGraph> buildHessianVectorGraph(const Graph &forward, size_t output,
                                                           std::vector<size_t> arguments,
                                                           size_t maxSize = MaxGradientSize);

/// H v per chosen argument (its elements row-major) at arguments `in` (flat, Graph::argumentOffsets) along
/// directions `v` (flat, the chosen arguments' elements end to end, as evaluateTangents), by the interpreter.
std::vector<std::vector<double>> evaluateHessianVector(const HessianVectorGraph &hvp, llvm::ArrayRef<double> in,
                                                       llvm::ArrayRef<double> v);

} // namespace bp

#endif // BP_AUTODIFF_H
