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
// Tensors: in a script with tensors every forward line carries its node's shape, and values print as NumPy
// prints them (summarized above 1,000 elements). Elementwise ops keep their local derivatives, summed over the
// dimensions where the op broadcast the operand; the other tensor ops print their vector-Jacobian products as
// formulas over the script's names (`dloss/dW = X^T @ dloss/dy`).
//
// With --jvp X=T,... the forward pass is followed by the tangent pass of forward mode instead of the backward
// passes: for every node in evaluation order its tangent dN (how fast it moves along the tangents) by its op's
// tangent rule, with the numbers, then every output's J t:
//
//   df = c * dd + d * dc = 7 * 1 + -1 * 0 = 7
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "bp/Diagnostics.h"
#include "bp/Interpreter.h"
#include "bp/NumberFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>
#include <cmath>
#include <map>
#include <set>

using namespace bp;

namespace bpc {
namespace {

/// Formulas over graph nodes: forward nodes by their labels (or values), derivative helpers expanded.
///
/// A forward node without a name is labelled by its expression in source syntax, over the names and the labels
/// of its operands (`x * y`, `sin(x)`): the graph's rendering, so an inlined def's body reads as what it
/// computes. A label over MaxSpelledLabel characters, or one that an earlier node already has (the same
/// subexpression written twice), falls back to the graph's `%N`, which the forward pass then defines.
///
/// A negative number is an operand of unary minus's precedence (`7 ^ (-0.5)`, `(-2) ^ 2`), and a minus sign never
/// follows another: `-(-1)`, `5 - (-6)`; elsewhere it stands as it is (`5 + -6`, `-1 * 7`).
class FormulaPrinter {
  using Printed = std::pair<std::string, int>; // text and its precedence

public:
  static constexpr size_t MaxSpelledLabel = 30;

  FormulaPrinter(const Graph &graph, size_t forwardSize, const Values &values)
      : graph(graph), forwardSize(forwardSize), values(values), labels(forwardSize), spelled(forwardSize) {
    std::set<std::string> taken;
    for (NodeId id = 0; id < forwardSize; ++id) { // operands first: no recursion over the graph's depth
      const Node &node = graph.node(id);
      if (!node.name.empty() || isLiteral(id) || node.op == OpKind::Input || node.op == OpKind::Param ||
          node.op == OpKind::Const) {
        labels[id] = {graph.label(id), 5};
        continue;
      }
      Printed text{operation(id, false), getOpInfo(node.op).precedence};
      spelled[id] = text.first.size() <= MaxSpelledLabel && taken.insert(text.first).second;
      labels[id] = spelled[id] ? text : Printed{graph.label(id), 5};
    }
  }

  /// What the passes call forward node `id`: its name, its expression (`x * y`) or `%N`.
  const std::string &name(NodeId id) const { return labels[id].first; }
  /// The same inside a derivative's name, where an expression is parenthesized: `dz/d(x * y)`, `d(sin(x))`.
  std::string label(NodeId id) const { return spelled[id] ? "(" + name(id) + ")" : name(id); }
  /// Whether `id` is labelled by its expression (which a line then need not repeat as its operation).
  bool isSpelled(NodeId id) const { return spelled[id]; }

  /// A node's value: the number, or the tensor summarized as NumPy does above 1,000 elements.
  std::string value(NodeId id) const {
    const Shape &shape = graph.node(id).type.shape;
    return shape.empty() ? formatNumber(values[id]) : formatTensor(values.tensor(id), shape, /*summarize=*/true);
  }

  /// A scalar node's value.
  double scalar(NodeId id) const { return values[id]; }

  /// `node`'s own operation applied to its operands: "a + b", "2 * %4", "yo[0, 0]"; with values: "5 + -6".
  std::string operation(NodeId id, bool withValues) const {
    const Node &node = graph.node(id);
    std::vector<Printed> operands;
    for (NodeId operand : node.operands)
      operands.push_back(withValues ? number(operand) : reference(operand));
    return apply(node, operands);
  }

  /// What a formula calls some nodes (a name, or a value), before anything else; nullopt for the others.
  using Rename = llvm::function_ref<std::optional<std::string>(NodeId)>;

