//===- Graph.cpp - The IR graph, its text form and its DOT form -----------===//
#include "bp/Graph.h"
#include "bp/Diagnostics.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cassert>

using namespace bp;

std::string Type::str() const {
  std::string text = "f64";
  if (shape.empty())
    return text;
  text += '[';
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "x" : "") + std::to_string(shape[i]);
  return text + ']';
}

/// SumTo and BroadcastTo: `to` (attrs) and the operand's shape broadcast to `to`.
static llvm::Expected<Shape> broadcastTargetShape(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> to) {
  auto broadcast = broadcastShapes(shape, to, "broadcast");
  if (!broadcast)
    return broadcast.takeError();
  if (llvm::ArrayRef<int64_t>(*broadcast) != to)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot broadcast " + formatShape(shape) +
                                                                       " to " + formatShape(to));
  return Shape(to.begin(), to.end());
}

/// The result of a gradient op `name` that places its operand (of `shape`) in zeros of the `source`'s shape where
/// indexing the source reads `indexed`: the source's shape, if the operand has the indexed shape.
static llvm::Expected<Shape> placedShape(const char *name, llvm::ArrayRef<int64_t> shape,
                                         llvm::ArrayRef<int64_t> source, llvm::Expected<Shape> indexed) {
  if (!indexed)
    return indexed.takeError();
  if (llvm::ArrayRef<int64_t>(*indexed) != shape)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), std::string(name) + " of " + formatShape(shape) +
                                                                       " into " + formatShape(source) + " needs " +
                                                                       formatShape(*indexed));
  return Shape(source.begin(), source.end());
}

/// IndexGrad: attrs {rank, the source's dimensions, then Index's attrs}, with the operand of the shape that
/// Index of the source gives.
static llvm::Expected<Shape> indexGradShape(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  if (attrs.empty() || attrs[0] < 0 || static_cast<size_t>(attrs[0]) >= attrs.size())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "index_grad needs its source's shape");
  llvm::ArrayRef<int64_t> source = attrs.slice(1, static_cast<size_t>(attrs[0]));
  return placedShape("index_grad", shape, source, indexShape(source, attrs.drop_front(1 + source.size())));
}

/// DynamicIndexGrad: attrs {axis, the source's dimensions}, with the operand of the shape DynamicIndex of the
/// source gives.
static llvm::Expected<Shape> dynamicIndexGradShape(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  if (attrs.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "dynamic_index_grad needs an axis");
  llvm::ArrayRef<int64_t> source = attrs.drop_front();
  return placedShape("dynamic_index_grad", shape, source, dynamicIndexShape(source, attrs[0]));
}

/// The verb of an elementwise op's broadcasting message: "cannot add [2,3] and [4]: ...".
static const char *broadcastVerb(OpKind op) {
  switch (op) {
  case OpKind::Add:
    return "add";
  case OpKind::Sub:
    return "subtract";
  case OpKind::Mul:
  case OpKind::DMul:
    return "multiply";
  case OpKind::Div:
    return "divide";
  case OpKind::Pow:
    return "raise";
  case OpKind::Max:
    return "take the max of";
  case OpKind::Min:
    return "take the min of";
  case OpKind::Where:
    return "select between";
  default:
    return "compare"; // the comparisons and the internal selectors; unary ops never fail to broadcast
  }
}

