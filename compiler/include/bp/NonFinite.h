//===- NonFinite.h - Where a NaN or an infinity started ---------*- C++ -*-===//
//
// Given a graph and its evaluated values (Interpreter.h), finds where a value that is not finite (NaN, +inf,
// -inf) started: walking back from it over the operand elements it was computed from, to the first element
// that is not finite although every operand element it was computed from is (`log(0) = -inf`, `exp(1000) =
// inf`), or to an input or param given a value that is not finite. In a gradient graph (Autodiff.h) a backward
// node is told by the chain-rule step that made it: the op differentiated, its operands' values and the local
// derivative (`the derivative of sqrt(x) at x = 0 is inf (0.5 / abs(0))`), at the forward node's location.
//
// The findings come back as diagnostics (Diagnostics.h): a warning at the node where a value started, with
// notes; the command-line tool prints them.
//
//===----------------------------------------------------------------------===//
#ifndef BP_NONFINITE_H
#define BP_NONFINITE_H

#include "bp/Diagnostics.h"
#include "bp/Graph.h"

#include "llvm/ADT/ArrayRef.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bp {

struct ChainRuleStep;
struct GradientGraph;
class Values;

/// One element of one node (row-major; 0 for a scalar).
struct ElementRef {
  NodeId node = InvalidNode;
  size_t element = 0;

  friend bool operator==(ElementRef a, ElementRef b) { return a.node == b.node && a.element == b.element; }
};

/// The index of the first element that is not finite, if any.
std::optional<size_t> firstNonFinite(llvm::ArrayRef<double> values);

/// A result that is not finite, by the name it is printed under (`p[0]`, `dloss/dx`), and where it is held.
struct NonFiniteResult {
  std::string name;
  ElementRef at;
};

/// A node with an element that is not finite: its first one, and the operand element that made it so (none
/// where it started there).
struct NonFiniteNode {
  ElementRef at;
  std::optional<ElementRef> from;
};

/// One warning: where some results' non-finite values started, and the diagnostics that say so.
struct NonFiniteWarning {
  ElementRef origin;
  std::vector<Diagnostic> diagnostics; // the warning, then its notes
};

/// Finds where values that are not finite started in an evaluated graph, or gradient graph.
class NonFiniteTracer {
public:
  /// A graph evaluated into `values` (evaluateGraph). Both must outlive the tracer.
  NonFiniteTracer(const Graph &graph, const Values &values) : graph(graph), values(values) {}
  /// A gradient graph evaluated into `values`: its backward nodes are told by their chain-rule steps.
  NonFiniteTracer(const GradientGraph &gradient, const Values &values);

  /// The chain of non-finite elements that ends at `at` (not finite): first the element where it started (a
  /// leaf, or an element computed from finite operand elements), last `at`, each made from the one before. An
  /// elementwise op's element comes from the operand elements it was computed from (broadcast), an indexed
  /// element from the one it picks, where(c, a, b) from c or the branch it took, and an element of another
  /// tensor op (a reduction, a matrix product) from its operand's first non-finite element.
  std::vector<ElementRef> trace(ElementRef at) const;

  /// Every node with an element that is not finite, in evaluation order.
  std::vector<NonFiniteNode> findAll() const;

  /// A warning per element where some of `results` started, in evaluation order of those elements: at that
  /// node's location, `log(0) = -inf here; it makes loss -inf`, with a note per operand giving its value.
  std::vector<NonFiniteWarning> warnings(llvm::ArrayRef<NonFiniteResult> results) const;

  /// Every non-finite node in evaluation order as a note at its location, `p[0] = e[0] / %5 = inf / inf = nan`,
  /// saying which element it came from or that it started there.
  std::vector<Diagnostic> fullTrace() const;

private:
  /// The operand elements that `at` was computed from, as trace() follows them (none for a leaf).
  std::vector<ElementRef> sources(ElementRef at) const;
  /// The first of them that is not finite: where `at` came from; none where it started.
  std::optional<ElementRef> nonFiniteSource(ElementRef at) const;
  double value(ElementRef at) const;
  /// `e[1, 0]`, or `e` for a scalar; an unnamed node as reference() spells it (`sum(e)`).
  std::string name(ElementRef at) const;
  /// The node's op on its operands' values at `at`: `exp(1000)`, `inf / inf`; a tensor op's operands whole.
  std::string operationWithValues(ElementRef at) const;
  /// A node in a formula: by its name, a literal by its value, a local derivative by what it is (`ds/dx`), any
  /// other unnamed node spelled out (`sum(e)`), with its precedence.
  std::pair<std::string, int> reference(NodeId id, unsigned depth) const;
  /// The node's op on its operands: `sqrt(x)`, `e / sum(e)`.
  std::string operationWithNames(NodeId id) const;
  /// A backward node's formula, helper nodes spelled out and forward nodes by their values at `element`, with
  /// its precedence.
  std::pair<std::string, int> formulaWithValues(NodeId id, size_t element, unsigned depth) const;
  /// What a warning at `origin` says happened there, and where.
  Diagnostic describeOrigin(ElementRef origin, const std::vector<ElementRef> &chain,
                            std::vector<Diagnostic> &notes) const;
  /// The chain-rule step of the gradient graph that built backward node `id`, if any.
  const ChainRuleStep *stepOf(NodeId id) const;

  const Graph &graph;
  const Values &values;
  const GradientGraph *gradient = nullptr;
  std::unordered_map<NodeId, const ChainRuleStep *> localSteps; // each backward local derivative's step
};

} // namespace bp

#endif // BP_NONFINITE_H
