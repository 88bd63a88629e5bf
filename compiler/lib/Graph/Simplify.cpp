//===- Simplify.cpp - Dead nodes, common subexpressions, folding ----------===//
#include "bp/Simplify.h"
#include "bp/Interpreter.h"
#include "bp/PhaseTimes.h"

#include "llvm/ADT/STLExtras.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <unordered_map>

using namespace bp;

namespace {

/// What makes two nodes compute the same value: the op, the operands (in order), for a scalar constant its bits,
/// and `extra`: the attrs (two indexings of one tensor at different places differ), or for a tensor constant its
/// rank, dimensions and the bits of every element. Scalar nodes have no extra, so keys of scalar graphs allocate
/// nothing.
struct NodeKey {
  static_assert(MaxArity <= 3, "a key holds at most three operands");
  OpKind op;
  NodeId first, second, third;
  uint64_t bits;
  std::vector<int64_t> extra;

  bool operator==(const NodeKey &other) const {
    return op == other.op && first == other.first && second == other.second && third == other.third &&
           bits == other.bits && extra == other.extra;
  }
};

struct NodeKeyHash {
  size_t operator()(const NodeKey &key) const {
    size_t hash = static_cast<size_t>(key.op);
    auto mix = [&](uint64_t part) { hash = hash * 0x9E3779B97F4A7C15ull + part + (hash >> 29); };
    for (uint64_t part : {uint64_t(key.first), uint64_t(key.second), uint64_t(key.third), key.bits})
      mix(part);
    for (int64_t part : key.extra)
      mix(static_cast<uint64_t>(part));
    return hash;
  }
};

uint64_t bitsOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

/// Whether `node` is a constant whose every element (the one of a scalar) satisfies `holds`.
template <typename Predicate> bool isConstantWhere(const Node &node, Predicate holds) {
  if (node.op != OpKind::Const)
    return false;
  if (node.type.isScalar())
    return holds(node.value);
  return llvm::all_of(node.data, holds);
}

class Simplifier {
public:
  explicit Simplifier(const Graph &graph) : graph(graph), simple(graph.sourceFile()) {
    existing.reserve(graph.size()); // at most one entry per node: the table never rehashes
  }

  Graph run(std::vector<NodeId> &roots);

private:
  /// A constant equal to `value` bit for bit, in every element.
  bool isConstant(NodeId id, double value) const {
    return isConstantWhere(simple.node(id), [&](double element) { return bitsOf(element) == bitsOf(value); });
  }
  bool isFiniteNonzeroConstant(NodeId id) const {
    return isConstantWhere(simple.node(id), [](double element) { return std::isfinite(element) && element != 0; });
  }
  /// A copy of constant `node` (a scalar or a tensor), shared with an equal one made before.
  NodeId constant(const Node &node);
  /// The node for `op` over already-simplified operands: an identity, a folded constant, or a shared node.
  NodeId build(const Node &node, llvm::ArrayRef<NodeId> operands);

