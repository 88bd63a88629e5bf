//===- Simplify.cpp - Dead nodes, common subexpressions, folding ----------===//
#include "bp/Simplify.h"
#include "bp/Interpreter.h"

#include <cmath>
#include <cstring>
#include <unordered_map>

using namespace bp;

namespace {

/// What makes two nodes compute the same value: the op, the operands (in order) and, for constants, the bits.
struct NodeKey {
  static_assert(MaxArity <= 3, "a key holds at most three operands");
  OpKind op;
  NodeId first, second, third;
  uint64_t bits;

  bool operator==(const NodeKey &other) const {
    return op == other.op && first == other.first && second == other.second && third == other.third &&
           bits == other.bits;
  }
};

struct NodeKeyHash {
  size_t operator()(const NodeKey &key) const {
    size_t hash = static_cast<size_t>(key.op);
    for (uint64_t part : {uint64_t(key.first), uint64_t(key.second), uint64_t(key.third), key.bits})
      hash = hash * 0x9E3779B97F4A7C15ull + part + (hash >> 29);
    return hash;
  }
};

class Simplifier {
public:
  explicit Simplifier(const Graph &graph) : graph(graph), simple(graph.sourceFile()) {}

  Graph run(std::vector<NodeId> &roots);

private:
  bool isConstant(NodeId id, double value) const {
    const Node &node = simple.node(id);
    return node.op == OpKind::Const && std::memcmp(&node.value, &value, sizeof value) == 0;
  }
  bool isFiniteNonzeroConstant(NodeId id) const {
    const Node &node = simple.node(id);
    return node.op == OpKind::Const && std::isfinite(node.value) && node.value != 0;
  }
  NodeId constant(double value, SourceLoc loc);
  /// The node for `op` over already-simplified operands: an identity, a folded constant, or a shared node.
  NodeId build(const Node &node, llvm::ArrayRef<NodeId> operands);

  const Graph &graph;
  Graph simple;
  std::unordered_map<NodeKey, NodeId, NodeKeyHash> existing;
};

NodeId Simplifier::constant(double value, SourceLoc loc) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  NodeKey key{OpKind::Const, InvalidNode, InvalidNode, InvalidNode, bits};
  auto found = existing.find(key);
  if (found != existing.end())
    return found->second;
  NodeId id = simple.addConstant(value, loc);
  existing.emplace(key, id);
  return id;
}

NodeId Simplifier::build(const Node &node, llvm::ArrayRef<NodeId> operands) {
  NodeId x = operands.size() > 0 ? operands[0] : InvalidNode;
  NodeId y = operands.size() > 1 ? operands[1] : InvalidNode;
  NodeId z = operands.size() > 2 ? operands[2] : InvalidNode;
  switch (node.op) {
  case OpKind::Mul:
    if (isConstant(y, 1.0))
      return x;
    if (isConstant(x, 1.0))
      return y;
    break;
  case OpKind::Div:
  case OpKind::Pow:
    if (isConstant(y, 1.0))
      return x;
    break;
  case OpKind::Sub:
    if (isConstant(y, 0.0))
      return x;
    break;
  case OpKind::Add:
    if (isConstant(y, -0.0))
      return x;
    if (isConstant(x, -0.0))
      return y;
    break;
  case OpKind::Neg:
    if (simple.node(x).op == OpKind::Neg)
      return simple.node(x).operands[0];
    break;
  case OpKind::Where:
    if (simple.node(x).op == OpKind::Const)
      return simple.node(x).value != 0 ? y : z; // NaN != 0: a NaN condition picks the first branch
    break;
  case OpKind::DMul:
    // dmul(a, b) differs from a * b only where a factor is 0 and the product NaN: never when either factor is
    // a finite nonzero constant. Then it is a plain product (and the identities of Mul apply).
    if (isFiniteNonzeroConstant(x) || isFiniteNonzeroConstant(y)) {
      Node product = node;
      product.op = OpKind::Mul;
      return build(product, operands);
    }
    break;
  default:
    break;
  }

  bool allConstant = true;
  double values[MaxArity] = {};
  for (size_t i = 0; i < operands.size(); ++i) {
    allConstant = allConstant && simple.node(operands[i]).op == OpKind::Const;
    values[i] = simple.node(operands[i]).value;
  }
  if (allConstant)
    return constant(evaluateOp(node.op, values), node.loc);

  NodeKey key{node.op, x, y, z, 0};
  auto found = existing.find(key);
  if (found != existing.end())
    return found->second;
  NodeId id = simple.addNode(node.op, operands, node.loc);
  existing.emplace(key, id);
  return id;
}

Graph Simplifier::run(std::vector<NodeId> &roots) {
  std::vector<bool> needed(graph.size(), false);
  for (NodeId root : roots)
    needed[root] = true;
  for (NodeId id = graph.size(); id-- > 0;)
    if (needed[id])
      for (NodeId operand : graph.node(id).operands)
        needed[operand] = true;

  std::vector<NodeId> map(graph.size(), InvalidNode);
  for (NodeId id : graph.declaredArguments()) {
    const Node &node = graph.node(id);
    map[id] = simple.addArgument(node.op, node.name, node.loc,
                                 node.hasValue ? std::optional<double>(node.value) : std::nullopt);
  }
  llvm::SmallVector<NodeId, 2> operands;
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (!needed[id] || map[id] != InvalidNode)
      continue;
    if (node.op == OpKind::Const) {
      map[id] = constant(node.value, node.loc);
      continue;
    }
    operands.clear();
    for (NodeId operand : node.operands)
      operands.push_back(map[operand]);
    map[id] = build(node, operands);
    Node &built = simple.node(map[id]);
    if (built.name.empty() && built.op != OpKind::Const)
      built.name = node.name;
  }
  for (NodeId &root : roots)
    root = map[root];
  return std::move(simple);
}

} // namespace

Graph bp::simplifyGraph(const Graph &graph, std::vector<NodeId> &roots) { return Simplifier(graph).run(roots); }
