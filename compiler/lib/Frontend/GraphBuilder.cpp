//===- GraphBuilder.cpp - Semantic checks and AST to IR graph -------------===//
//
// Owns the meaning of names: one namespace for inputs, params, nodes and defs, names defined before use and
// exactly once, reserved words, builtin arity, and defs (checked once where they are declared, then inlined
// at every call with their parameters bound to the caller's argument nodes). A def that states its derivative
// (`grad`) is, at each call, its body's value followed by one with_partial per parameter (Ops.def).
//
//===----------------------------------------------------------------------===//
#include "bp/Frontend.h"
#include "bp/LargeStack.h"
#include "bp/Parser.h"
#include "bp/PhaseTimes.h"
#include "bp/Random.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <unordered_map>

using namespace bp;

namespace {

/// How deep expression lowering may recurse, counting the bodies of inlined defs, as a multiple of the
/// parser's nesting limit.
constexpr unsigned LoweringDepthPerNestingLevel = 5;

std::string plural(size_t count, const char *word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

bool isBuiltin(std::string_view name) { return lookupBuiltin(name).has_value(); }

/// The builtin that other languages name `callee` (ln for log, NumPy's maximum for max), if any.
const char *builtinSpelledAs(std::string_view callee) {
  static constexpr std::pair<std::string_view, const char *> otherNames[] = {
      {"ln", "log"},    {"maximum", "max"}, {"minimum", "min"},
      {"power", "pow"}, {"fabs", "abs"},    {"logistic", "sigmoid"}};
  for (const auto &[other, builtin] : otherNames)
    if (callee == other)
      return builtin;
  return nullptr;
}

/// The op of a call that may take `axis=`: sum, mean, argmax, the softmax family, and max and min as
/// reductions (one argument, or an axis; with two or more arguments they are elementwise).
std::optional<OpKind> alongAxisOp(const CallExpr &call) {
  if (call.callee == "max" || call.callee == "min") {
    if (call.args.size() != 1 && !call.axis)
      return std::nullopt;
    return call.callee == "max" ? OpKind::ReduceMax : OpKind::ReduceMin;
  }
  std::optional<OpKind> op = lookupBuiltin(call.callee);
  return op && takesAxis(*op) ? op : std::nullopt;
}

OpKind compareOpKind(CompareOp op) {
  switch (op) {
  case CompareOp::Less:
    return OpKind::Less;
  case CompareOp::LessEqual:
    return OpKind::LessEqual;
  case CompareOp::Greater:
    return OpKind::Greater;
  case CompareOp::GreaterEqual:
    return OpKind::GreaterEqual;
  case CompareOp::Equal:
    return OpKind::Equal;
  case CompareOp::NotEqual:
    return OpKind::NotEqual;
  }
  llvm_unreachable("every comparison has an op above");
}

class GraphBuilder {
public:
  GraphBuilder(const Script &script, DiagnosticEngine &diags, uint64_t seed)
      : graph(script.file), diags(diags), maxDepth(LoweringDepthPerNestingLevel * nestingLimit()), random(seed) {
    for (const std::string &name : script.poisonedNames)
      poisoned.insert(name);
  }

  std::optional<Graph> build(const Script &script);

private:
  struct Symbol {
    enum Kind { Value, Def } kind;
    NodeId node = InvalidNode;   // Value
    const DefDecl *def = nullptr; // Def; null when the def's body had errors
    SourceLoc loc;
    size_t expandedSize = 0;      // Def: the nodes one call adds, at most MaxGraphNodes + 1
  };

  /// Where names in an expression are looked up: the script's symbols, or a def's parameters.
  struct Scope {
    Graph *target;                 // the graph nodes are added to
    const DefDecl *def = nullptr;  // the def whose body is being lowered, if any
    std::vector<NodeId> bindings;  // the node bound to each of def->params
    bool report = true;            // false when inlining a body already checked
    size_t expandedSize = 0;       // the nodes lowering has added, counting what each def call inlines
  };

  void declareInput(const InputDecl &decl);
  void declareParam(const ParamDecl &decl);
  void declareNode(const NodeDecl &decl);
  void declareOutputs(const OutputDecl &decl);
  void declareDef(const DefDecl &decl);

  bool checkNewName(const Name &name);
  bool declareTensor(OpKind kind, const Name &name, const std::optional<TensorDecl> &tensor);
  /// Tensor syntax that parses but has no graph yet: one message per statement, at the construct.
  void notSupported(const Scope &scope, SourceLoc loc, const std::string &construct) {
    if (!reportedNotSupported)
      error(scope, loc, "tensors are not supported yet: " + construct);
    reportedNotSupported = reportedNotSupported || scope.report;
  }
  void reportTooLarge(SourceLoc loc) {
    if (!reportedTooLarge)
      diags.error(loc, "script expands to more than " + std::to_string(MaxGraphNodes) +
                           " nodes (defs are inlined at every call)");
    reportedTooLarge = true;
  }
  /// A shape rule's error: at `loc`, or, inside an inlined def, at the call with a note at `loc`.
  void shapeError(const Scope &scope, SourceLoc loc, std::string message);
  void error(const Scope &scope, SourceLoc loc, std::string message) {
    if (scope.report)
      diags.error(loc, std::move(message));
  }

  NodeId lower(const Expr &expr, Scope &scope);
  NodeId lowerName(const Expr &expr, const NameExpr &name, Scope &scope);
  NodeId lowerCall(const Expr &expr, const CallExpr &call, Scope &scope);
  NodeId lowerIndex(const Expr &expr, const IndexExpr &index, Scope &scope);
  NodeId lowerAlongAxis(const Expr &expr, const CallExpr &call, OpKind op, Scope &scope);
  NodeId statePartial(Scope &scope, size_t param, NodeId value);
  NodeId apply(Scope &scope, OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc,
               llvm::ArrayRef<int64_t> attrs = {});

  Graph graph;
  DiagnosticEngine &diags;
  // StringMaps: a script declares up to millions of names, each looked up at every use.
  llvm::StringSet<> poisoned;
  llvm::StringMap<Symbol> symbols;
  llvm::StringMap<SourceLoc> outputNames;
  unsigned maxDepth;
  unsigned depth = 0;
  unsigned inlineDepth = 0; // how many def bodies are being inlined, one inside the other
  SourceLoc inlineSite;     // the call that started the outermost of them
  bool reportedTooLarge = false;
  bool reportedTooDeep = false;
  bool reportedNotSupported = false; // in the current statement
  RandomStream random; // normal() and uniform() initializers draw from it, in declaration order
  size_t elements = 0; // numbers in the script's values so far, at most MaxGraphElements
  /// Counts a value of `shape` added to the script's graph; false (and an error at `loc`, once) past the limit.
  bool countElements(const Scope &scope, llvm::ArrayRef<int64_t> shape, SourceLoc loc);
  bool reportedTooManyElements = false;
};

bool GraphBuilder::countElements(const Scope &scope, llvm::ArrayRef<int64_t> shape, SourceLoc loc) {
  if (scope.target != &graph)
    return true; // a def's scratch graph
  elements += static_cast<size_t>(elementCount(shape));
  if (elements <= MaxGraphElements)
    return true;
  if (!reportedTooManyElements)
    diags.error(scope.report ? loc : inlineSite, "the script's values take more than " +
                                                     std::to_string(MaxGraphElements) + " numbers in all");
  reportedTooManyElements = true;
  return false;
}

bool GraphBuilder::checkNewName(const Name &name) {
  if (isBuiltin(name.text)) {
    diags.error(name.loc, "'" + name.text + "' is the name of a builtin function and cannot be redefined");
    return false;
  }
  if (isReservedWord(name.text)) {
    diags.error(name.loc, "'" + name.text + "' is a reserved word and cannot be used as a name");
    return false;
  }
  auto previous = symbols.find(name.text);
  if (previous != symbols.end()) {
    diags.error(name.loc, "redefinition of '" + name.text + "'");
    diags.note(previous->second.loc, "previous definition of '" + name.text + "' is here");
    return false;
  }
  return true;
}

/// A shaped input or param, with its value: a literal (the parser checked its shape), one number for every
/// element, or numbers drawn row-major from the script's random stream. False for a scalar declaration.
bool GraphBuilder::declareTensor(OpKind kind, const Name &name, const std::optional<TensorDecl> &tensor) {
  if (!tensor)
    return false;
  const Shape &shape = tensor->shape.dims;
  if (!countElements(Scope{&graph, nullptr, {}, true}, shape, tensor->shape.loc)) {
    poisoned.insert(name.text);
    return true;
  }
  std::optional<std::vector<double>> data;
  if (const std::optional<TensorInit> &init = tensor->init) {
    size_t count = static_cast<size_t>(elementCount(shape));
    switch (init->kind) {
    case TensorInit::Literal:
      data = init->values;
      break;
    case TensorInit::Fill:
      data = std::vector<double>(count, init->values[0]);
      break;
    case TensorInit::Normal:
    case TensorInit::Uniform:
      data.emplace(count);
      for (double &element : *data)
        element = init->kind == TensorInit::Normal ? random.normal(init->values[0], init->values[1])
                                                   : random.uniform(init->values[0], init->values[1]);
      break;
    }
  }
  if (!checkNewName(name))
    return true;
  NodeId id = graph.addTensorArgument(kind, name.text, name.loc, shape, std::move(data));
  symbols[name.text] = {Symbol::Value, id, nullptr, name.loc};
  return true;
}

void GraphBuilder::declareInput(const InputDecl &decl) {
  if (declareTensor(OpKind::Input, decl.name, decl.tensor) || !checkNewName(decl.name))
    return;
  NodeId id = graph.addArgument(OpKind::Input, decl.name.text, decl.name.loc, decl.defaultValue);
  symbols[decl.name.text] = {Symbol::Value, id, nullptr, decl.name.loc};
}

void GraphBuilder::declareParam(const ParamDecl &decl) {
  if (declareTensor(OpKind::Param, decl.name, decl.tensor) || !checkNewName(decl.name))
    return;
  NodeId id = graph.addArgument(OpKind::Param, decl.name.text, decl.name.loc, decl.initialValue);
  symbols[decl.name.text] = {Symbol::Value, id, nullptr, decl.name.loc};
}

void GraphBuilder::declareNode(const NodeDecl &decl) {
  bool nameOk = checkNewName(decl.name);
  Scope scope{&graph, nullptr, {}, true};
  NodeId id = lower(*decl.value, scope);
  if (!nameOk)
    return;
  if (id == InvalidNode) {
    poisoned.insert(decl.name.text);
    return;
  }
  // `node e = d` makes e another name for d's node; otherwise the node takes the declared name.
  Node &node = graph.node(id);
  if (node.name.empty())
    node.name = decl.name.text;
  graph.bindName(decl.name.text, id);
  symbols[decl.name.text] = {Symbol::Value, id, nullptr, decl.name.loc};
}

void GraphBuilder::declareOutputs(const OutputDecl &decl) {
  for (const Name &name : decl.names) {
    auto symbol = symbols.find(name.text);
    if (symbol == symbols.end()) {
      if (!poisoned.count(name.text))
        diags.error(name.loc, "output names '" + name.text + "', which is not defined");
      continue;
    }
    if (symbol->second.kind == Symbol::Def) {
      diags.error(name.loc, "output names '" + name.text + "', which is a def, not a value");
      continue;
    }
    auto previous = outputNames.find(name.text);
    if (previous != outputNames.end()) {
      diags.error(name.loc, "'" + name.text + "' is already an output");
      diags.note(previous->second, "first declared as an output here");
      continue;
    }
    outputNames[name.text] = name.loc;
    graph.addOutput(name.text, symbol->second.node, name.loc);
  }
}

void GraphBuilder::declareDef(const DefDecl &decl) {
  bool ok = checkNewName(decl.name);
  std::unordered_map<std::string, SourceLoc> seen;
  for (const Name &param : decl.params) {
    if (isReservedWord(param.text)) {
      diags.error(param.loc, "'" + param.text + "' is a reserved word and cannot be used as a parameter name");
      ok = false;
    } else if (auto previous = seen.find(param.text); previous != seen.end()) {
      diags.error(param.loc, "duplicate parameter '" + param.text + "' in def '" + decl.name.text + "'");
      diags.note(previous->second, "first declared here");
      ok = false;
    }
    seen.emplace(param.text, param.loc);
  }
  // Check the body once, in a scratch graph, with a placeholder input for each parameter.
  Graph scratch;
  Scope scope{&scratch, &decl, {}, true};
  for (const Name &param : decl.params)
    scope.bindings.push_back(scratch.addArgument(OpKind::Input, param.text, param.loc, 0.0));
  if (lower(*decl.body, scope) == InvalidNode)
    ok = false;
  if (decl.gradLoc.isValid() && decl.partials.size() != decl.params.size()) {
    diags.error(decl.gradLoc, "def '" + decl.name.text + "' has " + plural(decl.params.size(), "parameter") +
                                  " but its grad gives " + plural(decl.partials.size(), "partial"));
    ok = false;
  }
  for (const ExprPtr &partial : decl.partials)
    if (lower(*partial, scope) == InvalidNode)
      ok = false;
  scope.expandedSize = std::min(scope.expandedSize + decl.partials.size(), MaxGraphNodes + 1); // the with_partials
  if (symbols.count(decl.name.text) || isReservedWord(decl.name.text))
    return; // already reported as a redefinition
  symbols[decl.name.text] = {Symbol::Def, InvalidNode, ok ? &decl : nullptr, decl.name.loc, scope.expandedSize};
}

/// Adds `op` with its shape from the op's shape rule; a rule's error (shapes that do not broadcast or
/// multiply) is reported at the operator (shapeError).
NodeId GraphBuilder::apply(Scope &scope, OpKind op, llvm::ArrayRef<NodeId> operands, SourceLoc loc,
                           llvm::ArrayRef<int64_t> attrs) {
  for (NodeId operand : operands)
    if (operand == InvalidNode)
      return InvalidNode;
  if (scope.target->size() >= MaxGraphNodes) {
    reportTooLarge(scope.report ? loc : inlineSite);
    return InvalidNode;
  }
  scope.expandedSize = std::min(scope.expandedSize + 1, MaxGraphNodes + 1);
  auto id = scope.target->addOp(op, operands, loc, attrs);
  if (id)
    return countElements(scope, scope.target->node(*id).type.shape, loc) ? *id : InvalidNode;
  // A def's body is checked with scalar placeholders for its parameters, whose shapes are known only at each
  // call: there a placeholder stands for the result, and the shapes are checked where the body is inlined.
  if (scope.def && scope.report) {
    llvm::consumeError(id.takeError());
    return scope.target->addNode(OpKind::Const, {}, loc);
  }
  shapeError(scope, loc, llvm::toString(id.takeError()));
  return InvalidNode;
}

void GraphBuilder::shapeError(const Scope &scope, SourceLoc loc, std::string message) {
  if (scope.report) {
    diags.error(loc, std::move(message));
    return;
  }
  diags.error(inlineSite, std::move(message));
  diags.note(loc, "in def '" + scope.def->name.text + "', inlined here");
}

NodeId GraphBuilder::lower(const Expr &expr, Scope &scope) {
  if (reportedTooLarge)
    return InvalidNode; // stop at once: the rest of an exponential expansion would take forever to walk
  if (depth >= maxDepth || stackNearlyExhausted()) {
    if (!reportedTooDeep)
      diags.error(scope.report ? expr.loc : inlineSite,
                  "expression is nested too deeply once defs are inlined (more than " + std::to_string(depth) +
                      " levels)");
    reportedTooDeep = true;
    return InvalidNode;
  }
  ++depth;
  struct Leave {
    unsigned &depth;
    ~Leave() { --depth; }
  } leave{depth};

  if (auto *number = std::get_if<NumberExpr>(&expr.kind)) {
    NodeId id = apply(scope, OpKind::Const, {}, expr.loc);
    if (id != InvalidNode)
      scope.target->node(id).value = number->value;
    return id;
  }
  if (auto *name = std::get_if<NameExpr>(&expr.kind))
    return lowerName(expr, *name, scope);
  if (auto *call = std::get_if<CallExpr>(&expr.kind))
    return lowerCall(expr, *call, scope);
  if (auto *index = std::get_if<IndexExpr>(&expr.kind))
    return lowerIndex(expr, *index, scope);
  if (auto *compare = std::get_if<CompareExpr>(&expr.kind)) {
    NodeId lhs = lower(*compare->lhs, scope);
    NodeId rhs = lower(*compare->rhs, scope);
    return apply(scope, compareOpKind(compare->op), {lhs, rhs}, compare->opLoc);
  }
  if (auto *negate = std::get_if<NegateExpr>(&expr.kind)) {
    NodeId value = lower(*negate->operand, scope);
    for (unsigned i = 0; i < negate->count; ++i)
      value = apply(scope, OpKind::Neg, {value}, expr.loc);
    return value;
  }
  if (auto *chain = std::get_if<ChainExpr>(&expr.kind)) {
    NodeId value = lower(*chain->first, scope);
    for (const ChainExpr::Link &link : chain->rest) {
      OpKind op = link.op == '+' ? OpKind::Add : link.op == '-' ? OpKind::Sub
                : link.op == '*' ? OpKind::Mul : link.op == '/' ? OpKind::Div : OpKind::MatMul;
      NodeId operand = lower(*link.operand, scope);
      value = apply(scope, op, {value, operand}, link.opLoc);
    }
    return value;
  }
  // Power chains associate to the right: a ^ b ^ c is a ^ (b ^ c). Lower operands left to right, then fold.
  const auto &power = std::get<PowerExpr>(expr.kind);
  std::vector<NodeId> operands{lower(*power.base, scope)};
  for (const PowerExpr::Link &link : power.exponents)
    operands.push_back(lower(*link.operand, scope));
  NodeId value = operands.back();
  for (size_t i = power.exponents.size(); i-- > 0;) {
    const PowerExpr::Link &link = power.exponents[i];
    for (unsigned k = 0; k < link.negations; ++k)
      value = apply(scope, OpKind::Neg, {value}, link.opLoc);
    value = apply(scope, OpKind::Pow, {operands[i], value}, link.opLoc);
  }
  return value;
}

/// Indexing, one item per leading dimension: an integer literal (negative counts from the end; the dimension
/// dropped), a slice with literal bounds (clamped as NumPy clamps them; the dimension kept), or a scalar
/// expression whose value is the index at run time (the dimension dropped). The literal items make one Index
/// node, in which a run-time item takes its dimension whole; then each run-time item a DynamicIndex along the
/// axis where its dimension is left.
NodeId GraphBuilder::lowerIndex(const Expr &expr, const IndexExpr &index, Scope &scope) {
  auto isLiteral = [](const IndexExpr::Item &item) {
    return item.slice || std::holds_alternative<NumberExpr>(item.index->kind);
  };
  NodeId base = lower(*index.base, scope);
  std::vector<NodeId> runTime(index.items.size(), InvalidNode);
  bool lowered = base != InvalidNode;
  for (size_t d = 0; d < index.items.size(); ++d)
    if (!isLiteral(index.items[d])) {
      runTime[d] = lower(*index.items[d].index, scope);
      lowered = lowered && runTime[d] != InvalidNode;
    }
  if (!lowered)
    return InvalidNode;
  if (scope.def && scope.report) // a def's parameters have their shapes at each call
    return scope.target->addNode(OpKind::Const, {}, expr.loc);
  const Shape &shape = scope.target->node(base).type.shape;
  if (index.items.size() > shape.size()) {
    shapeError(scope, expr.loc, "cannot index " + formatShape(shape) + " with " +
                                    std::to_string(index.items.size()) +
                                    (index.items.size() == 1 ? " index" : " indices") +
                                    (shape.empty() ? ": it is a scalar" : ""));
    return InvalidNode;
  }
  std::vector<int64_t> attrs;
  size_t literalEnd = 0; // attrs up to the last item that does not take its dimension whole
  for (size_t d = 0; d < index.items.size(); ++d) {
    const IndexExpr::Item &item = index.items[d];
    if (!isLiteral(item)) {
      const Shape &indexShape = scope.target->node(runTime[d]).type.shape;
      if (!indexShape.empty()) {
        shapeError(scope, item.loc, "an index must be a scalar, not " + formatShape(indexShape));
        return InvalidNode;
      }
      attrs.insert(attrs.end(), {IndexSlice, 0, shape[d]});
      continue;
    }
    if (item.slice) {
      auto bounds = normalizeSlice(item.slice->lo, item.slice->hi, shape[d], d);
      if (!bounds) {
        shapeError(scope, item.loc, llvm::toString(bounds.takeError()));
        return InvalidNode;
      }
      attrs.insert(attrs.end(), {IndexSlice, bounds->first, bounds->second});
      literalEnd = bounds->second - bounds->first == shape[d] ? literalEnd : attrs.size();
      continue;
    }
    double written = std::get<NumberExpr>(item.index->kind).value;
    auto position = normalizeIndex(static_cast<int64_t>(std::clamp(written, -9e18, 9e18)), shape[d], d);
    if (!position) {
      shapeError(scope, item.loc, llvm::toString(position.takeError()));
      return InvalidNode;
    }
    attrs.insert(attrs.end(), {IndexInteger, *position, *position + 1});
    literalEnd = attrs.size();
  }
  attrs.resize(literalEnd);
  NodeId value = attrs.empty() ? base : apply(scope, OpKind::Index, {base}, expr.loc, attrs);
  int64_t axis = 0; // where dimension d is in `value`
  for (size_t d = 0; d < index.items.size() && value != InvalidNode; ++d) {
    if (runTime[d] != InvalidNode)
      value = apply(scope, OpKind::DynamicIndex, {value, runTime[d]}, expr.loc, {axis});
    else if (index.items[d].slice)
      ++axis;
  }
  return value;
}

/// sum, mean, max, min, argmax: every element, or with `axis=K` the one axis K (negative counts from the end),
/// which the node keeps as attrs {axis}, counted from 0. softmax, log_softmax, logsumexp: the last axis unless
/// `axis=K` says otherwise (a scalar, which has none, is one run of one element).
NodeId GraphBuilder::lowerAlongAxis(const Expr &expr, const CallExpr &call, OpKind op, Scope &scope) {
  std::vector<NodeId> args;
  for (const ExprPtr &arg : call.args)
    args.push_back(lower(*arg, scope));
  if (args.size() != 1) {
    bool reduces = op == OpKind::ReduceMax || op == OpKind::ReduceMin; // max(a, b) is elementwise
    error(scope, expr.loc, "builtin '" + call.callee + "' " + (reduces ? "with 'axis' " : "") + "takes 1 argument, but " +
                               std::to_string(args.size()) + (args.size() == 1 ? " was" : " were") + " given");
    return InvalidNode;
  }
  if (args[0] == InvalidNode)
    return InvalidNode;
  if (scope.def && scope.report) // a def's parameters have their shapes at each call
    return apply(scope, op, args, expr.loc);
  const Shape &shape = scope.target->node(args[0]).type.shape;
  bool softmaxFamily = op == OpKind::Softmax || op == OpKind::LogSoftmax || op == OpKind::LogSumExp;
  if (!call.axis && (!softmaxFamily || shape.empty()))
    return apply(scope, op, args, expr.loc);
  auto axis = normalizeAxis(call.axis ? call.axis->value : -1, shape);
  if (!axis) {
    shapeError(scope, call.axis->valueLoc, llvm::toString(axis.takeError()));
    return InvalidNode;
  }
  return apply(scope, op, args, expr.loc, {static_cast<int64_t>(*axis)});
}

NodeId GraphBuilder::lowerName(const Expr &expr, const NameExpr &name, Scope &scope) {
  const std::string &text = name.name;
  if (scope.def) {
    for (size_t i = 0; i < scope.def->params.size(); ++i)
      if (scope.def->params[i].text == text)
        return scope.bindings[i];
  }
  if (isBuiltin(text)) {
    std::optional<OpKind> builtin = lookupBuiltin(text);
    unsigned arity = builtin ? getOpInfo(*builtin).arity : 1;
    const char *arguments = arity == 1 ? "(x)" : arity == 2 ? "(x, y)" : "(c, x, y)";
    error(scope, expr.loc, "'" + text + "' is a builtin function; call it with arguments, as in " + text + arguments);
    return InvalidNode;
  }
  auto symbol = symbols.find(text);
  if (symbol != symbols.end() && symbol->second.kind == Symbol::Def) {
    error(scope, expr.loc, "'" + text + "' is a def; call it with arguments, as in " + text + "(...)");
    return InvalidNode;
  }
  if (scope.def && symbol != symbols.end()) {
    error(scope, expr.loc, "def '" + scope.def->name.text + "' cannot use '" + text +
                               "': a def's body sees only its own parameters");
    return InvalidNode;
  }
  if (symbol != symbols.end())
    return symbol->second.node;
  if (!poisoned.count(text) || scope.def)
    error(scope, expr.loc, "use of undefined name '" + text + "'");
  return InvalidNode;
}

NodeId GraphBuilder::lowerCall(const Expr &expr, const CallExpr &call, Scope &scope) {
  const std::string &callee = call.callee;
  auto lowerArgs = [&] {
    std::vector<NodeId> args;
    for (const ExprPtr &arg : call.args)
      args.push_back(lower(*arg, scope));
    return args;
  };
  // `takes` says how many arguments the message asks for, where that is not just `expected`.
  auto checkArity = [&](size_t expected, const char *what, std::string takes = "") {
    if (call.args.size() == expected)
      return true;
    error(scope, expr.loc, std::string(what) + " '" + callee + "' takes " +
                               (takes.empty() ? plural(expected, "argument") : takes) +
                               ", but " + std::to_string(call.args.size()) +
                               (call.args.size() == 1 ? " was" : " were") + " given");
    return false;
  };

  if (std::optional<OpKind> op = alongAxisOp(call))
    return lowerAlongAxis(expr, call, *op, scope);
  auto refuseAxis = [&](const char *what) {
    if (!call.axis)
      return false;
    error(scope, call.axis->loc, std::string(what) + " '" + callee + "' takes no 'axis' argument");
    lowerArgs();
    return true;
  };
  if (std::optional<OpKind> builtin = lookupBuiltin(callee)) {
    if (refuseAxis("builtin"))
      return InvalidNode;
    // max and min take any number of arguments: one is a reduction (alongAxisOp), more a left fold of the
    // elementwise op, so ties go to the earliest argument, as with two.
    bool minOrMax = *builtin == OpKind::Max || *builtin == OpKind::Min;
    bool arityOk = minOrMax ? call.args.size() >= 2 || checkArity(2, "builtin", "at least 1 argument")
                            : checkArity(getOpInfo(*builtin).arity, "builtin");
    std::vector<NodeId> args = lowerArgs();
    if (!arityOk)
      return InvalidNode;
    if (minOrMax) {
      NodeId folded = args[0];
      for (size_t i = 1; i < args.size(); ++i)
        folded = apply(scope, *builtin, {folded, args[i]}, expr.loc);
      return folded;
    }
    if (*builtin == OpKind::Transpose && args[0] != InvalidNode && !(scope.def && scope.report))
      if (auto shape = transposeShape(scope.target->node(args[0]).type.shape); !shape) {
        shapeError(scope, call.args[0]->loc, llvm::toString(shape.takeError()));
        return InvalidNode;
      }
    return apply(scope, *builtin, args, expr.loc);
  }
  if (scope.def && callee == scope.def->name.text) {
    error(scope, expr.loc, "def '" + callee + "' calls itself; recursion is not allowed");
    lowerArgs();
    return InvalidNode;
  }
  auto symbol = symbols.find(callee);
  if (symbol == symbols.end()) {
    if (!poisoned.count(callee)) {
      error(scope, expr.loc, "call to undefined function '" + callee + "'");
      if (const char *builtin = builtinSpelledAs(callee); builtin && scope.report)
        diags.note(expr.loc, std::string("did you mean '") + builtin + "'?");
    }
    lowerArgs();
    return InvalidNode;
  }
  if (symbol->second.kind != Symbol::Def) {
    error(scope, expr.loc, "'" + callee + "' is a value, not a function");
    lowerArgs();
    return InvalidNode;
  }
  if (refuseAxis("def"))
    return InvalidNode;
  const DefDecl *def = symbol->second.def;
  bool arityOk = !def || checkArity(def->params.size(), "def");
  std::vector<NodeId> args = lowerArgs();
  if (!def || !arityOk)
    return InvalidNode; // a def whose body had errors: already reported where it was declared
  for (NodeId arg : args)
    if (arg == InvalidNode)
      return InvalidNode;
  // A def's size is known from its declaration: refuse a call that would take the graph past the limit
  // before inlining anything (a few doubling defs describe billions of nodes).
  size_t size = symbol->second.expandedSize;
  scope.expandedSize = std::min(scope.expandedSize + size, MaxGraphNodes + 1);
  // While checking a def's body, a call to an earlier (already checked) def only needs its arity checked:
  // a placeholder stands for its result, so checking never expands nested calls.
  if (scope.def && scope.report)
    return scope.target->addNode(OpKind::Const, {}, expr.loc);
  if (scope.report && scope.target->size() + size > MaxGraphNodes) {
    reportTooLarge(expr.loc);
    diags.note(def->name.loc, "def '" + def->name.text + "' expands to " +
                                  (size > MaxGraphNodes ? "more than " + std::to_string(MaxGraphNodes)
                                                        : std::to_string(size)) +
                                  " nodes at each call");
    return InvalidNode;
  }
  Scope inlined{scope.target, def, std::move(args), /*report=*/false};
  if (inlineDepth++ == 0)
    inlineSite = expr.loc; // limits hit inside inlined bodies are reported at the outermost call
  NodeId result = lower(*def->body, inlined);
  for (size_t i = 0; i < def->partials.size() && result != InvalidNode; ++i)
    result = statePartial(inlined, i, result);
  --inlineDepth;
  return result;
}

/// The stated derivative by parameter #param of the def being inlined: with_partial(value, its argument, the
/// partial). The result's, the partial's and the argument's shapes broadcast together, as an elementwise op's
/// operands do: the adjoint times the partial is broadcast, then summed back to the argument's shape (so a
/// reduction may state its partial elementwise, `sum(x^2) grad 2*x`, and a scalar partial serves any argument).
NodeId GraphBuilder::statePartial(Scope &scope, size_t param, NodeId value) {
  const Expr &expr = *scope.def->partials[param];
  NodeId partial = lower(expr, scope);
  if (partial == InvalidNode)
    return InvalidNode;
  NodeId arg = scope.bindings[param];
  const Shape &result = scope.target->node(value).type.shape, &stated = scope.target->node(partial).type.shape,
              &argument = scope.target->node(arg).type.shape;
  std::string which = "the partial by '" + scope.def->params[param].text + "' of def '" + scope.def->name.text + "'";
  auto product = broadcastShapes(result, stated, "multiply");
  if (!product) {
    llvm::consumeError(product.takeError());
    shapeError(scope, expr.loc, which + " has shape " + formatShape(stated) +
                                    ", which does not broadcast with its result's shape " + formatShape(result));
    return InvalidNode;
  }
  if (auto error = broadcastShapes(*product, argument, "multiply").takeError()) {
    llvm::consumeError(std::move(error));
    shapeError(scope, expr.loc, which + " times its result has shape " + formatShape(*product) +
                                    ", which does not broadcast with the argument's shape " + formatShape(argument));
    return InvalidNode;
  }
  return apply(scope, OpKind::WithPartial, {value, arg, partial}, expr.loc, {param == 0 ? 1 : 0});
}

std::optional<Graph> GraphBuilder::build(const Script &script) {
  bool hadSyntaxErrors = diags.hasErrors();
  for (const Statement &statement : script.statements) {
    reportedNotSupported = false;
    std::visit(
        [&](const auto &decl) {
          using T = std::decay_t<decltype(decl)>;
          if constexpr (std::is_same_v<T, InputDecl>)
            declareInput(decl);
          else if constexpr (std::is_same_v<T, ParamDecl>)
            declareParam(decl);
          else if constexpr (std::is_same_v<T, NodeDecl>)
            declareNode(decl);
          else if constexpr (std::is_same_v<T, OutputDecl>)
            declareOutputs(decl);
          else
            declareDef(decl);
        },
        statement.kind);
  }
  if (graph.outputs().empty() && !diags.hasErrors() && !hadSyntaxErrors)
    diags.error({}, "script has no output; name its results with a line such as 'output f'");
  if (diags.hasErrors())
    return std::nullopt;
  assert(!llvm::errorToBool(graph.verify()) && "the graph builder sets every node's shape by its op's rule");
  return std::move(graph);
}

} // namespace

std::optional<Graph> bp::buildGraph(const Script &script, DiagnosticEngine &diags, uint64_t seed) {
  PhaseTimer timer("graph");
  std::optional<Graph> result;
  // Lowering recurses once per level of nesting (and per inlined def): give it the large stack too.
  runWithLargeStack([&] { result = GraphBuilder(script, diags, seed).build(script); });
  return result;
}

llvm::Expected<Graph> bp::compileScript(const SourceFileRef &file, uint64_t seed) {
  DiagnosticEngine diags(file);
  Script script = parseScript(file, diags);
  std::optional<Graph> graph = buildGraph(script, diags, seed);
  if (llvm::Error err = diags.takeError())
    return err;
  return std::move(*graph);
}
