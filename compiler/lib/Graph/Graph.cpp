//===- Graph.cpp - The IR graph, its text form and its DOT form -----------===//
#include "bp/Graph.h"
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

NodeId Graph::addNode(OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc, double value) {
  assert(operands.size() == getOpInfo(op).arity && "wrong number of operands");
  NodeId id = static_cast<NodeId>(nodes.size());
  for (NodeId operand : operands) {
    (void)operand;
    assert(operand < id && "operands must precede their users");
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

NodeId Graph::addConstant(double value, SourceLoc loc) { return addNode(OpKind::Const, {}, loc, value); }

NodeId Graph::addArgument(OpKind inputOrParam, std::string name, SourceLoc loc, std::optional<double> value) {
  assert((inputOrParam == OpKind::Input || inputOrParam == OpKind::Param) && "not an argument kind");
  NodeId id = addNode(inputOrParam, {}, loc, value.value_or(0));
  nodes[id].hasValue = value.has_value();
  nodes[id].name = name;
  names[name] = id;
  argumentsInOrder.push_back(id);
  return id;
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
  size_t index = 0;
  for (OpKind kind : {OpKind::Input, OpKind::Param})
    for (NodeId argument : argumentsInOrder) {
      if (nodes[argument].op != kind)
        continue;
      if (argument == id)
        return index;
      ++index;
    }
  llvm_unreachable("not an argument of this graph");
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

static std::string describeLeaf(const Node &node) {
  std::string text = getOpInfo(node.op).name;
  if (node.hasValue)
    text += " " + formatNumber(node.value);
  return text;
}

void Graph::print(llvm::raw_ostream &os) const {
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
      line += describeLeaf(node);
    } else {
      line += getOpInfo(node.op).name;
      for (size_t i = 0; i < node.operands.size(); ++i)
        line += (i ? ", " : " ") + label(node.operands[i]);
    }
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

void Graph::printDot(llvm::raw_ostream &os) const {
  std::string fileName = file ? llvm::sys::path::filename(file->name()).str() : std::string("graph");
  os << "digraph \"" << fileName << "\" {\n"
     << "  rankdir=LR;\n"
     << "  node [fontname=\"Helvetica\", fontsize=11];\n";
  auto cluster = [&](const char *id, const char *title, OpKind kind, const char *color) {
    os << "  subgraph cluster_" << id << " {\n    label=\"" << title << "\"; style=dashed;\n";
    for (NodeId arg : argumentsInOrder)
      if (nodes[arg].op == kind)
        os << "    n" << arg << " [label=\"" << label(arg) << "\\n" << describeLeaf(nodes[arg])
           << "\", shape=box, style=filled, fillcolor=\"" << color << "\"];\n";
    os << "  }\n";
  };
  cluster("inputs", "inputs", OpKind::Input, "#d8ecff");
  cluster("params", "params", OpKind::Param, "#ffe6c7");
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const Node &node = nodes[id];
    if (node.op == OpKind::Input || node.op == OpKind::Param)
      continue;
    if (node.op == OpKind::Const) {
      os << "  n" << id << " [label=\"" << formatNumber(node.value) << "\", shape=plaintext];\n";
      continue;
    }
    const OpInfo &info = getOpInfo(node.op);
    bool operatorLike =
        info.syntax == Syntax::Infix || info.syntax == Syntax::InternalInfix || info.syntax == Syntax::Prefix;
    std::string opText = operatorLike ? info.spelling : info.name;
    os << "  n" << id << " [label=\"" << (node.name.empty() ? opText : node.name + "\\n" + opText)
       << "\", shape=ellipse];\n";
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
