//===- NonFinite.cpp - Where a NaN or an infinity started -----------------===//
#include "bp/NonFinite.h"

#include "bp/Autodiff.h"
#include "bp/Interpreter.h"
#include "bp/NumberFormat.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <map>

using namespace bp;

namespace {

using Printed = std::pair<std::string, int>; // text and its precedence

/// How deep a formula spells out unnamed nodes before it names them by label (%7).
constexpr unsigned MaxDepth = 4;

/// The position reached from `start` at row-major element `element` of `shape`, with one stride per dimension.
size_t stridedPosition(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> strides, int64_t start,
                       size_t element) {
  int64_t position = start, rest = static_cast<int64_t>(element);
  for (size_t d = shape.size(); d-- > 0;) {
    position += (rest % shape[d]) * strides[d];
    rest /= shape[d];
  }
  return static_cast<size_t>(position);
}

/// Whether an op computes each element from the operand elements at the same (broadcast) index.
bool isElementwise(OpKind op) { return !isTensorOp(op) || op == OpKind::BroadcastTo; }

bool isLeaf(const Node &node) { return node.operands.empty(); }

/// A number as an operand of a formula: a negative one binds like a unary minus.
Printed number(double value) { return {formatNumber(value), std::signbit(value) ? 3 : 5}; }

/// `node`'s op applied to operands already printed, parenthesized where they bind less tightly.
std::string applyOp(const Node &node, llvm::ArrayRef<Printed> operands) {
  const OpInfo &info = getOpInfo(node.op);
  auto wrap = [&](size_t i, int need) {
    return operands[i].second < need ? "(" + operands[i].first + ")" : operands[i].first;
  };
  if (node.op == OpKind::DynamicIndex) { // x[i] at axis 0, x[:, i] at axis 1
    std::string text = wrap(0, 5) + "[";
    for (int64_t d = 0; d < node.attrs[0]; ++d)
      text += ":, ";
    return text + operands[1].first + "]";
  }
  switch (info.syntax) {
  case Syntax::Infix:
  case Syntax::InternalInfix: {
    bool pow = node.op == OpKind::Pow;
    return wrap(0, info.precedence + (pow ? 1 : 0)) + " " + info.spelling + " " +
           wrap(1, info.precedence + (pow ? 0 : 1));
  }
  case Syntax::Prefix:
    return std::string(info.spelling) + wrap(0, info.precedence);
  case Syntax::Index:
    return wrap(0, 5) + formatIndexAttrs(node.attrs);
  case Syntax::Leaf:
  case Syntax::Call:
  case Syntax::Internal: {
    std::string text = std::string(info.name) + "(";
    for (size_t i = 0; i < operands.size(); ++i)
      text += (i ? ", " : "") + operands[i].first;
    return text + ")";
  }
  }
  llvm_unreachable("every syntax is covered");
}

} // namespace

std::optional<size_t> bp::firstNonFinite(llvm::ArrayRef<double> values) {
  auto found = llvm::find_if(values, [](double value) { return !std::isfinite(value); });
  if (found == values.end())
    return std::nullopt;
  return static_cast<size_t>(found - values.begin());
}

NonFiniteTracer::NonFiniteTracer(const GradientGraph &gradient, const Values &values)
    : graph(gradient.graph), values(values), gradient(&gradient) {
  for (const ReverseSweep &sweep : gradient.sweeps)
    for (const ChainRuleStep &step : sweep.steps)
      if (step.localDerivative != InvalidNode && step.localDerivative >= gradient.forwardSize)
        localSteps.try_emplace(step.localDerivative, &step);
}

double NonFiniteTracer::value(ElementRef at) const { return values.tensor(at.node)[at.element]; }

std::string NonFiniteTracer::name(ElementRef at) const {
  const Node &node = graph.node(at.node);
  auto [text, precedence] = reference(at.node, MaxDepth);
  if (node.type.isScalar())
    return text;
  return elementName(precedence < 5 ? "(" + text + ")" : text, node.type.shape, static_cast<int64_t>(at.element));
}

std::vector<ElementRef> NonFiniteTracer::sources(ElementRef at) const {
  const Node &node = graph.node(at.node);
  std::vector<ElementRef> found;
  llvm::ArrayRef<int64_t> shape = node.type.shape;
  for (NodeId operand : node.operands) {
    llvm::ArrayRef<int64_t> operandShape = graph.node(operand).type.shape;
    if (isElementwise(node.op)) {
      found.push_back({operand, stridedPosition(shape, broadcastStrides(operandShape, shape.size()), 0, at.element)});
      continue;
    }
    if (node.op == OpKind::Index) {
      found.push_back({operand, stridedPosition(shape, indexStrides(operandShape, node.attrs),
                                                indexStart(operandShape, node.attrs), at.element)});
      continue;
    }
    // Another tensor op: its operand's first non-finite element, if any (its finite ones are not shown).
    if (std::optional<size_t> element = firstNonFinite(values.tensor(operand)))
      found.push_back({operand, *element});
  }
  if (node.op == OpKind::Where) // the condition, and the branch it took (NaN counting as nonzero)
    found.erase(found.begin() + (value(found[0]) != 0 ? 2 : 1));
  return found;
}

