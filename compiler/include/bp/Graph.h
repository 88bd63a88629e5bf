//===- Graph.h - The IR graph -----------------------------------*- C++ -*-===//
//
// A script becomes a Graph: a DAG of nodes in topological order (a node's operands always have smaller
// ids), so every pass is a loop over ids, never a recursion whose depth follows the input. Gradient graphs
// (Autodiff.h) are Graphs too, and print and lower the same way.
//
//===----------------------------------------------------------------------===//
#ifndef BP_GRAPH_H
#define BP_GRAPH_H

#include "bp/Ops.h"
#include "bp/Shape.h"
#include "bp/Source.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace bp {

/// The type of a value: f64 elements in a static shape, set when the node is added (from the op's shape
/// rule, resultShape) and checked by Graph::verify.
struct Type {
  Shape shape; // empty: a scalar

  bool isScalar() const { return shape.empty(); }
  std::string str() const;
};

struct Node {
  Node() = default;
  Node(const Node &) = default;
  Node &operator=(const Node &) = default;
  // noexcept, which SmallVector's moves do not promise: a growing std::vector<Node> moves its nodes rather than
  // copying every one (names, attrs, tensor data).
  Node(Node &&) noexcept = default;
  Node &operator=(Node &&) noexcept = default;

  OpKind op;
  llvm::SmallVector<NodeId, 2> operands;
  double value = 0;        // Const: the value; Input: the default; Param: the initial value (scalars)
  bool hasValue = false;   // false only for an input declared without a default
  llvm::SmallVector<int64_t, 0> attrs; // what the op reads besides its operands (Ops.def says, per op); few
                                       // ops have any, so none are stored inline
  std::vector<double> data; // a tensor leaf's value (as `value` above), row-major; empty for scalars
  std::string name;        // empty for intermediate values
  SourceLoc loc;
  Type type;
};
static_assert(std::is_nothrow_move_constructible_v<Node>, "std::vector<Node> must move nodes when it grows");

class Graph;

/// The indices of Index's attrs as the script writes them: "[0, 2]".
std::string formatIndexAttrs(llvm::ArrayRef<int64_t> attrs);

/// The shape of `op` applied to these operands of `graph` with these attrs (the op's shape rule: broadcasting
/// for elementwise ops, matmulShape, reductionShape), or an error that names the operands' shapes.
llvm::Expected<Shape> resultShape(const Graph &graph, OpKind op, llvm::ArrayRef<NodeId> operands,
                                  llvm::ArrayRef<int64_t> attrs);

class Graph {
public:
  struct Output {
    std::string name;
    NodeId node;
    SourceLoc loc;
  };

  explicit Graph(SourceFileRef file = nullptr) : file(std::move(file)) {}

  /// Adds an op on scalars (or a leaf), of shape []. Ops on tensors go through addOp.
  NodeId addNode(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc, double value = 0);
  /// Adds an op with its result shape from resultShape, or returns the shape rule's error (a leaf: a scalar).
  llvm::Expected<NodeId> addOp(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc,
                               llvm::ArrayRef<int64_t> attrs = {});
  NodeId addConstant(double value, SourceLoc loc = {});
  /// Adds a named input (declared with or without a default) or param.
  NodeId addArgument(OpKind inputOrParam, std::string name, SourceLoc loc, std::optional<double> value);
  /// Adds a named tensor input or param of `shape`, with `data` (row-major, elementCount(shape) numbers) as
  /// its default or initial value; an input without a default has none.
  NodeId addTensorArgument(OpKind inputOrParam, std::string name, SourceLoc loc, Shape shape,
                           std::optional<std::vector<double>> data);