llvm::Expected<Shape> bp::resultShape(const Graph &graph, OpKind op, llvm::ArrayRef<NodeId> operands,
                                      llvm::ArrayRef<int64_t> attrs) {
  auto shapeOf = [&](size_t i) -> llvm::ArrayRef<int64_t> { return graph.node(operands[i]).type.shape; };
  assert(!operands.empty() && "a leaf's shape is declared, not computed");
  if (op == OpKind::MatMul)
    return matmulShape(shapeOf(0), shapeOf(1));
  if (takesAxis(op)) {
    std::optional<int64_t> axis = attrs.empty() ? std::nullopt : std::optional<int64_t>(attrs[0]);
    return keepsShape(op) ? alongAxisShape(shapeOf(0), axis) : reductionShape(shapeOf(0), axis);
  }
  if (op == OpKind::Index)
    return indexShape(shapeOf(0), attrs);
  if (op == OpKind::DynamicIndex || op == OpKind::DynamicIndexGrad) {
    // One index per row (dynamic_index's attrs {axis, 1}; dynamic_index_grad's index a vector): an index of
    // shape [rows], the source's first dimension, which the axis is not.
    bool perRow = op == OpKind::DynamicIndex ? attrs.size() == 2 && attrs[1] == 1 : !shapeOf(1).empty();
    llvm::ArrayRef<int64_t> source = op == OpKind::DynamicIndex || attrs.empty() ? shapeOf(0) : attrs.drop_front();
    if (perRow && (attrs.empty() || attrs[0] < 1 || source.empty() || shapeOf(1) != llvm::ArrayRef(source.front())))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "an index per row must be of shape [rows], not " +
                                                                         formatShape(shapeOf(1)));
    if (!perRow && !shapeOf(1).empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "an index must be a scalar, not " + formatShape(shapeOf(1)));
    if (op == OpKind::DynamicIndexGrad)
      return dynamicIndexGradShape(shapeOf(0), attrs);
    if (attrs.size() != (perRow ? 2 : 1))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "dynamic_index needs its axis");
    return dynamicIndexShape(shapeOf(0), attrs[0]);
  }
  if (op == OpKind::SumTo) { // the result's shape (attrs) broadcasts to the operand's
    if (auto error = broadcastTargetShape(attrs, shapeOf(0)).takeError())
      return error;
    return Shape(attrs.begin(), attrs.end());
  }
  if (op == OpKind::BroadcastTo)
    return broadcastTargetShape(shapeOf(0), attrs);
  if (op == OpKind::Reshape) {
    if (elementCount(attrs) != elementCount(shapeOf(0)))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot reshape " + formatShape(shapeOf(0)) +
                                                                         " to " + formatShape(attrs));
    return Shape(attrs.begin(), attrs.end());
  }
  if (op == OpKind::Transpose)
    return transposeShape(shapeOf(0));
  if (op == OpKind::WithPartial) { // value's shape, which broadcasts with partial's and arg's
    if (attrs.size() != 1 || (attrs[0] != 0 && attrs[0] != 1))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "with_partial needs attrs {body}");
    auto product = broadcastShapes(shapeOf(0), shapeOf(2), "multiply");
    if (!product)
      return product.takeError();
    if (auto error = broadcastShapes(*product, shapeOf(1), "multiply").takeError())
      return error;
    return Shape(shapeOf(0).begin(), shapeOf(0).end());
  }
  if (op == OpKind::IndexGrad)
    return indexGradShape(shapeOf(0), attrs);
  // Elementwise: NumPy broadcasting of every operand (where's branches first, then its condition).
  Shape shape = shapeOf(0);
  if (op == OpKind::Where)
    shape = shapeOf(1);
  for (size_t i = 1; i < operands.size(); ++i) {
    size_t next = op == OpKind::Where ? (i == 1 ? 2 : 0) : i;
    auto broadcast = broadcastShapes(shape, shapeOf(next), broadcastVerb(op));
    if (!broadcast)
      return broadcast.takeError();
    shape = std::move(*broadcast);
  }
  return shape;
}

NodeId Graph::addNode(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc, double value) {
  assert(operands.size() == getOpInfo(op).arity && "wrong number of operands");
  NodeId id = static_cast<NodeId>(nodes.size());
  for (NodeId operand : operands) {
    (void)operand;
    assert(operand < id && "operands must precede their users");
    assert(nodes[operand].type.isScalar() && "addNode builds scalar ops; ops on tensors go through addOp");
  }
  Node node;
  node.op = op;
  node.operands.assign(operands.begin(), operands.end());
  node.value = value;
  node.hasValue = op == OpKind::Const || op == OpKind::Param;
  node.loc = loc;
  nodes.push_back(std::move(node));
  return id;
}

llvm::Expected<NodeId> Graph::addOp(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc,
                                    llvm::ArrayRef<int64_t> attrs) {
  assert(operands.size() == getOpInfo(op).arity && "wrong number of operands");
  if (operands.empty())
    return addNode(op, {}, loc); // a scalar leaf
  auto shape = resultShape(*this, op, operands, attrs);
  if (!shape)
    return shape.takeError();
  NodeId id = static_cast<NodeId>(nodes.size());
  Node node;
  node.op = op;
  node.operands.assign(operands.begin(), operands.end());
  node.attrs.assign(attrs.begin(), attrs.end());
  node.loc = loc;
  node.type.shape = std::move(*shape);
  nodes.push_back(std::move(node));
  return id;
}

NodeId Graph::addConstant(double value, SourceLoc loc) { return addNode(OpKind::Const, {}, loc, value); }