  /// A derivative formula: forward nodes appear by label, `adjoint` (if any) as `adjointName`, and helper nodes
  /// built for it are spelled out.
  std::string formula(NodeId id, NodeId adjoint = InvalidNode, const std::string &adjointName = "") const {
    return expand(id, [&](NodeId node) -> std::optional<std::string> {
             if (node == adjoint)
               return adjointName;
             return std::nullopt;
           }).first;
  }

  /// Helper node `id`'s own operation on its operands, each spelled out as in formula but with the nodes that
  /// `rename` names by those names: "c * dd + d * dc".
  std::string formula(NodeId id, Rename rename) const {
    std::vector<Printed> operands;
    for (NodeId operand : graph.node(id).operands)
      operands.push_back(expand(operand, rename));
    return apply(graph.node(id), operands);
  }

  /// Why scalar node `id`'s value is NaN or infinite: the computations where that starts, with their numbers
  /// ("0.5 / 0 = inf, then 0 * inf = nan"), or where `id` itself is the first, what its line shows happening
  /// ("0 * inf is undefined", "division by 0"); a forward node that is not finite is named ("z is nan"). A
  /// value that comes as it is from a node that `rename` names (an earlier line's) gives no reason: "" then, as
  /// for a finite value or a tensor.
  std::string whyNotFinite(NodeId id, Rename rename) const {
    Origins origins{rename, id, {}, {}};
    collectOrigins(id, origins, 0);
    std::string self = operation(id, true);
    if (origins.found.size() != 1 || origins.found[0] != self + " = " + value(id))
      return llvm::join(origins.found, ", then ");
    const Node &node = graph.node(id);
    if (std::isnan(values[id]))
      return self + " is undefined";
    if (node.op == OpKind::Div && values[node.operands[1]] == 0)
      return "division by 0";
    bool overflow = llvm::all_of(node.operands, [&](NodeId operand) { return std::isfinite(values[operand]); }) &&
                    llvm::is_contained({OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Exp, OpKind::Pow}, node.op);
    return overflow ? self + " overflows" : origins.found[0];
  }

  /// Whether a node is a number as written: an unnamed constant, or negations of one (`x ^ -0.5`).
  bool isLiteral(NodeId id) const {
    while (graph.node(id).name.empty() && graph.node(id).op == OpKind::Neg)
      id = graph.node(id).operands[0];
    return graph.node(id).name.empty() && graph.node(id).op == OpKind::Const;
  }

private:
  /// The search of whyNotFinite: below the node it explains, `top`, not into the nodes `rename` names, each
  /// node once, at most MaxOriginDepth deep (a derivative rule's expression is shallow).
  struct Origins {
    Rename rename;
    NodeId top;
    std::vector<std::string> found;
    std::set<NodeId> seen;
  };
  static constexpr int MaxOriginDepth = 32;

  void collectOrigins(NodeId id, Origins &origins, int depth) const {
    const Node &node = graph.node(id);
    if (!node.type.isScalar()) // a tensor's value is not one number: no reason is given for it
      return;
    double v = values[id];
    if (std::isfinite(v) || origins.rename(id) || (id < forwardSize && id == origins.top) ||
        depth > MaxOriginDepth || !origins.seen.insert(id).second)
      return;
    std::string origin;
    if (id < forwardSize) {
      origin = name(id) + " is " + value(id);
    } else {
      // Below an operand that is already NaN (or infinite, for an infinite value), or an infinity that became
      // NaN (0 * inf); the node itself where it is the first.
      auto carries = [&](NodeId operand, bool nan) {
        return graph.node(operand).type.isScalar() && (nan ? std::isnan(values[operand]) : std::isinf(values[operand]));
      };
      bool carried = false;
      for (NodeId operand : node.operands)
        if (carries(operand, std::isnan(v))) {
          collectOrigins(operand, origins, depth + 1);
          carried = true;
        }
      if (carried)
        return;
      for (NodeId operand : node.operands)
        if (carries(operand, false))
          collectOrigins(operand, origins, depth + 1);
      origin = operation(id, true) + " = " + value(id);
    }
    if (!llvm::is_contained(origins.found, origin))
      origins.found.push_back(origin);
  }