  const Graph &graph;
  Graph simple;
  std::unordered_map<NodeKey, NodeId, NodeKeyHash> existing;
};

NodeId Simplifier::constant(const Node &node) {
  NodeKey key{OpKind::Const, InvalidNode, InvalidNode, InvalidNode, bitsOf(node.value), {}};
  if (!node.type.isScalar()) {
    key.extra.push_back(static_cast<int64_t>(node.type.shape.size()));
    key.extra.insert(key.extra.end(), node.type.shape.begin(), node.type.shape.end());
    for (double element : node.data)
      key.extra.push_back(static_cast<int64_t>(bitsOf(element)));
  }
  auto found = existing.find(key);
  if (found != existing.end())
    return found->second;
  NodeId id = simple.addConstant(node.value, node.loc);
  simple.node(id).type = node.type;
  simple.node(id).data = node.data;
  existing.emplace(std::move(key), id);
  return id;
}

NodeId Simplifier::build(const Node &node, llvm::ArrayRef<NodeId> operands) {
  NodeId x = operands.size() > 0 ? operands[0] : InvalidNode;
  NodeId y = operands.size() > 1 ? operands[1] : InvalidNode;
  NodeId z = operands.size() > 2 ? operands[2] : InvalidNode;
  // An identity gives an operand only where that has the result's shape: x + (-0) is not x where the -0 is a
  // tensor and x a scalar (the sum broadcasts x), nor is where(1, x, v) for a vector v.
  auto keeps = [&](NodeId operand) { return simple.node(operand).type.shape == node.type.shape; };
  switch (node.op) {
  case OpKind::Mul:
    if (isConstant(y, 1.0) && keeps(x))
      return x;
    if (isConstant(x, 1.0) && keeps(y))
      return y;
    break;
  case OpKind::Div:
  case OpKind::Pow:
    if (isConstant(y, 1.0) && keeps(x))
      return x;
    break;
  case OpKind::Sub:
    if (isConstant(y, 0.0) && keeps(x))
      return x;
    break;
  case OpKind::Add:
    if (isConstant(y, -0.0) && keeps(x))
      return x;
    if (isConstant(x, -0.0) && keeps(y))
      return y;
    break;
  case OpKind::Neg:
    if (simple.node(x).op == OpKind::Neg)
      return simple.node(x).operands[0];
    break;
  case OpKind::Where: {
    // A constant condition picks a branch: one number for every element (a tensor condition may pick per
    // element, so it is left as it is).
    const Node &condition = simple.node(x);
    if (condition.op != OpKind::Const || !condition.type.isScalar())
      break;
    NodeId taken = condition.value != 0 ? y : z; // NaN != 0: a NaN condition picks the first branch
    if (keeps(taken))
      return taken;
    break;
  }
  case OpKind::WithPartial: // a def's stated derivative, for a graph differentiated again: its value here
    return x;
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

  // Folding: a scalar op on scalar constants, by the op table's forward rule. Tensors are left to run time
  // (folding zeros of a large shape would store every element in the graph).
  bool scalars = !isTensorOp(node.op) && node.attrs.empty();
  bool allConstant = true;
  double values[MaxArity] = {};
  for (size_t i = 0; i < operands.size(); ++i) {
    const Node &operand = simple.node(operands[i]);
    scalars = scalars && operand.type.isScalar();
    allConstant = allConstant && operand.op == OpKind::Const;
    values[i] = operand.value;
  }
  if (scalars && allConstant) {
    Node folded;
    folded.op = OpKind::Const;
    folded.value = evaluateOp(node.op, values);
    folded.loc = node.loc;
    return constant(folded);
  }

  NodeKey key{node.op, x, y, z, 0, {node.attrs.begin(), node.attrs.end()}};
  auto found = existing.find(key);
  if (found != existing.end())
    return found->second;
  NodeId id = scalars ? simple.addNode(node.op, operands, node.loc)
                      : llvm::cantFail(simple.addOp(node.op, operands, node.loc, node.attrs));
  existing.emplace(std::move(key), id);
  return id;
}

Graph Simplifier::run(std::vector<NodeId> &roots) {
  std::vector<bool> needed(graph.size(), false);
  for (NodeId root : roots)
    needed[root] = true;
  for (NodeId id = graph.size(); id-- > 0;)
    if (needed[id])
      for (NodeId operand : graph.node(id).operands) {
        needed[operand] = true;
        if (graph.node(id).op == OpKind::WithPartial) // its value alone: the partials only differentiate
          break;
      }

  std::vector<NodeId> map(graph.size(), InvalidNode);
  for (NodeId id : graph.declaredArguments()) {
    const Node &node = graph.node(id);
    if (node.type.isScalar())
      map[id] = simple.addArgument(node.op, node.name, node.loc,
                                   node.hasValue ? std::optional<double>(node.value) : std::nullopt);
    else
      map[id] = simple.addTensorArgument(node.op, node.name, node.loc, node.type.shape,
                                         node.hasValue ? std::optional(node.data) : std::nullopt);
  }
  llvm::SmallVector<NodeId, 2> operands;
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (!needed[id] || map[id] != InvalidNode)
      continue;
    if (node.op == OpKind::Const) {
      map[id] = constant(node);
      continue;
    }
    if (node.operands.empty()) { // a leaf that is not an argument, a tensor output's seed: kept as it is, unshared
      map[id] = simple.addNode(node.op, {}, node.loc);
      simple.node(map[id]).type = node.type;
      simple.node(map[id]).name = node.name;
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
  assert(!llvm::errorToBool(simple.verify()) && "simplifying keeps every node's shape");
  return std::move(simple);
}

} // namespace

Graph bp::simplifyGraph(const Graph &graph, std::vector<NodeId> &roots) {
  PhaseTimer timer("simplify");
  return Simplifier(graph).run(roots);
}
