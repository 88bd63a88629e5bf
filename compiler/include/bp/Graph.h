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
#include "bp/Source.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bp {

/// The type of a value. Today every value is an f64 scalar; the shape is here so that vectors and matrices
/// can be added without changing every pass.
struct Type {
  std::vector<int64_t> shape; // empty: a scalar

  bool isScalar() const { return shape.empty(); }
  std::string str() const;
};

struct Node {
  OpKind op;
  llvm::SmallVector<NodeId, 2> operands;
  double value = 0;        // Const: the value; Input: the default; Param: the initial value
  bool hasValue = false;   // false only for an input declared without a default
  std::string name;        // empty for intermediate values
  SourceLoc loc;
  Type type;
};

class Graph {
public:
  struct Output {
    std::string name;
    NodeId node;
    SourceLoc loc;
  };

  explicit Graph(SourceFileRef file = nullptr) : file(std::move(file)) {}

  NodeId addNode(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc, double value = 0);
  NodeId addConstant(double value, SourceLoc loc = {});
  /// Adds a named input (declared with or without a default) or param.
  NodeId addArgument(OpKind inputOrParam, std::string name, SourceLoc loc, std::optional<double> value);

  const Node &node(NodeId id) const { return nodes[id]; }
  Node &node(NodeId id) { return nodes[id]; }
  size_t size() const { return nodes.size(); }

  /// The arguments of the compiled functions: every input, then every param, each in declaration order.
  std::vector<NodeId> arguments() const;
  /// The position of argument `id` in arguments() (and so in the compiled functions' `in` array).
  size_t argumentIndex(NodeId id) const;
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

  /// One node per line: `d: f64 = add a, b  @nested.bp:5:12`.
  void print(llvm::raw_ostream &os) const;
  /// Graphviz DOT, with inputs, params, nodes and outputs drawn apart.
  void printDot(llvm::raw_ostream &os) const;

private:
  SourceFileRef file;
  std::vector<Node> nodes;
  std::vector<NodeId> argumentsInOrder;
  std::vector<Output> outputList;
  std::unordered_map<std::string, NodeId> names;
};

} // namespace bp

#endif // BP_GRAPH_H