  static std::string apply(const Node &node, const std::vector<Printed> &operands) {
    const OpInfo &info = getOpInfo(node.op);
    auto wrap = [&](size_t i, bool tighter, bool afterMinus = false) {
      int need = info.precedence + (tighter ? 1 : 0);
      const std::string &text = operands[i].first;
      bool glued = afterMinus && !text.empty() && text.front() == '-'; // never `--1` nor `5 - -6`
      return operands[i].second < need || glued ? "(" + text + ")" : text;
    };
    auto runTimeIndex = [&](const std::string &index) { // x[i] at axis 0, x[:, i] at axis 1
      std::string text = "[";
      for (int64_t d = 0; d < node.attrs[0]; ++d)
        text += ":, ";
      return text + index + "]";
    };
    if (node.op == OpKind::Transpose) // postfix, as a derivation writes it; an operand that binds less tightly
      return wrap(0, false) + "^T";   // than a call is parenthesized
    if (node.op == OpKind::DynamicIndex)
      return wrap(0, false) + runTimeIndex(operands[1].first);
    if (node.op == OpKind::DynamicIndexGrad)
      return "scatter(" + operands[0].first + " into " + formatShape(node.type.shape) + " at " +
             runTimeIndex(operands[1].first) + ")";
    switch (info.syntax) {
    case Syntax::Infix:
    case Syntax::InternalInfix: {
      // Left-associative but for ^; comparisons do not chain, so a comparison on either side is parenthesized.
      bool tighterLeft = info.kind == OpKind::Pow || info.precedence == ComparisonPrecedence;
      bool tighterRight = info.kind != OpKind::Pow;
      return wrap(0, tighterLeft) + " " + info.spelling + " " + wrap(1, tighterRight, info.kind == OpKind::Sub);
    }
    case Syntax::Prefix:
      return std::string(info.spelling) + wrap(0, false, info.spelling == std::string_view("-"));
    case Syntax::Index:
      return wrap(0, false) + formatIndexAttrs(node.attrs);
    case Syntax::Internal:
      if (std::optional<std::string> text = applyInternalTensorOp(node, operands))
        return *text;
      [[fallthrough]];
    case Syntax::Call:
    case Syntax::Leaf: {
      std::string text = std::string(info.name) + "(";
      for (size_t i = 0; i < operands.size(); ++i)
        text += (i ? ", " : "") + operands[i].first;
      if (!node.attrs.empty() && info.syntax == Syntax::Call) // a reduction over one axis
        text += ", axis=" + std::to_string(node.attrs[0]);
      return text + ")";
    }
    }
    return "";
  }

  /// The internal tensor ops of vector-Jacobian products, the way a derivation writes them: "W^T",
  /// "broadcast(dloss/ds)", "scatter(dloss/d%4 into [1,2] at [0, 0])".
  static std::optional<std::string> applyInternalTensorOp(const Node &node, const std::vector<Printed> &operands) {
    std::string shape = formatShape(node.type.shape);
    switch (node.op) {
    case OpKind::BroadcastTo:
      return "broadcast(" + operands[0].first + ")";
    case OpKind::SumTo:
      return "sum_to(" + operands[0].first + ", " + shape + ")";
    case OpKind::Reshape:
      return "reshape(" + operands[0].first + ", " + shape + ")";
    case OpKind::IndexGrad:
      return "scatter(" + operands[0].first + " into " + shape + " at " +
             formatIndexAttrs(llvm::ArrayRef(node.attrs).drop_front(1 + static_cast<size_t>(node.attrs[0]))) + ")";
    default:
      return std::nullopt;
    }
  }

  /// A forward node as an operand: a literal by its value, anything else by its label.
  Printed reference(NodeId id) const { return isLiteral(id) ? number(id) : labels[id]; }

  Printed number(NodeId id) const {
    bool negative = graph.node(id).type.isScalar() && std::signbit(values[id]);
    return {value(id), negative ? getOpInfo(OpKind::Neg).precedence : 5};
  }