  /// Recomputes every node's shape from its operands and attrs and checks it against the node's type, and
  /// every leaf's data against its shape: an error names the first node that differs.
  llvm::Error verify() const;
  /// The nodes after `source`, up to `end`, that depend on it (through their operands), in increasing order.
  std::vector<NodeId> dependents(NodeId source, NodeId end) const;
  /// The first node that is not a scalar or whose op is a tensor op (isTensorOp), if any: a graph without one
  /// is a scalar script (explain and the C header describe tensors only where there are some).
  std::optional<NodeId> firstTensorNode() const;

  const Node &node(NodeId id) const { return nodes[id]; }
  Node &node(NodeId id) { return nodes[id]; }
  size_t size() const { return nodes.size(); }

  /// The arguments of the compiled functions: every input, then every param, each in declaration order.
  std::vector<NodeId> arguments() const;
  /// The position of argument `id` in arguments() (and so in the compiled functions' `in` array), in
  /// logarithmic time.
  size_t argumentIndex(NodeId id) const;
  /// Where each argument starts in the flat `in` array of the compiled functions and of evaluateGraph: each
  /// takes elementCount(shape) consecutive doubles, in arguments() order. One entry per argument, then the
  /// total (so argument #i has offsets[i + 1] - offsets[i] elements).
  std::vector<size_t> argumentOffsets() const;
  /// The same for the flat `out` array: output #o takes elementCount of its node's shape.
  std::vector<size_t> outputOffsets() const;
  /// The script's own values of every argument, flat in argumentOffsets() order: defaults and initial values
  /// (0 for an input declared without a default).
  std::vector<double> argumentDefaults() const;
  /// The same arguments in the order the script declares them.
  const std::vector<NodeId> &declaredArguments() const { return argumentsInOrder; }
  const std::vector<Output> &outputs() const { return outputList; }
  void addOutput(std::string name, NodeId node, SourceLoc loc) {
    outputList.push_back({std::move(name), node, loc});
  }
  /// Drops every output but #index (training compiles the gradient of one output only).
  void keepOnlyOutput(size_t index) { outputList = {outputList[index]}; }

  /// The node a script name refers to (inputs, params and nodes; `node e = d` makes `e` refer to d's node).
  std::optional<NodeId> lookup(const std::string &name) const;
  /// The input or param declared as `name`: nullopt for a node, and for a node that is another name for an
  /// input or param (`node e = a` declares e, which cannot be set, trained or bound in place of a).
  std::optional<NodeId> lookupArgument(const std::string &name) const;
  /// What `name` is, for messages that refuse it as an argument: "a node", "a node (another name for input
  /// 'a')", or "not declared".
  std::string describeNonArgument(const std::string &name) const;
  void bindName(const std::string &name, NodeId node) { names[name] = node; }

  const SourceFileRef &sourceFile() const { return file; }
  /// "%7", or the node's own name when it has one.
  std::string label(NodeId id) const;

  /// What print and printDot add to each node (bpc graph --values): per node id, lines such as `value -1` and
  /// `grad 7`; empty, or shorter than the graph, for none.
  using NodeNotes = std::vector<std::vector<std::string>>;

  /// One node per line: `d: f64 = add a, b  @nested.bp:5:12`, with its notes after the operation
  /// (`d: f64 = add a, b  value -1, grad 7  @nested.bp:5:12`).
  void print(llvm::raw_ostream &os, const NodeNotes &notes = {}) const;
  /// Graphviz DOT, with inputs, params, nodes and outputs drawn apart, a node's notes as lines of its label.
  /// A constant that no node uses is not drawn (a gradient graph's seed and constant derivatives that
  /// simplification left unused), so every node drawn has an edge.
  void printDot(llvm::raw_ostream &os, const NodeNotes &notes = {}) const;

private:
  SourceFileRef file;
  std::vector<Node> nodes;
  std::vector<NodeId> argumentsInOrder;
  std::vector<size_t> inputsDeclared; // per entry of argumentsInOrder: the inputs up to it, itself included
  std::vector<Output> outputList;
  llvm::StringMap<NodeId> names;
};

} // namespace bp

#endif // BP_GRAPH_H
