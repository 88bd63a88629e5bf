//===- CheckCommands.cpp - bpc check and emit-llvm ------------------------===//
//
// `bpc check` also warns where a derivative is certain to be NaN at a point the script can reach: a sqrt, or a
// power with an exponent between 0 and 1, of a square (x^2, x * x, x^4), a sum or mean of squares, a sum of
// squares (x^2 + y^2) or v @ v. Where the square is 0 its base is 0 too, the outer derivative is infinite and
// the square's derivative 0, and the chain rule gives 0 * inf = nan (jax#1052's pattern; `norm = sqrt(sum(v^2))`
// at v = 0). The warning is given only where it can happen: the square's base reaches an input or param through
// ops that pass derivatives on (not stop_gradient, a comparison, or relu and abs, whose derivative at 0 is 0),
// and the sqrt reaches an output through no op that selects (where, max, min, relu, abs), below which bp counts
// 0 * inf as 0 (README: Kinks, branches and NaN). sqrt(abs(x)) and sqrt(relu(x)) are therefore not warned
// about: bp's derivative there is 0. log and division of a square are not either: their value is already
// infinite there, which `bpc run` reports where it starts.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Diagnostics.h"
#include "bp/NumberFormat.h"
#include "bp/Target.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace bp;

namespace bpc {
namespace {

/// A value that is 0 exactly where its bases are, with derivative 0 there: a square or a sum of squares.
struct Square {
  std::vector<NodeId> bases; // x for x^2; x, y for x^2 + y^2
  bool summed = false;       // a sum of squares (a norm's square), not one square per element
};

/// How the lint spells a node: its name, a number, or its expression over those (`%N` beyond a few levels).
std::string spell(const Graph &graph, NodeId id, unsigned depth = 0) {
  const Node &node = graph.node(id);
  if (!node.name.empty())
    return node.name;
  if (node.op == OpKind::Const)
    return formatNumber(node.value);
  const OpInfo &info = getOpInfo(node.op);
  if (depth > 3 || (info.syntax != Syntax::Infix && info.syntax != Syntax::Call))
    return graph.label(id);
  std::vector<std::string> operands;
  for (NodeId operand : node.operands) {
    std::string text = spell(graph, operand, depth + 1);
    const OpInfo &inner = getOpInfo(graph.node(operand).op);
    bool parenthesize = info.syntax == Syntax::Infix && graph.node(operand).name.empty() &&
                        inner.syntax == Syntax::Infix && inner.precedence <= info.precedence;
    operands.push_back(parenthesize ? "(" + text + ")" : text);
  }
  if (info.syntax == Syntax::Call)
    return std::string(info.spelling) + "(" + llvm::join(operands, ", ") + ")";
  const char *space = node.op == OpKind::Pow ? "" : " ";
  return operands[0] + space + info.spelling + space + operands[1];
}

/// The constant a node is, if it is one (a scalar literal).
std::optional<double> constantOf(const Graph &graph, NodeId id) {
  const Node &node = graph.node(id);
  if (node.op != OpKind::Const || !node.type.isScalar())
    return std::nullopt;
  return node.value;
}

/// Node `id` as a square or a sum of squares, if it is one.
std::optional<Square> squareOf(const Graph &graph, NodeId id) {
  const Node &node = graph.node(id);
  switch (node.op) {
  case OpKind::Pow: {
    std::optional<double> exponent = constantOf(graph, node.operands[1]);
    if (exponent && *exponent >= 2 && std::fmod(*exponent, 2) == 0)
      return Square{{node.operands[0]}, false};
    return std::nullopt;
  }
  case OpKind::Mul:
    if (node.operands[0] == node.operands[1])
      return Square{{node.operands[0]}, false};
    return std::nullopt;
  case OpKind::MatMul:
    if (node.operands[0] == node.operands[1] && graph.node(node.operands[0]).type.shape.size() == 1)
      return Square{{node.operands[0]}, true};
    return std::nullopt;
  case OpKind::Sum:
  case OpKind::Mean:
    if (std::optional<Square> square = squareOf(graph, node.operands[0]))
      return Square{square->bases, true};
    return std::nullopt;
  case OpKind::Add: {
    std::optional<Square> left = squareOf(graph, node.operands[0]), right = squareOf(graph, node.operands[1]);
    if (!left || !right)
      return std::nullopt;
    for (NodeId base : right->bases)
      if (!llvm::is_contained(left->bases, base))
        left->bases.push_back(base);
    return Square{left->bases, true};
  }
  default:
    return std::nullopt;
  }
}

/// Warnings at every sqrt and fractional power of a square whose derivative is NaN where the square is 0.
std::vector<Diagnostic> infiniteDerivativeWarnings(const Graph &graph) {
  // differentiable[id]: node id moves with an input or param, and a NaN adjoint reaches them through it where it
  // is 0. Ops that select pass nothing (stop_gradient, comparisons) or nothing at 0 (relu and abs, whose
  // derivative at their kink is 0), but for max, min and where, which pass it to the operand they select.
  std::vector<bool> differentiable(graph.size(), false);
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    bool passes = !selects(node.op) || llvm::is_contained({OpKind::Max, OpKind::Min, OpKind::Where}, node.op);
    auto fromOperand = [&](NodeId operand) { return differentiable[operand]; };
    differentiable[id] = node.op == OpKind::Input || node.op == OpKind::Param ||
                         (passes && llvm::any_of(node.operands, fromOperand));
  }
  // unguarded[id]: some path from node id to an output passes no op that selects.
  std::vector<bool> unguarded(graph.size(), false);
  for (const Graph::Output &output : graph.outputs())
    unguarded[output.node] = true;
  for (NodeId id = graph.size(); id-- > 0;)
    if (unguarded[id] && !selects(graph.node(id).op))
      for (NodeId operand : graph.node(id).operands)
        unguarded[operand] = true;