  Printed expand(NodeId id, Rename rename) const {
    const Node &node = graph.node(id);
    if (std::optional<std::string> name = rename(id)) // a value, or a name; a negative value binds as unary minus
      return {*name, !name->empty() && name->front() == '-' ? getOpInfo(OpKind::Neg).precedence : 5};
    if (id < forwardSize)
      return reference(id);
    if (node.op == OpKind::Const) // by its value, even where it is named as an adjoint too (ds/d%2 = 0)
      return number(id);
    std::vector<Printed> operands;
    for (NodeId operand : node.operands)
      operands.push_back(expand(operand, rename));
    return {apply(node, operands), getOpInfo(node.op).precedence};
  }

  const Graph &graph;
  size_t forwardSize;
  const Values &values;
  std::vector<Printed> labels; // per forward node
  std::vector<bool> spelled;   // per forward node: labelled by its expression
};

std::string ordinal(size_t n) {
  static const char *const words[] = {"first", "second", "third", "fourth", "fifth"};
  return n >= 1 && n <= 5 ? words[n - 1] : std::to_string(n) + "th";
}

/// Which dimensions of `from` sum_to sums to reach `to`: "dimension 0", "dimensions 0 and 2".
std::string broadcastDimensions(const Shape &from, const Shape &to) {
  std::vector<size_t> dims;
  size_t extra = from.size() - to.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (d < extra || (to[d - extra] == 1 && from[d] != 1))
      dims.push_back(d);
  std::string text = dims.size() == 1 ? "dimension " : "dimensions ";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i == 0 ? "" : i + 1 == dims.size() ? " and " : ", ") + std::to_string(dims[i]);
  return text;
}

/// `label` with, in a script with tensors, the shape of node `id`: "y: [1,2]", "loss: scalar"; a scalar script's
/// lines stay as they were.
std::string withShape(const Graph &graph, NodeId id, const std::string &label) {
  if (!graph.firstTensorNode())
    return label;
  const Shape &shape = graph.node(id).type.shape;
  return label + (shape.empty() ? ": scalar" : ": " + formatShape(shape));
}

/// Whether node `id` and its operands are numbers, so that a line can show the operation on their values.
bool allScalar(const Graph &graph, NodeId id) {
  return graph.node(id).type.isScalar() &&
         llvm::all_of(graph.node(id).operands, [&](NodeId operand) { return graph.node(operand).type.isScalar(); });
}

/// The forward pass over the first `forwardSize` nodes of `graph`.
void printForwardPass(llvm::raw_ostream &os, const Graph &graph, size_t forwardSize, const FormulaPrinter &printer) {
  auto name = [&](NodeId id) { return withShape(graph, id, printer.name(id)); };
  os << "forward pass: every node's value, from the inputs to the outputs\n";
  for (NodeId id = 0; id < forwardSize; ++id) {
    const Node &node = graph.node(id);
    std::string value = printer.value(id);
    switch (node.op) {
    case OpKind::Input:
    case OpKind::Param:
      os << "  " << name(id) << " = " << value << "  (" << getOpInfo(node.op).name << ")\n";
      continue;
    case OpKind::Const:
      if (!node.name.empty())
        os << "  " << name(id) << " = " << value << "\n";
      continue;
    default:
      if (printer.isLiteral(id))
        continue;
      os << "  " << name(id) << " = ";
      if (!printer.isSpelled(id)) // a name or %N: what it stands for
        os << printer.operation(id, false) << " = ";
      // The operands' values where they are numbers (and say more than the result: not `-x = -2 = -2`); a
      // tensor operation shows its result alone.
      if (allScalar(graph, id) && printer.operation(id, true) != value)
        os << printer.operation(id, true) << " = ";
      os << value << '\n';
    }
  }
}

/// Why node `id`'s value is not finite, "  (0.5 / 0 = inf)", or "" where it is finite; nodes that `rename`
/// names are taken as they are.
std::string whyNotFinite(const FormulaPrinter &printer, NodeId id, FormulaPrinter::Rename rename) {
  std::string why = printer.whyNotFinite(id, rename);
  return why.empty() ? "" : "  (" + why + ")";
}

/// The same for local derivative `local` of `consumer` by its operand `operand`, which for a function of one
/// argument says so first: "  (sqrt'(0) is infinite: 0.5 / 0 = inf)".
std::string whyNotFinite(const FormulaPrinter &printer, NodeId local, const Node &consumer, NodeId operand) {
  std::string why = printer.whyNotFinite(local, [](NodeId) -> std::optional<std::string> { return std::nullopt; });
  if (why.empty())
    return "";
  const OpInfo &info = getOpInfo(consumer.op);
  if (info.syntax == Syntax::Call && consumer.operands.size() == 1)
    why = std::string(info.name) + "'(" + printer.value(operand) + ") is " +
          (std::isnan(printer.scalar(local)) ? "undefined" : "infinite") + ": " + why;
  return "  (" + why + ")";
}

/// What node `id` is: "g = x > 0", or "x > 0" where that is its label.
std::string definition(const FormulaPrinter &printer, NodeId id) {
  return printer.isSpelled(id) ? printer.name(id) : printer.name(id) + " = " + printer.operation(id, false);
}

void printBackwardPass(llvm::raw_ostream &os, const Graph &forward, const GradientGraph &gradient,
                       const ReverseSweep &sweep, const FormulaPrinter &printer) {
  const Graph &graph = gradient.graph;
  const std::string &out = forward.outputs()[sweep.output].name;
  auto adjointName = [&](NodeId id) { return "d" + out + "/d" + printer.label(id); };
  auto localName = [&](const ChainRuleStep &step) {
    return "d" + printer.label(step.consumer) + "/d" + printer.label(step.operand);
  };
  // A def's stated derivative (with_partial) has local derivatives too: 1 for the value it passes on, the
  // partial for the argument.
  auto stated = [&](const ChainRuleStep &step) { return forward.node(step.consumer).op == OpKind::WithPartial; };
  auto localFormula = [&](const ChainRuleStep &step) {
    if (!stated(step))
      return printer.formula(step.localDerivative);
    return step.operandIndex == 0 ? std::string("1") : printer.formula(forward.node(step.consumer).operands[2]);
  };
  auto localValue = [&](const ChainRuleStep &step) {
    if (!stated(step))
      return printer.value(step.localDerivative);
    return step.operandIndex == 0 ? std::string("1") : printer.value(forward.node(step.consumer).operands[2]);
  };

  // The arguments differentiated by (--wrt), as declared.
  const std::vector<size_t> &selected = gradient.selection.arguments;
  std::vector<NodeId> arguments;
  for (NodeId id : forward.declaredArguments())
    if (llvm::is_contained(selected, forward.argumentIndex(id)))
      arguments.push_back(id);
  std::string targets = "every input and param";
  if (arguments.size() < forward.arguments().size()) {
    targets.clear();
    for (NodeId id : arguments)
      targets += (targets.empty() ? "" : ", ") + forward.node(id).name;
  }
  os << "\nbackward pass for " << out << ": the chain rule, from " << out << " back to " << targets << "\n";
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
      os << (i ? " + " : "") << printer.value(contributions[i]->product);
    os << " = " << printer.value(sweep.adjoint(id)) << "  (" << printer.name(id) << " is used "
       << contributions.size() << " times: the contributions add up)\n";
  };

