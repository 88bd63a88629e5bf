//===- Batch.cpp - A training step's rows as one batched graph ------------===//
//
// The batching rules, per op with an operand that a row binds (a "batched" value, of shape [rows] + its
// per-row shape): elementwise ops broadcast, a batched operand of lower rank than the result reshaped to
// [rows, 1.., shape] first; [k] @ [k,n] and [k] @ [k] with a batched left operand are [rows,k] @ [k,n] and
// [rows,k] @ [k]; an op along an axis moves to the next axis, over every element to the axis of the row's
// elements (flattened to [rows, count] and back); a literal index takes the rows whole; a run-time index
// bound by a row reads each row at its own index (dynamic_index with attrs {axis, 1}).
//
//===----------------------------------------------------------------------===//
#include "bp/Batch.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace bp;

namespace {

class Batcher {
public:
  Batcher(const Graph &from, llvm::ArrayRef<size_t> variables, int64_t rows)
      : from(from), variables(variables), rows(rows), to(from.sourceFile()), map(from.size(), InvalidNode),
        batched(from.size(), false), inCone(from.size(), false), trained(from.size(), false), uses(from.size(), 0) {}

  std::optional<BatchedObjective> run(size_t objective, llvm::ArrayRef<size_t> rowTargets);

private:
  const Shape &shape(NodeId id) const { return from.node(id).type.shape; }
  /// Adds `op` to the batched graph (nullopt: the shape rule refused it, which the rules here never make).
  std::optional<NodeId> add(OpKind op, llvm::ArrayRef<NodeId> operands, NodeId at, llvm::ArrayRef<int64_t> attrs);
  std::optional<NodeId> reshape(NodeId value, Shape shape, NodeId at) {
    return add(OpKind::Reshape, {value}, at, shape);
  }
  Shape withRows(llvm::ArrayRef<int64_t> shape) const {
    Shape result{rows};
    result.insert(result.end(), shape.begin(), shape.end());
    return result;
  }
  /// Whether the row loop's sum of the gradient through operand #i of `id` (not batched, `id` batched) is what
  /// the batched graph computes: nothing trained behind it, or a trained variable used there alone, whose
  /// per-row contribution has its own shape (the outer product of `@`, or an elementwise op it is not
  /// broadcast in), summed over the rows by one op in row order.
  bool boundaryIsExact(NodeId id, unsigned i) const;
  std::optional<NodeId> batchNode(NodeId id);
  /// Adds argument `id`, with a leading dimension of `rows` where rows bind it.
  void addArgument(NodeId id, bool rowBound);