NodeId Graph::addArgument(OpKind inputOrParam, std::string name, SourceLoc loc, std::optional<double> value) {
  assert((inputOrParam == OpKind::Input || inputOrParam == OpKind::Param) && "not an argument kind");
  NodeId id = addNode(inputOrParam, {}, loc, value.value_or(0));
  nodes[id].hasValue = value.has_value();
  nodes[id].name = name;
  names[name] = id;
  argumentsInOrder.push_back(id);
  inputsDeclared.push_back((inputsDeclared.empty() ? 0 : inputsDeclared.back()) + (inputOrParam == OpKind::Input));
  return id;
}

NodeId Graph::addTensorArgument(OpKind inputOrParam, std::string name, SourceLoc loc, Shape shape,
                                std::optional<std::vector<double>> data) {
  assert((!data || data->size() == static_cast<size_t>(elementCount(shape))) && "one number per element");
  NodeId id = addArgument(inputOrParam, std::move(name), loc, data ? std::optional<double>(0) : std::nullopt);
  nodes[id].type.shape = std::move(shape);
  if (data)
    nodes[id].data = std::move(*data);
  return id;
}

static llvm::Error verifyError(const Graph &graph, NodeId id, const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "graph node " + graph.label(id) + " (" + getOpInfo(graph.node(id).op).name +
                                     "): " + message);
}

std::vector<NodeId> Graph::dependents(NodeId source, NodeId end) const {
  std::vector<NodeId> ids;
  std::vector<bool> depends(end - source, false);
  depends[0] = true;
  for (NodeId id = source + 1; id < end; ++id) {
    depends[id - source] = llvm::any_of(node(id).operands, [&](NodeId operand) {
      return operand >= source && depends[operand - source];
    });
    if (depends[id - source])
      ids.push_back(id);
  }
  return ids;
}

llvm::Error Graph::verify() const {
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const Node &node = nodes[id];
    if (node.operands.size() != getOpInfo(node.op).arity)
      return verifyError(*this, id, "has " + std::to_string(node.operands.size()) + " operands");
    for (NodeId operand : node.operands)
      if (operand >= id)
        return verifyError(*this, id, "uses %" + std::to_string(operand) + ", which does not precede it");
    if (node.operands.empty()) {
      size_t expected = node.hasValue && !node.type.isScalar() ? static_cast<size_t>(elementCount(node.type.shape)) : 0;
      if (node.data.size() != expected)
        return verifyError(*this, id, "holds " + std::to_string(node.data.size()) + " numbers for shape " +
                                          formatShape(node.type.shape));
      continue;
    }
    auto shape = resultShape(*this, node.op, node.operands, node.attrs);
    if (!shape)
      return verifyError(*this, id, llvm::toString(shape.takeError()));
    if (*shape != node.type.shape)
      return verifyError(*this, id, "has shape " + formatShape(node.type.shape) + ", but its operands give " +
                                        formatShape(*shape));
  }
  return llvm::Error::success();
}

std::optional<NodeId> Graph::firstTensorNode() const {
  for (NodeId id = 0; id < nodes.size(); ++id)
    if (!nodes[id].type.isScalar() || isTensorOp(nodes[id].op))
      return id;
  return std::nullopt;
}

std::vector<size_t> Graph::argumentOffsets() const {
  std::vector<size_t> offsets{0};
  for (NodeId id : arguments())
    offsets.push_back(offsets.back() + static_cast<size_t>(elementCount(nodes[id].type.shape)));
  return offsets;
}

std::vector<size_t> Graph::outputOffsets() const {
  std::vector<size_t> offsets{0};
  for (const Output &output : outputList)
    offsets.push_back(offsets.back() + static_cast<size_t>(elementCount(nodes[output.node].type.shape)));
  return offsets;
}

std::vector<NodeId> Graph::arguments() const {
  std::vector<NodeId> result;
  for (OpKind kind : {OpKind::Input, OpKind::Param})
    for (NodeId id : argumentsInOrder)
      if (nodes[id].op == kind)
        result.push_back(id);
  return result;
}

size_t Graph::argumentIndex(NodeId id) const {
  // Arguments are declared in increasing id order: find id's place, then count the inputs declared before it.
  auto at = std::lower_bound(argumentsInOrder.begin(), argumentsInOrder.end(), id);
  if (at == argumentsInOrder.end() || *at != id)
    llvm_unreachable("not an argument of this graph");
  size_t position = static_cast<size_t>(at - argumentsInOrder.begin());
  size_t inputsThrough = inputsDeclared[position];
  if (nodes[id].op == OpKind::Input)
    return inputsThrough - 1;
  return inputsDeclared.back() + (position - inputsThrough); // every input, then the params declared before
}