  for (size_t i = 0; i < sweep.steps.size();) {
    NodeId consumer = sweep.steps[i].consumer;
    size_t end = i;
    while (end < sweep.steps.size() && sweep.steps[end].consumer == consumer)
      ++end;
    printTotal(consumer);
    os << "  " << definition(printer, consumer) << '\n';
    // A tensor op other than an elementwise one has no local derivative to print: its steps are vector-Jacobian
    // products.
    bool vjp = isTensorOp(forward.node(consumer).op);
    bool stated = forward.node(consumer).op == OpKind::WithPartial;
    if (!vjp || stated) {
      os << "    local derivative" << (end - i > 1 ? "s: " : ": ");
      for (size_t k = i; k < end; ++k) {
        const ChainRuleStep &step = sweep.steps[k];
        std::string formula = localFormula(step), value = localValue(step);
        os << (k > i ? ", " : "") << localName(step) << " = " << formula;
        if (formula != value)
          os << " = " << value;
        if (!(stated && step.operandIndex == 0))
          os << whyNotFinite(printer, stated ? forward.node(consumer).operands[2] : step.localDerivative,
                             forward.node(consumer), step.operand);
      }
      if (forward.node(consumer).op == OpKind::StopGradient)
        os << "  (stop_gradient: its value passes, its derivative is 0 by definition)";
      if (stated)
        os << "  (stated by the def's grad)";
      os << '\n';
    }
    for (size_t k = i; k < end; ++k) {
      const ChainRuleStep &step = sweep.steps[k];
      const auto &contributions = uses[step.operand];
      bool shared = contributions.size() > 1;
      NodeId adjoint = sweep.adjoint(step.consumer);
      os << "    " << adjointName(step.operand) << (shared ? " += " : " = ");
      if (vjp) {
        os << printer.formula(step.product, adjoint, adjointName(step.consumer));
      } else {
        // The output's own local derivatives have the names of its adjoints (df/dd for f = d * c): their formulas
        // stand in for them, so that no line defines a name by itself.
        std::string local = localName(step);
        if (step.consumer == outputNode) {
          local = localFormula(step);
          if (local.find(' ') != std::string::npos)
            local = "(" + local + ")";
        }
        os << adjointName(step.consumer) << " * " << local << " = " << printer.value(adjoint) << " * "
           << printer.value(step.localDerivative);
        // Where the op broadcast the operand, the products are summed back to the operand's shape.
        const Node &product = graph.node(step.product);
        if (forward.node(step.consumer).type.shape != product.type.shape) {
          assert(product.op == OpKind::SumTo && "a broadcast operand's product is summed back");
          NodeId each = product.operands[0];
          os << " = " << printer.value(each) << ", summed over the broadcast "
             << broadcastDimensions(graph.node(each).type.shape, product.type.shape);
        }
      }
      os << " = " << printer.value(step.product);
      os << whyNotFinite(printer, step.product, [&](NodeId id) -> std::optional<std::string> {
        if (id == adjoint)
          return adjointName(step.consumer);
        if (id == step.localDerivative)
          return step.consumer == outputNode ? localFormula(step) : localName(step);
        return std::nullopt;
      });
      if (shared) {
        size_t which = std::find(contributions.begin(), contributions.end(), &step) - contributions.begin() + 1;
        os << "  (" << ordinal(which) << " of " << contributions.size() << " uses of "
           << printer.name(step.operand) << ")";
      }
      os << '\n';
    }
    i = end;
  }
  for (NodeId id : arguments)
    printTotal(id);