  std::vector<Diagnostic> diagnostics;
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (!unguarded[id])
      continue;
    std::optional<double> exponent = node.op == OpKind::Pow ? constantOf(graph, node.operands[1]) : std::nullopt;
    if (node.op != OpKind::Sqrt && !(exponent && *exponent > 0 && *exponent < 1))
      continue;
    NodeId operand = node.operands[0];
    std::optional<Square> square = squareOf(graph, operand);
    if (!square || !llvm::any_of(square->bases, [&](NodeId base) { return differentiable[base]; }))
      continue;
    std::vector<std::string> bases;
    for (NodeId base : square->bases)
      bases.push_back(spell(graph, base));
    std::string what = node.op == OpKind::Sqrt ? "sqrt" : "^" + formatNumber(*exponent);
    std::string squared = spell(graph, operand);
    diagnostics.push_back({Severity::Warning, node.loc,
                           "the derivative of " + what + " is infinite where its operand is 0, which " + squared +
                               " reaches at " + llvm::join(bases, " = ") + " = 0; the gradient there is nan"});
    const Node &squareNode = graph.node(operand);
    bool plainSquare = node.op == OpKind::Sqrt && !square->summed &&
                       (squareNode.op == OpKind::Mul || *constantOf(graph, squareNode.operands[1]) == 2);
    if (plainSquare) {
      diagnostics.push_back({Severity::Note, node.loc, "write abs(" + bases.front() + ") instead"});
      continue;
    }
    std::string rewritten = node.op == OpKind::Sqrt ? "sqrt(" + squared + " + 1e-12)"
                                                    : "(" + squared + " + 1e-12)^" + formatNumber(*exponent);
    diagnostics.push_back({Severity::Note, node.loc, "add a small epsilon: " + rewritten});
  }
  return diagnostics;
}

} // namespace

int checkCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  const SourceFileRef &file = graph->sourceFile();
  for (const Diagnostic &diagnostic : infiniteDerivativeWarnings(*graph))
    printDiagnostic(llvm::errs(), file.get(), file ? file->name() : options.file, diagnostic);
  return ExitSuccess;
}

int emitLLVMCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  auto functions = emittedFunctions(*graph, options, *selection);
  if (!functions)
    return reportError(llvm::toString(functions.takeError()), ExitUsage);
  auto machine = createTargetMachine("", options.optLevel);
  if (!machine)
    return reportError(machine.takeError());
  llvm::LLVMContext context;
  bool compiledGradient = false;
  auto generated = generateFunctions(*graph, *functions, *selection, prefixFromPath(options.file), context,
                                     compiledGradient);
  if (!generated)
    return reportError(generated.takeError());
  std::unique_ptr<llvm::Module> module = std::move(*generated);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  // The IR that is compiled: a large module of straight-line code gets -O0's pipeline at -O1 and -O2.
  optimizeModule(*module, machine->get(), compilesQuickly(*module, options.optLevel) ? 0 : options.optLevel);
  module->print(llvm::outs(), nullptr);
  return ExitSuccess;
}

} // namespace bpc
