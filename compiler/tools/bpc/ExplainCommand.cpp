//===- ExplainCommand.cpp - bpc explain: backpropagation as a worked example -===//
//
// Prints the forward pass (every node's value, in order) and, for each output, the backward pass: for every
// node on the way back, its local derivatives and the chain-rule products that make each adjoint, with the
// real numbers, the way a tutorial works an example by hand:
//
//   d = a + b
//     local derivatives: dd/da = 1, dd/db = 1
//     df/da = df/dd * dd/da = 7 * 1 = 7
//
// The numbers come from the interpreter (the op table's forward rules), the same values `bpc run` computes.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "bp/Interpreter.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

using namespace bp;

namespace bpc {
namespace {

/// Formulas over graph nodes: forward nodes by their labels (or values), derivative helpers expanded.
class FormulaPrinter {
  using Printed = std::pair<std::string, int>; // text and its precedence

public:
  FormulaPrinter(const Graph &graph, size_t forwardSize, const Values &values)
      : graph(graph), forwardSize(forwardSize), values(values) {}

  /// `node`'s own operation applied to its operands: "a + b", "2 * %4"; with values: "5 + -6".
  std::string operation(NodeId id, bool withValues) const {
    const Node &node = graph.node(id);
    std::vector<Printed> operands;
    for (NodeId operand : node.operands)
      operands.push_back(withValues ? Printed{formatNumber(values[operand]), 5} : reference(operand));
    return apply(getOpInfo(node.op), operands);
  }

  /// A derivative formula: forward nodes appear by label, helper nodes built for it are spelled out.
  std::string formula(NodeId id) const { return expand(id).first; }

  /// Whether a node is a number as written: an unnamed constant, or negations of one (`x ^ -0.5`).
  bool isLiteral(NodeId id) const {
    while (graph.node(id).name.empty() && graph.node(id).op == OpKind::Neg)
      id = graph.node(id).operands[0];
    return graph.node(id).name.empty() && graph.node(id).op == OpKind::Const;
  }

private:
  static std::string apply(const OpInfo &info, const std::vector<Printed> &operands) {
    auto wrap = [&](size_t i, bool tighter) {
      int need = info.precedence + (tighter ? 1 : 0);
      return operands[i].second < need ? "(" + operands[i].first + ")" : operands[i].first;
    };
    switch (info.syntax) {
    case Syntax::Infix:
    case Syntax::InternalInfix: {
      // Left-associative but for ^; comparisons do not chain, so a comparison on either side is parenthesized.
      bool tighterLeft = info.kind == OpKind::Pow || info.precedence == ComparisonPrecedence;
      bool tighterRight = info.kind != OpKind::Pow;
      return wrap(0, tighterLeft) + " " + info.spelling + " " + wrap(1, tighterRight);
    }
    case Syntax::Prefix:
      return std::string(info.spelling) + wrap(0, false);
    case Syntax::Call:
    case Syntax::Index: // tensor ops: explain refuses tensor graphs, so this only keeps the switch whole
    case Syntax::Internal:
    case Syntax::Leaf: {
      std::string text = std::string(info.name) + "(";
      for (size_t i = 0; i < operands.size(); ++i)
        text += (i ? ", " : "") + operands[i].first;
      return text + ")";
    }
    }
    return "";
  }

  /// A node as an operand: a literal by its value, anything else by its label.
  Printed reference(NodeId id) const { return isLiteral(id) ? number(id) : Printed{graph.label(id), 5}; }

  Printed number(NodeId id) const { return {formatNumber(values[id]), std::signbit(values[id]) ? 3 : 5}; }

  Printed expand(NodeId id) const {
    const Node &node = graph.node(id);
    if (id < forwardSize)
      return reference(id);
    if (node.op == OpKind::Const) // by its value, even where it is named as an adjoint too (ds/d%2 = 0)
      return number(id);
    std::vector<Printed> operands;
    for (NodeId operand : node.operands)
      operands.push_back(expand(operand));
    const OpInfo &info = getOpInfo(node.op);
    return {apply(info, operands), info.precedence};
  }