std::optional<NodeId> Graph::lookup(const std::string &name) const {
  auto it = names.find(name);
  if (it == names.end())
    return std::nullopt;
  return it->second;
}

std::optional<NodeId> Graph::lookupArgument(const std::string &name) const {
  std::optional<NodeId> id = lookup(name);
  if (!id || nodes[*id].name != name || (nodes[*id].op != OpKind::Input && nodes[*id].op != OpKind::Param))
    return std::nullopt;
  return id;
}

std::string Graph::describeNonArgument(const std::string &name) const {
  std::optional<NodeId> id = lookup(name);
  if (!id)
    return "not declared";
  const Node &node = nodes[*id];
  if (node.op == OpKind::Input || node.op == OpKind::Param)
    return std::string("a node (another name for ") + getOpInfo(node.op).name + " '" + node.name + "')";
  return "a node";
}

std::string Graph::label(NodeId id) const {
  const std::string &name = nodes[id].name;
  return name.empty() ? "%" + std::to_string(id) : name;
}

/// A leaf's kind and its value as declared: "input 5"; only its kind where notes show its value.
static std::string describeLeaf(const Node &node, bool noted = false) {
  std::string text = getOpInfo(node.op).name;
  if (node.hasValue && !noted)
    text += " " + (node.type.isScalar() ? formatNumber(node.value)
                                        : formatTensor(node.data, node.type.shape, /*summarize=*/true));
  return text;
}

std::string bp::formatIndexAttrs(llvm::ArrayRef<int64_t> attrs) {
  std::string text = "[";
  for (size_t d = 0; d * 3 < attrs.size(); ++d) {
    const int64_t *item = &attrs[d * 3];
    text += (d ? ", " : "") + std::to_string(item[1]);
    if (item[0] == IndexSlice)
      text += ":" + std::to_string(item[2]);
  }
  return text + "]";
}

/// A node's attrs as they print after its op: "axis=1" for a reduction over one axis or a run-time index,
/// "[0, 1:3]" for literal indexing and for index_grad (where it places its operand).
static std::string describeAttrs(const Node &node) {
  if ((takesAxis(node.op) || node.op == OpKind::DynamicIndex) && !node.attrs.empty())
    return "axis=" + std::to_string(node.attrs[0]);
  if (node.op == OpKind::IndexGrad)
    return formatIndexAttrs(llvm::ArrayRef(node.attrs).drop_front(1 + static_cast<size_t>(node.attrs[0])));
  if (node.op != OpKind::Index)
    return "";
  return formatIndexAttrs(node.attrs);
}

/// "\n[1,3]": the shape line of a tensor's DOT label; nothing for a scalar.
static std::string dotShape(const Node &node) {
  return node.type.isScalar() ? "" : "\\n" + formatShape(node.type.shape);
}

/// Node `id`'s notes joined by `separator`, after `separator`; nothing where it has none.
static bool hasNotes(const Graph::NodeNotes &notes, NodeId id) { return id < notes.size() && !notes[id].empty(); }

static std::string joinNotes(const Graph::NodeNotes &notes, NodeId id, const char *separator) {
  std::string text;
  if (id < notes.size())
    for (const std::string &note : notes[id])
      text += separator + note;
  return text;
}

void Graph::print(llvm::raw_ostream &os, const NodeNotes &notes) const {
  std::string fileName = file ? llvm::sys::path::filename(file->name()).str() : std::string("<graph>");
  size_t inputs = 0, params = 0;
  for (NodeId id : argumentsInOrder)
    (nodes[id].op == OpKind::Input ? inputs : params)++;
  os << "# " << fileName << ": " << inputs << (inputs == 1 ? " input, " : " inputs, ") << params
     << (params == 1 ? " param, " : " params, ") << nodes.size() - inputs - params
     << (nodes.size() - inputs - params == 1 ? " node, " : " nodes, ") << outputList.size()
     << (outputList.size() == 1 ? " output\n" : " outputs\n");

  std::vector<std::string> lines;
  lines.reserve(nodes.size());
  size_t width = 0;
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const Node &node = nodes[id];
    std::string line = label(id) + ": " + node.type.str() + " = ";
    if (node.operands.empty()) {
      line += describeLeaf(node, hasNotes(notes, id));
    } else {
      line += getOpInfo(node.op).name;
      for (size_t i = 0; i < node.operands.size(); ++i)
        line += (i ? ", " : " ") + label(node.operands[i]);
      if (std::string attrs = describeAttrs(node); !attrs.empty())
        line += ", " + attrs;
    }
    if (std::string noted = joinNotes(notes, id, ", "); !noted.empty())
      line += "  " + noted.substr(2);
    width = std::max(width, std::min<size_t>(line.size(), 48));
    lines.push_back(std::move(line));
  }
  for (NodeId id = 0; id < nodes.size(); ++id) {
    os << lines[id];
    if (nodes[id].loc.isValid())
      os.indent(width + 2 - std::min(width, lines[id].size()))
          << '@' << fileName << ':' << nodes[id].loc.line << ':' << nodes[id].loc.column;
    os << '\n';
  }
  for (const Output &output : outputList) {
    os << "output " << output.name;
    if (label(output.node) != output.name)
      os << " = " << label(output.node);
    os << '\n';
  }
}