  os << "gradient of " << out << ":\n";
  for (NodeId id : arguments) {
    size_t column = llvm::find(selected, forward.argumentIndex(id)) - selected.begin();
    os << "  " << adjointName(id) << " = " << printer.value(sweep.gradient[column]) << '\n';
  }
}

/// The tangent pass of forward mode along the tangents `spec` (--jvp) gives: every argument's tangent, then, in
/// evaluation order, every node's tangent by its op's rule, with the numbers, then every output's J t.
void printTangentPass(llvm::raw_ostream &os, const Graph &forward, const TangentGraph &tangents,
                      const FormulaPrinter &printer, const std::string &spec) {
  const Graph &graph = tangents.graph;
  // Each tangent's name, dN, after the first node whose tangent it is (a + 0's tangent is a's own node, da).
  std::map<NodeId, std::string> names;
  auto tangentName = [&](NodeId id) { return "d" + printer.label(id); };
  for (NodeId id = 0; id < forward.size(); ++id)
    if (tangents.nodeTangents[id] != InvalidNode)
      names.emplace(tangents.nodeTangents[id], tangentName(id));
  auto byName = [&](NodeId id) -> std::optional<std::string> {
    auto found = names.find(id);
    return found == names.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  auto byValue = [&](NodeId id) -> std::optional<std::string> {
    if (id < tangents.forwardSize || names.count(id))
      return printer.value(id);
    return std::nullopt;
  };

  os << "\ntangent pass for --jvp " << spec
     << ": every node's tangent, how fast it moves along the tangents, from the inputs to the outputs\n";
  for (NodeId id = 0; id < forward.size(); ++id) {
    const Node &node = forward.node(id);
    NodeId tangent = tangents.nodeTangents[id];
    std::string name = "  " + withShape(graph, id, tangentName(id));
    if (node.op == OpKind::Input || node.op == OpKind::Param) {
      os << name << " = " << printer.value(tangent) << "  (the tangent of " << getOpInfo(node.op).name << " "
         << node.name << ")\n";
      continue;
    }
    if (tangent == InvalidNode) {
      // A node that depends on no argument has no tangent to show; one whose rule gives 0 says why.
      if (llvm::any_of(node.operands, [&](NodeId operand) { return tangents.nodeTangents[operand] != InvalidNode; }))
        os << name << " = 0  ("
           << (node.op == OpKind::StopGradient ? "stop_gradient: its derivative is 0 by definition"
                                                : definition(printer, id) +
                                                      " is piecewise constant")
           << ")\n";
      continue;
    }
    os << name << " = ";
    if (names[tangent] != tangentName(id)) { // the tangent of an earlier node, as it is
      os << names[tangent] << " = " << printer.value(tangent) << '\n';
      continue;
    }
    os << printer.formula(tangent, byName) << " = ";
    std::string value = printer.value(tangent);
    if (allScalar(forward, id) && printer.formula(tangent, byValue) != value)
      os << printer.formula(tangent, byValue) << " = ";
    auto earlier = [&](NodeId node) { return node == tangent ? std::nullopt : byName(node); };
    os << value << whyNotFinite(printer, tangent, earlier) << '\n';
  }
  os << "J t, the directional derivative of every output along the tangents:\n";
  for (size_t o = 0; o < forward.outputs().size(); ++o) {
    NodeId node = forward.outputs()[o].node;
    os << "  jvp(" << forward.outputs()[o].name << ") = ";
    if (tangents.nodeTangents[node] != InvalidNode)
      os << tangentName(node) << " = ";
    os << printer.value(tangents.outputTangents[o]) << '\n';
  }
}

/// explain works the chain rule for scalar outputs: a tensor output among `outputs` (Graph::outputs indices) is
/// refused at its `output` line.
llvm::Error refuseTensorOutputs(const Graph &graph, llvm::ArrayRef<size_t> outputs) {
  for (size_t o : outputs) {
    const Graph::Output &output = graph.outputs()[o];
    const Shape &shape = graph.node(output.node).type.shape;
    if (!shape.empty())
      return makeDiagnosticError(graph.sourceFile(), output.loc,
                                 "output '" + output.name + "' has shape " + formatShape(shape) +
                                     ": explaining gradients of tensor outputs is not supported yet");
  }
  return llvm::Error::success();
}

/// explain --jvp: the forward pass, then the tangent pass along the tangents.
int explainTangents(const Graph &graph, const Options &options) {
  if (options.selectsGradient())
    return reportError("--jvp does not take --of or --wrt: the tangent pass carries every output's tangent",
                       ExitUsage);
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(graph, options, exitCode);
  if (!in)
    return exitCode;
  std::optional<std::vector<double>> tangents = bindTangents(graph, options.jvps, "--jvp", "X=TANGENT, as in --jvp a=1,b=0", exitCode);
  if (!tangents)
    return exitCode;
  auto tangentGraph = buildTangentGraph(graph);
  if (!tangentGraph)
    return reportError(tangentGraph.takeError());
  Values values = evaluateTangentGraph(*tangentGraph, *in, *tangents);
  FormulaPrinter printer(tangentGraph->graph, tangentGraph->forwardSize, values);
  llvm::raw_ostream &os = llvm::outs();
  printForwardPass(os, tangentGraph->graph, tangentGraph->forwardSize, printer);
  printTangentPass(os, graph, *tangentGraph, printer, llvm::join(options.jvps, ","));
  return ExitSuccess;
}

} // namespace

int explainCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (!options.jvps.empty())
    return explainTangents(*graph, options);
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  if (llvm::Error refused = refuseTensorOutputs(*graph, selection->outputs))
    return reportError(std::move(refused));
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;
  auto built = buildGradientGraph(*graph, *selection);
  if (!built)
    return reportError(built.takeError());
  const GradientGraph &gradient = *built;
  Values values = evaluateGraph(gradient.graph, *in);
  FormulaPrinter printer(gradient.graph, gradient.forwardSize, values);
  llvm::raw_ostream &os = llvm::outs();
  printForwardPass(os, gradient.graph, gradient.forwardSize, printer);
  for (const ReverseSweep &sweep : gradient.sweeps)
    printBackwardPass(os, *graph, gradient, sweep, printer);
  return ExitSuccess;
}

} // namespace bpc
