//===- Model.cpp - The whole pipeline, from a script to compiled functions ===//
#include "bp/Model.h"
#include "bp/CodeGen.h"
#include "bp/Frontend.h"

#include <algorithm>

using namespace bp;

namespace {

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// "a, b, c": a hint's list of names.
std::string joinNames(llvm::ArrayRef<std::string> names) {
  std::string list;
  for (const std::string &name : names)
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

/// The positions of `names` among `valid`, increasing, for the option `option`; a name not in `valid`
/// (`describe(name)` says what it is instead) or given twice is an error that ends in `hint`.
llvm::Expected<std::vector<size_t>> positionsOf(llvm::ArrayRef<std::string> names, llvm::ArrayRef<std::string> valid,
                                                const std::string &option, const std::string &hint,
                                                llvm::function_ref<std::string(const std::string &)> describe) {
  std::vector<size_t> positions;
  for (const std::string &name : names) {
    const std::string *found = llvm::find(valid, name);
    if (found == valid.end())
      return error(option + " " + name + ": " + describe(name) + hint);
    size_t position = static_cast<size_t>(found - valid.begin());
    if (llvm::is_contained(positions, position))
      return error(option + " names '" + name + "' twice");
    positions.push_back(position);
  }
  llvm::sort(positions);
  return positions;
}

} // namespace

llvm::Expected<GradientSelection> bp::selectGradient(const Graph &graph, llvm::ArrayRef<std::string> of,
                                                     llvm::ArrayRef<std::string> wrt) {
  GradientSelection selection = GradientSelection::all(graph);
  if (!of.empty()) {
    std::vector<std::string> outputs;
    for (const Graph::Output &output : graph.outputs())
      outputs.push_back(output.name);
    auto chosen = positionsOf(of, outputs, "--of", " (outputs: " + joinNames(outputs) + ")",
                              [&](const std::string &name) -> std::string {
                                std::optional<NodeId> id = graph.lookup(name);
                                if (!id)
                                  return "the script has no output named '" + name + "'";
                                const char *what = !graph.lookupArgument(name)                ? "a node"
                                                   : graph.node(*id).op == OpKind::Param ? "a param"
                                                                                         : "an input";
                                return "'" + name + "' is " + what + ", not an output";
                              });
    if (!chosen)
      return chosen.takeError();
    selection.outputs = std::move(*chosen);
  }
  if (!wrt.empty()) {
    // Columns follow Graph::arguments (inputs, then params); the hint lists the names as the script declares them.
    std::vector<std::string> arguments, declared;
    for (NodeId id : graph.arguments())
      arguments.push_back(graph.node(id).name);
    for (NodeId id : graph.declaredArguments())
      declared.push_back(graph.node(id).name);
    auto chosen = positionsOf(wrt, arguments, "--wrt", " (inputs and params: " + joinNames(declared) + ")",
                              [&](const std::string &name) {
                                std::string what = graph.describeNonArgument(name);
                                return what == "not declared"
                                           ? "the script has no input or param named '" + name + "'"
                                           : "'" + name + "' is " + what + ", not an input or param";
                              });
    if (!chosen)
      return chosen.takeError();
    selection.arguments = std::move(*chosen);
  }
  return selection;
}

llvm::Expected<Model> Model::compile(llvm::StringRef source, const CompileOptions &options) {
  auto file = makeSourceFile(options.name, source.str());
  if (!file)
    return file.takeError();
  return compile(*file, options);
}

llvm::Expected<Graph> bp::compileScriptFile(llvm::StringRef path, uint64_t seed) {
  auto file = loadSourceFile(path.str());
  if (!file)
    return file.takeError();
  return compileScript(*file, seed);
}

llvm::Expected<Model> Model::compileFile(llvm::StringRef path, const CompileOptions &options) {
  auto graph = compileScriptFile(path, options.seed);
  if (!graph)
    return graph.takeError();
  return compile(std::move(*graph), options);
}

llvm::Expected<Model> Model::compile(const SourceFileRef &file, const CompileOptions &options) {
  auto graph = compileScript(file, options.seed);
  if (!graph)
    return graph.takeError();
  return compile(std::move(*graph), options);
}

llvm::Expected<Model> Model::compile(Graph graph, const CompileOptions &options) {
  return compile(std::make_shared<const Graph>(std::move(graph)), options);
}

struct Model::DerivativeFunctions {
  using Jvp = void (*)(const double *, const double *, double *, double *);
  using Hessian = void (*)(const double *, double *, double *);
  std::unique_ptr<CompiledModule> module;
  Jvp jvp = nullptr, vjp = nullptr, hvp = nullptr; // vjp(in, seed_out, out, grad_in), hvp(in, v, out, hv)
  Hessian hessian = nullptr;
};

namespace {

/// The output a Hessian is of: the one `selection` chooses, if it is one scalar output, or the only scalar
/// output when `of` chooses none.
llvm::Expected<size_t> hessianOutput(const Graph &graph, const CompileOptions &options,
                                     const GradientSelection &selection) {
  std::vector<size_t> scalars;
  for (size_t o : selection.outputs)
    if (graph.node(graph.outputs()[o].node).type.isScalar())
      scalars.push_back(o);
  if (options.of.empty() ? scalars.size() == 1 : scalars.size() == 1 && selection.outputs.size() == 1)
    return scalars[0];
  std::vector<std::string> names;
  for (const Graph::Output &output : graph.outputs())
    names.push_back(output.name);
  return error("a Hessian is of one scalar output: name it with `of` (the script's outputs: " + joinNames(names) +
               ")");
}

/// Compiles the derivative functions `options.functions` names into a module of their own.
llvm::Expected<std::unique_ptr<Model::DerivativeFunctions>>
compileDerivatives(const Graph &graph, const CompileOptions &options, const GradientSelection &selection) {
  auto asked = [&](llvm::StringRef name) { return llvm::is_contained(options.functions, name); };
  for (const std::string &name : options.functions)
    if (!llvm::is_contained({"jvp", "vjp", "hessian", "hvp"}, name))
      return error("'" + name + "' is not one of the derivative functions jvp, vjp, hessian and hvp");
  DerivativeFunctionSet set{asked("jvp"), asked("vjp"), asked("hessian"), asked("hvp")};
  if (set.hessian || set.hvp) {
    auto output = hessianOutput(graph, options, selection);
    if (!output)
      return output.takeError();
    set.hessianOutput = *output;
  }
  auto module = CompiledModule::create(options.optLevel, [&](llvm::LLVMContext &context)
                                                             -> llvm::Expected<std::unique_ptr<llvm::Module>> {
    std::unique_ptr<llvm::Module> module = generateModule(graph, nullptr, "bp_model", context);
    if (llvm::Error err = addDerivativeFunctions(*module, graph, set, selection, nullptr, "bp_model"))
      return std::move(err);
    return std::move(module);
  }, options.threads);
  if (!module)
    return module.takeError();
  auto functions = std::make_unique<Model::DerivativeFunctions>();
  auto find = [&](llvm::StringRef name, auto &function) -> llvm::Error {
    if (!asked(name))
      return llvm::Error::success();
    auto found = (*module)->function<std::remove_reference_t<decltype(function)>>("bp_model_" + name.str());
    if (!found)
      return found.takeError();
    function = *found;
    return llvm::Error::success();
  };
  if (llvm::Error err = llvm::joinErrors(llvm::joinErrors(find("jvp", functions->jvp), find("vjp", functions->vjp)),
                                         llvm::joinErrors(find("hessian", functions->hessian),
                                                          find("hvp", functions->hvp))))
    return std::move(err);
  functions->module = std::move(*module);
  return std::move(functions);
}

} // namespace

llvm::Expected<Model> Model::compile(std::shared_ptr<const Graph> graph, const CompileOptions &options) {
  assert(graph && "a model compiles a graph");
  if (options.optLevel > 3)
    return error("optimization level " + std::to_string(options.optLevel) + " is not one of 0, 1, 2 and 3");
  auto selection = selectGradient(*graph, options.of, options.wrt);
  if (!selection)
    return selection.takeError();
  std::unique_ptr<DerivativeFunctions> derivatives;
  if (!options.functions.empty()) {
    auto compiledDerivatives = compileDerivatives(*graph, options, *selection);
    if (!compiledDerivatives)
      return compiledDerivatives.takeError();
    derivatives = std::move(*compiledDerivatives);
  }
  size_t hessianCount = GradientSelection{{}, selection->arguments}.columnOffsets(*graph).back();
  auto compiled = CompiledModel::create(
      *graph, options.gradient ? CompiledModel::ForwardAndGradient : CompiledModel::ForwardOnly, options.optLevel,
      *selection, options.cache, options.threads);
  if (!compiled)
    return compiled.takeError();
  if (!options.gradient)
    *selection = GradientSelection();
  Model model(std::move(graph), std::move(*selection), std::move(*compiled));
  model.derivatives = std::move(derivatives);
  model.hessianCount = hessianCount;
  return std::move(model);
}

/// Calls derivative function `function` of `derivatives`, or says that it was not compiled.
template <typename F, typename... Args>
static llvm::Error callDerivative(const Model::DerivativeFunctions *derivatives, F Model::DerivativeFunctions::*function,
                                  const char *name, Args... args) {
  if (!derivatives || !(derivatives->*function))
    return error(std::string("the model was compiled without its ") + name +
                 " function (CompileOptions::functions)");
  (derivatives->*function)(args...);
  return llvm::Error::success();
}

llvm::Error Model::jvp(const double *in, const double *tangentIn, double *out, double *tangentOut) const {
  return callDerivative(derivatives.get(), &DerivativeFunctions::jvp, "jvp", in, tangentIn, out, tangentOut);
}

llvm::Error Model::vjp(const double *in, const double *seedOut, double *out, double *gradIn) const {
  return callDerivative(derivatives.get(), &DerivativeFunctions::vjp, "vjp", in, seedOut, out, gradIn);
}

llvm::Error Model::hessian(const double *in, double *out, double *hess) const {
  return callDerivative(derivatives.get(), &DerivativeFunctions::hessian, "hessian", in, out, hess);
}

llvm::Error Model::hvp(const double *in, const double *v, double *out, double *hv) const {
  return callDerivative(derivatives.get(), &DerivativeFunctions::hvp, "hvp", in, v, out, hv);
}

Model::Model(Model &&) = default;
Model &Model::operator=(Model &&) = default;

Model::Model(std::shared_ptr<const Graph> shared, GradientSelection selection, std::unique_ptr<CompiledModel> compiled)
    : forwardGraph(std::move(shared)), chosen(std::move(selection)), compiled(std::move(compiled)) {
  std::vector<NodeId> arguments = graph().arguments();
  std::vector<size_t> inOffsets = graph().argumentOffsets(), outOffsets = graph().outputOffsets();
  std::vector<size_t> columns = chosen.columnOffsets(graph()), rows = chosen.rowOffsets(graph());
  for (size_t a = 0; a < arguments.size(); ++a) {
    const Node &node = graph().node(arguments[a]);
    std::optional<size_t> column;
    if (auto found = llvm::find(chosen.arguments, a); found != chosen.arguments.end())
      column = columns[found - chosen.arguments.begin()];
    argumentList.push_back({{node.name, node.type.shape, inOffsets[a + 1] - inOffsets[a], inOffsets[a]},
                            node.op == OpKind::Param ? ArgumentKind::Param : ArgumentKind::Input,
                            node.hasValue,
                            column});
  }
  const auto &outputs = graph().outputs();
  for (size_t o = 0; o < outputs.size(); ++o) {
    std::optional<size_t> row;
    if (auto found = llvm::find(chosen.outputs, o); found != chosen.outputs.end())
      row = rows[found - chosen.outputs.begin()];
    outputList.push_back(
        {{outputs[o].name, graph().node(outputs[o].node).type.shape, outOffsets[o + 1] - outOffsets[o],
          outOffsets[o]},
         row});
  }
  defaultValues = graph().argumentDefaults();
  inCount = inOffsets.back();
  outCount = outOffsets.back();
  gradRowCount = rows.back();
  gradColumnCount = columns.back();
}

Model::~Model() = default;

const ArgumentInfo *Model::findArgument(llvm::StringRef name) const {
  auto found = llvm::find_if(argumentList, [&](const ArgumentInfo &argument) { return argument.name == name; });
  return found == argumentList.end() ? nullptr : &*found;
}

const OutputInfo *Model::findOutput(llvm::StringRef name) const {
  auto found = llvm::find_if(outputList, [&](const OutputInfo &output) { return output.name == name; });
  return found == outputList.end() ? nullptr : &*found;
}

llvm::Error Model::sizeError(size_t in, size_t out, std::optional<size_t> grad) const {
  if (grad && !hasGradient())
    return error("the model was compiled without its gradient");
  std::pair<const char *, size_t> checks[] = {{"in", inCount}, {"out", outCount}, {"grad", gradSize()}};
  size_t sizes[] = {in, out, grad.value_or(gradSize())};
  for (size_t i = 0; i < 3; ++i)
    if (sizes[i] != checks[i].second)
      return error(std::string(checks[i].first) + " has " + std::to_string(sizes[i]) + " doubles; the model takes " +
                   std::to_string(checks[i].second));
  llvm_unreachable("a call whose sizes are right has no size error");
}