void Graph::printDot(llvm::raw_ostream &os, const NodeNotes &notes) const {
  std::string fileName = file ? llvm::sys::path::filename(file->name()).str() : std::string("graph");
  os << "digraph \"" << fileName << "\" {\n"
     << "  rankdir=LR;\n"
     << "  node [fontname=\"Helvetica\", fontsize=11];\n";
  auto cluster = [&](const char *id, const char *title, OpKind kind, const char *color) {
    os << "  subgraph cluster_" << id << " {\n    label=\"" << title << "\"; style=dashed;\n";
    for (NodeId arg : argumentsInOrder)
      if (nodes[arg].op == kind)
        os << "    n" << arg << " [label=\"" << label(arg) << "\\n" << describeLeaf(nodes[arg], hasNotes(notes, arg))
           << dotShape(nodes[arg]) << joinNotes(notes, arg, "\\n") << "\", shape=box, style=filled, fillcolor=\""
           << color << "\"];\n";
    os << "  }\n";
  };
  std::vector<bool> used(nodes.size(), false);
  for (const Node &node : nodes)
    for (NodeId operand : node.operands)
      used[operand] = true;
  for (const Output &output : outputList)
    used[output.node] = true;
  cluster("inputs", "inputs", OpKind::Input, "#d8ecff");
  cluster("params", "params", OpKind::Param, "#ffe6c7");
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const Node &node = nodes[id];
    if (node.op == OpKind::Input || node.op == OpKind::Param)
      continue;
    if (node.op == OpKind::Const) {
      if (used[id])
        os << "  n" << id << " [label=\"" << formatNumber(node.value) << "\", shape=plaintext];\n";
      continue;
    }
    const OpInfo &info = getOpInfo(node.op);
    bool operatorLike =
        info.syntax == Syntax::Infix || info.syntax == Syntax::InternalInfix || info.syntax == Syntax::Prefix;
    std::string opText = operatorLike ? info.spelling : info.name;
    os << "  n" << id << " [label=\"" << (node.name.empty() ? opText : node.name + "\\n" + opText)
       << (describeAttrs(node).empty() ? "" : " " + describeAttrs(node)) << dotShape(node)
       << joinNotes(notes, id, "\\n") << "\", shape=ellipse];\n";
    for (size_t i = 0; i < node.operands.size(); ++i) {
      os << "  n" << node.operands[i] << " -> n" << id;
      if (node.operands.size() >= 2 && info.syntax != Syntax::Internal)
        os << " [taillabel=\"" << i << "\", labelfontsize=8]";
      os << ";\n";
    }
  }
  os << "  subgraph cluster_outputs {\n    label=\"outputs\"; style=dashed;\n";
  for (size_t i = 0; i < outputList.size(); ++i)
    os << "    out" << i << " [label=\"" << outputList[i].name
       << "\", shape=doubleoctagon, style=filled, fillcolor=\"#d9f2d9\"];\n";
  os << "  }\n";
  for (size_t i = 0; i < outputList.size(); ++i)
    os << "  n" << outputList[i].node << " -> out" << i << ";\n";
  os << "}\n";
}

std::vector<double> Graph::argumentDefaults() const {
  std::vector<double> values;
  for (NodeId id : arguments()) {
    const Node &node = nodes[id];
    if (node.type.isScalar())
      values.push_back(node.value);
    else if (node.hasValue)
      values.insert(values.end(), node.data.begin(), node.data.end());
    else // a tensor input declared without a value: zeros, as a scalar one's 0
      values.resize(values.size() + static_cast<size_t>(elementCount(node.type.shape)), 0.0);
  }
  return values;
}