  const Graph &graph;
  size_t forwardSize;
  const Values &values;
};

std::string ordinal(size_t n) {
  static const char *const words[] = {"first", "second", "third", "fourth", "fifth"};
  return n >= 1 && n <= 5 ? words[n - 1] : std::to_string(n) + "th";
}

void printForwardPass(llvm::raw_ostream &os, const GradientGraph &gradient, const FormulaPrinter &printer,
                      const Values &values) {
  const Graph &graph = gradient.graph;
  os << "forward pass: every node's value, from the inputs to the outputs\n";
  for (NodeId id = 0; id < gradient.forwardSize; ++id) {
    const Node &node = graph.node(id);
    std::string value = formatNumber(values[id]);
    switch (node.op) {
    case OpKind::Input:
    case OpKind::Param:
      os << "  " << node.name << " = " << value << "  (" << getOpInfo(node.op).name << ")\n";
      continue;
    case OpKind::Const:
      if (!node.name.empty())
        os << "  " << node.name << " = " << value << "\n";
      continue;
    default:
      if (printer.isLiteral(id))
        continue;
      os << "  " << graph.label(id) << " = " << printer.operation(id, false) << " = "
         << printer.operation(id, true) << " = " << value << '\n';
    }
  }
}

void printBackwardPass(llvm::raw_ostream &os, const Graph &forward, const GradientGraph &gradient,
                       const ReverseSweep &sweep, const FormulaPrinter &printer, const Values &values) {
  const std::string &out = forward.outputs()[sweep.output].name;
  auto adjointName = [&](NodeId id) { return "d" + out + "/d" + forward.label(id); };
  auto localName = [&](const ChainRuleStep &step) {
    return "d" + forward.label(step.consumer) + "/d" + forward.label(step.operand);
  };

  os << "\nbackward pass for " << out << ": the chain rule, from " << out << " back to every input and param\n";
  NodeId outputNode = forward.outputs()[sweep.output].node;
  const Node &output = forward.node(outputNode);
  if (output.op == OpKind::Input || output.op == OpKind::Param) {
    std::string kind = output.op == OpKind::Input ? "input" : "param";
    std::string what = out == output.name ? (output.op == OpKind::Input ? "an input" : "a param")
                                          : "the " + kind + " " + output.name;
    os << "  " << out << " is " << what << ", not computed from anything: " << adjointName(outputNode) << " = 1"
       << (sweep.gradient.size() > 1 ? ", and 0 for every other input and param\n" : "\n");
  } else if (sweep.steps.empty()) {
    os << "  " << out << " does not depend on any input or param: every derivative is 0\n";
  } else {
    os << "  " << adjointName(outputNode) << " = 1  (the seed: " << out << " changes one for one with itself)\n";
  }

  std::map<NodeId, std::vector<const ChainRuleStep *>> uses; // per operand, its contributions in order
  for (const ChainRuleStep &step : sweep.steps)
    uses[step.operand].push_back(&step);
  auto printTotal = [&](NodeId id) {
    const auto &contributions = uses[id];
    if (contributions.size() < 2)
      return;
    os << "  " << adjointName(id) << " = ";
    for (size_t i = 0; i < contributions.size(); ++i)
      os << (i ? " + " : "") << formatNumber(values[contributions[i]->product]);
    os << " = " << formatNumber(values[sweep.adjoint(id)]) << "  (" << forward.label(id) << " is used "
       << contributions.size() << " times: the contributions add up)\n";
  };

  for (size_t i = 0; i < sweep.steps.size();) {
    NodeId consumer = sweep.steps[i].consumer;
    size_t end = i;
    while (end < sweep.steps.size() && sweep.steps[end].consumer == consumer)
      ++end;
    printTotal(consumer);
    os << "  " << forward.label(consumer) << " = " << printer.operation(consumer, false) << '\n';
    os << "    local derivative" << (end - i > 1 ? "s: " : ": ");
    for (size_t k = i; k < end; ++k) {
      const ChainRuleStep &step = sweep.steps[k];
      std::string formula = printer.formula(step.localDerivative);
      std::string value = formatNumber(values[step.localDerivative]);
      os << (k > i ? ", " : "") << localName(step) << " = " << formula;
      if (formula != value)
        os << " = " << value;
    }
    os << '\n';
    for (size_t k = i; k < end; ++k) {
      const ChainRuleStep &step = sweep.steps[k];
      const auto &contributions = uses[step.operand];
      bool shared = contributions.size() > 1;
      os << "    " << adjointName(step.operand) << (shared ? " += " : " = ") << adjointName(step.consumer) << " * "
         << localName(step) << " = " << formatNumber(values[sweep.adjoint(step.consumer)]) << " * "
         << formatNumber(values[step.localDerivative]) << " = " << formatNumber(values[step.product]);
      if (shared) {
        size_t which = std::find(contributions.begin(), contributions.end(), &step) - contributions.begin() + 1;
        os << "  (" << ordinal(which) << " of " << contributions.size() << " uses of "
           << forward.label(step.operand) << ")";
      }
      os << '\n';
    }
    i = end;
  }
  for (NodeId id : forward.declaredArguments())
    printTotal(id);

  os << "gradient of " << out << ":\n";
  for (NodeId id : forward.declaredArguments()) {
    size_t a = forward.argumentIndex(id);
    os << "  " << adjointName(id) << " = " << formatNumber(values[sweep.gradient[a]]) << '\n';
  }
}

} // namespace

int explainCommand(const Options &options) {
  auto graph = loadGraph(options, "bpc explain");
  if (!graph)
    return reportError(graph.takeError());
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;
  auto built = buildGradientGraph(*graph);
  if (!built)
    return reportError(built.takeError());
  const GradientGraph &gradient = *built;
  Values values = evaluateGraph(gradient.graph, *in);
  FormulaPrinter printer(gradient.graph, gradient.forwardSize, values);
  llvm::raw_ostream &os = llvm::outs();
  printForwardPass(os, gradient, printer, values);
  for (const ReverseSweep &sweep : gradient.sweeps)
    printBackwardPass(os, *graph, gradient, sweep, printer, values);
  return ExitSuccess;
}

} // namespace bpc