std::optional<ElementRef> NonFiniteTracer::nonFiniteSource(ElementRef at) const {
  for (ElementRef source : sources(at))
    if (!std::isfinite(value(source)))
      return source;
  return std::nullopt;
}

std::vector<ElementRef> NonFiniteTracer::trace(ElementRef at) const {
  std::vector<ElementRef> chain{at};
  while (std::optional<ElementRef> source = nonFiniteSource(chain.back()))
    chain.push_back(*source);
  std::reverse(chain.begin(), chain.end());
  return chain;
}

std::vector<NonFiniteNode> NonFiniteTracer::findAll() const {
  std::vector<NonFiniteNode> found;
  for (NodeId id = 0; id < graph.size(); ++id)
    if (std::optional<size_t> element = firstNonFinite(values.tensor(id)))
      found.push_back({{id, *element}, nonFiniteSource({id, *element})});
  return found;
}

std::string NonFiniteTracer::operationWithValues(ElementRef at) const {
  const Node &node = graph.node(at.node);
  std::vector<Printed> operands;
  if (isElementwise(node.op)) {
    for (ElementRef source : sources(at))
      operands.push_back(number(value(source)));
    return applyOp(node, operands);
  }
  for (NodeId operand : node.operands) {
    bool indexed = operand == node.operands[0] && (node.op == OpKind::Index || node.op == OpKind::DynamicIndex);
    if (indexed) // what is indexed by its name: x[7]
      operands.push_back(reference(operand, MaxDepth));
    else if (graph.node(operand).type.isScalar())
      operands.push_back(number(values[operand]));
    else
      operands.push_back({formatTensor(values.tensor(operand), graph.node(operand).type.shape, true), 5});
  }
  return applyOp(node, operands);
}

std::pair<std::string, int> NonFiniteTracer::reference(NodeId id, unsigned depth) const {
  const Node &node = graph.node(id);
  if (node.op == OpKind::Const && node.name.empty() && node.type.isScalar())
    return number(node.value);
  if (auto local = localSteps.find(id); local != localSteps.end() && node.name.empty()) // by what it is: ds/dx
    return {"d" + graph.label(local->second->consumer) + "/d" + graph.label(local->second->operand), 5};
  if (!node.name.empty() || isLeaf(node) || depth == 0)
    return {graph.label(id), 5};
  std::vector<Printed> operands;
  for (NodeId operand : node.operands)
    operands.push_back(reference(operand, depth - 1));
  return {applyOp(node, operands), getOpInfo(node.op).precedence};
}

std::string NonFiniteTracer::operationWithNames(NodeId id) const {
  std::vector<Printed> operands;
  for (NodeId operand : graph.node(id).operands)
    operands.push_back(reference(operand, MaxDepth));
  return applyOp(graph.node(id), operands);
}

std::pair<std::string, int> NonFiniteTracer::formulaWithValues(NodeId id, size_t element, unsigned depth) const {
  const Node &node = graph.node(id);
  if (node.type.isScalar())
    element = 0;
  bool backward = gradient && id >= gradient->forwardSize;
  if (!backward || isLeaf(node))
    return number(value({id, element}));
  if (depth == 0)
    return {graph.label(id), 5};
  std::vector<Printed> operands;
  for (ElementRef source : sources({id, element}))
    operands.push_back(formulaWithValues(source.node, source.element, depth - 1));
  if (operands.size() != node.operands.size()) // a tensor op or a where: its value alone
    return number(value({id, element}));
  return {applyOp(node, operands), getOpInfo(node.op).precedence};
}

const ChainRuleStep *NonFiniteTracer::stepOf(NodeId id) const {
  if (!gradient || id < gradient->forwardSize)
    return nullptr;
  // Each step adds its local derivative's nodes, then its product: the first step whose last node is at or
  // after `id` built it.
  for (const ReverseSweep &sweep : gradient->sweeps) {
    if (id < sweep.begin || id >= sweep.end)
      continue;
    for (const ChainRuleStep &step : sweep.steps) {
      NodeId last = step.product;
      if (step.localDerivative != InvalidNode && (last < sweep.begin || step.localDerivative > last))
        last = step.localDerivative;
      if (last >= sweep.begin && last >= id)
        return &step;
    }
  }
  return nullptr;
}