  const Graph &from;
  llvm::ArrayRef<size_t> variables;
  int64_t rows;
  Graph to;
  std::vector<NodeId> map;                    // per node of `from`, its node in `to`
  std::vector<bool> batched, inCone, trained; // trained: depends on a trained variable
  std::vector<unsigned> uses;                 // per node, its uses as an operand in the objective's cone
};

std::optional<NodeId> Batcher::add(OpKind op, llvm::ArrayRef<NodeId> operands, NodeId at,
                                   llvm::ArrayRef<int64_t> attrs) {
  auto id = to.addOp(op, operands, from.node(at).loc, attrs);
  if (!id) {
    llvm::consumeError(id.takeError());
    return std::nullopt;
  }
  return *id;
}

bool Batcher::boundaryIsExact(NodeId id, unsigned i) const {
  NodeId operand = from.node(id).operands[i];
  if (!trained[operand])
    return true;
  const Node &leaf = from.node(operand);
  bool isVariable = (leaf.op == OpKind::Input || leaf.op == OpKind::Param) &&
                    llvm::is_contained(variables, from.argumentIndex(operand));
  if (!isVariable || uses[operand] != 1)
    return false;
  OpKind op = from.node(id).op;
  if (op == OpKind::MatMul)
    return i == 1;
  return !isTensorOp(op) && shape(operand) == shape(id);
}

void Batcher::addArgument(NodeId id, bool rowBound) {
  const Node &node = from.node(id);
  batched[id] = rowBound;
  Shape shape = rowBound ? withRows(node.type.shape) : node.type.shape;
  if (shape.empty()) {
    map[id] = to.addArgument(node.op, node.name, node.loc, node.hasValue ? std::optional(node.value) : std::nullopt);
    return;
  }
  std::optional<std::vector<double>> data; // the default, once per row
  if (node.hasValue) {
    std::vector<double> one = node.type.isScalar() ? std::vector<double>{node.value} : node.data;
    data.emplace();
    for (int64_t r = 0; r < (rowBound ? rows : 1); ++r)
      data->insert(data->end(), one.begin(), one.end());
  }
  map[id] = to.addTensorArgument(node.op, node.name, node.loc, std::move(shape), std::move(data));
}

std::optional<NodeId> Batcher::batchNode(NodeId id) {
  const Node &node = from.node(id);
  llvm::SmallVector<NodeId, 3> operands;
  for (NodeId operand : node.operands)
    operands.push_back(map[operand]);
  for (unsigned i = 0; i < node.operands.size(); ++i)
    if (!batched[node.operands[i]] && !boundaryIsExact(id, i))
      return std::nullopt;
  NodeId first = node.operands[0];
  llvm::SmallVector<int64_t, 4> attrs(node.attrs.begin(), node.attrs.end());
  if (!isTensorOp(node.op)) { // elementwise: a batched operand below the result's rank as [rows, 1.., shape]
    size_t rank = node.type.shape.size();
    for (unsigned i = 0; i < node.operands.size(); ++i) {
      const Shape &own = shape(node.operands[i]);
      if (!batched[node.operands[i]] || own.size() == rank)
        continue;
      Shape padded{rows};
      padded.resize(1 + rank - own.size(), 1);
      padded.insert(padded.end(), own.begin(), own.end());
      auto reshaped = reshape(operands[i], padded, id);
      if (!reshaped)
        return std::nullopt;
      operands[i] = *reshaped;
    }
    return add(node.op, operands, id, attrs);
  }
  if (node.op == OpKind::MatMul) { // [rows,k] @ [k,n] or [rows,k] @ [k]
    if (!batched[first] || batched[node.operands[1]] || shape(first).size() != 1)
      return std::nullopt;
    return add(node.op, operands, id, {});
  }
  if (takesAxis(node.op)) {
    if (!attrs.empty())
      return add(node.op, operands, id, {attrs[0] + 1});
    const Shape &own = shape(first); // every element: the row's elements as one axis
    NodeId flat = operands[0];
    if (own.size() != 1) {
      auto reshaped = reshape(flat, {rows, elementCount(own)}, id);
      if (!reshaped)
        return std::nullopt;
      flat = *reshaped;
    }
    auto result = add(node.op, {flat}, id, {1});
    if (!result || !keepsShape(node.op) || own.size() == 1)
      return result;
    return reshape(*result, withRows(own), id);
  }
  if (node.op == OpKind::Index) {
    attrs.insert(attrs.begin(), {IndexSlice, 0, rows});
    return add(node.op, operands, id, attrs);
  }
  if (node.op == OpKind::DynamicIndex && batched[first]) { // one index for every row, or one per row
    llvm::SmallVector<int64_t, 2> shifted{attrs[0] + 1};
    if (batched[node.operands[1]])
      shifted.push_back(1);
    return add(node.op, operands, id, shifted);
  }
  return std::nullopt; // transpose, and a run-time index bound by a row into a value that is not
}

std::optional<BatchedObjective> Batcher::run(size_t objective, llvm::ArrayRef<size_t> rowTargets) {
  std::vector<NodeId> arguments = from.arguments();
  std::vector<size_t> offsets = from.argumentOffsets();
  // Which arguments rows bind: each wholly, or not at all; never a trained one; each element once.
  std::vector<unsigned> bound(offsets.back(), 0);
  for (size_t target : rowTargets)
    if (target >= bound.size() || bound[target]++)
      return std::nullopt;
  BatchedObjective result;
  for (size_t a = 0; a < arguments.size(); ++a) {
    size_t count = offsets[a + 1] - offsets[a];
    auto first = bound.begin() + static_cast<std::ptrdiff_t>(offsets[a]);
    size_t rowBound = static_cast<size_t>(std::count(first, first + static_cast<std::ptrdiff_t>(count), 1u));
    if ((rowBound != 0 && rowBound != count) || (rowBound && llvm::is_contained(variables, a)))
      return std::nullopt;
    result.batched.push_back(rowBound != 0);
    if (llvm::is_contained(variables, a))
      trained[arguments[a]] = true;
  }

  NodeId output = from.outputs()[objective].node;
  inCone[output] = true;
  for (NodeId id = output + 1; id-- > 0;)
    if (inCone[id])
      for (NodeId operand : from.node(id).operands) {
        inCone[operand] = true;
        ++uses[operand];
      }
  for (NodeId id = 0; id < from.size(); ++id) {
    const Node &node = from.node(id);
    if (node.op == OpKind::Input || node.op == OpKind::Param) {
      addArgument(id, result.batched[from.argumentIndex(id)]);
      continue;
    }
    if (!inCone[id])
      continue;
    if (node.op == OpKind::Const) {
      map[id] = to.addConstant(0);
      to.node(map[id]) = node;
      continue;
    }
    trained[id] = llvm::any_of(node.operands, [&](NodeId operand) { return trained[operand]; });
    batched[id] = llvm::any_of(node.operands, [&](NodeId operand) { return batched[operand]; });
    std::optional<NodeId> value =
        batched[id] ? batchNode(id)
                    : add(node.op, llvm::to_vector<3>(llvm::map_range(node.operands, [&](NodeId o) { return map[o]; })),
                          id, node.attrs);
    if (!value)
      return std::nullopt;
    map[id] = *value;
  }
  if (!batched[output] || !from.node(output).type.isScalar())
    return std::nullopt;
  auto total = add(OpKind::Sum, {map[output]}, output, {}); // the rows' objectives from +0, in row order
  if (!total)
    return std::nullopt;
  to.addOutput(from.outputs()[objective].name, *total, from.outputs()[objective].loc);
  result.graph = std::move(to);
  return result;
}

} // namespace

std::optional<BatchedObjective> bp::batchObjective(const Graph &graph, size_t objective,
                                                   llvm::ArrayRef<size_t> rowTargets, llvm::ArrayRef<size_t> variables,
                                                   int64_t rows) {
  if (rows < 1 || rowTargets.empty())
    return std::nullopt;
  return Batcher(graph, variables, rows).run(objective, rowTargets);
}