Diagnostic NonFiniteTracer::describeOrigin(ElementRef origin, const std::vector<ElementRef> &chain,
                                           std::vector<Diagnostic> &notes) const {
  const Node &node = graph.node(origin.node);
  std::string result = formatNumber(value(origin));
  if (isLeaf(node)) {
    std::string kind = node.op == OpKind::Param ? "param" : node.op == OpKind::Input ? "input" : "constant";
    return {Severity::Warning, node.loc, kind + " " + name(origin) + " is " + result};
  }
  if (const ChainRuleStep *step = stepOf(origin.node)) {
    const Node &consumer = graph.node(step->consumer);
    auto local = llvm::find_if(chain, [&](ElementRef at) { return at.node == step->localDerivative; });
    if (local == chain.end()) // the product itself, or a vector-Jacobian product's node
      return {Severity::Warning, consumer.loc,
              "the chain rule through " + operationWithNames(step->consumer) + " gives " +
                  operationWithValues(origin) + " = " + result + " here"};
    // The consumer's operands at the element the local derivative was computed for.
    size_t element = graph.node(local->node).type.shape == consumer.type.shape ? local->element : 0;
    std::vector<std::string> at;
    for (ElementRef source : sources({step->consumer, element}))
      at.push_back(name(source) + " = " + formatNumber(value(source)));
    std::string message = "the derivative of " + operationWithNames(step->consumer);
    if (consumer.operands.size() > 1)
      message += " by " + graph.label(step->operand);
    message += " at " + llvm::join(at, ", ") + " is " + formatNumber(value(*local)) + " (" +
               formulaWithValues(local->node, local->element, MaxDepth).first + ")";
    if (local + 1 != chain.end()) { // what the chain rule makes of it next
      const Node &next = graph.node(local[1].node);
      notes.push_back({Severity::Note, consumer.loc,
                       "the chain rule then computes " + (next.name.empty() ? "" : name(local[1]) + " = ") +
                           operationWithValues(local[1]) + " = " + formatNumber(value(local[1]))});
    }
    return {Severity::Warning, consumer.loc, message};
  }
  std::string message = operationWithValues(origin) + " = " + result + " here";
  if (!node.type.isScalar())
    message += ", in " + name(origin);
  if (node.op == OpKind::DynamicIndex && graph.node(node.operands[1]).type.isScalar())
    message += " (" + formatNumber(values[node.operands[1]]) + " is not an index of axis " +
               std::to_string(node.attrs[0]) + ")";
  auto literal = [&](NodeId id) { return graph.node(id).op == OpKind::Const && graph.node(id).name.empty(); };
  if (isElementwise(node.op) || node.op == OpKind::Index) {
    for (ElementRef source : sources(origin))
      if (!literal(source.node))
        notes.push_back({Severity::Note, graph.node(source.node).loc,
                         name(source) + " = " + formatNumber(value(source))});
  } else {
    for (NodeId operand : node.operands)
      if (!literal(operand))
        notes.push_back({Severity::Note, graph.node(operand).loc,
                         graph.label(operand) + " = " +
                             formatTensor(values.tensor(operand), graph.node(operand).type.shape, true)});
  }
  return {Severity::Warning, node.loc, message};
}

std::vector<NonFiniteWarning> NonFiniteTracer::warnings(llvm::ArrayRef<NonFiniteResult> results) const {
  // Grouped by the element where they started, in evaluation order.
  std::map<std::pair<NodeId, size_t>, std::vector<const NonFiniteResult *>> byOrigin;
  std::map<std::pair<NodeId, size_t>, std::vector<ElementRef>> chains;
  for (const NonFiniteResult &result : results) {
    std::vector<ElementRef> chain = trace(result.at);
    std::pair<NodeId, size_t> key{chain.front().node, chain.front().element};
    byOrigin[key].push_back(&result);
    chains.emplace(key, std::move(chain));
  }
  std::vector<NonFiniteWarning> warnings;
  for (const auto &[key, madeNonFinite] : byOrigin) {
    NonFiniteWarning &warning = warnings.emplace_back();
    warning.origin = {key.first, key.second};
    std::vector<Diagnostic> notes;
    Diagnostic diagnostic = describeOrigin(warning.origin, chains[key], notes);
    std::vector<std::string> made;
    for (const NonFiniteResult *result : madeNonFinite)
      made.push_back(result->name + " " + formatNumber(value(result->at)));
    diagnostic.message += "; it makes " + llvm::join(made, ", ");
    warning.diagnostics.push_back(std::move(diagnostic));
    llvm::append_range(warning.diagnostics, notes);
  }
  return warnings;
}

std::vector<Diagnostic> NonFiniteTracer::fullTrace() const {
  std::vector<Diagnostic> notes;
  for (const NonFiniteNode &entry : findAll()) {
    const Node &node = graph.node(entry.at.node);
    // `p[0] = e / sum(e) = inf / inf = nan`, each form once (an unnamed node is spelled out already).
    std::vector<std::string> forms{name(entry.at)};
    std::string names = operationWithNames(entry.at.node);
    if (!isLeaf(node) && names != reference(entry.at.node, MaxDepth).first) // not spelled out already
      forms.push_back(std::move(names));
    if (std::string numbers = operationWithValues(entry.at); !isLeaf(node) && numbers != forms.back())
      forms.push_back(std::move(numbers));
    std::string text = llvm::join(forms, " = ") + " = " + formatNumber(value(entry.at));
    if (isLeaf(node))
      text += std::string(" (") + getOpInfo(node.op).name + ")";
    text += entry.from ? ", from " + name(*entry.from) : ": it starts here";
    notes.push_back({Severity::Note, node.loc, std::move(text)});
  }
  return notes;
}
