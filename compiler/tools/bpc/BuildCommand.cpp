//===- BuildCommand.cpp - bpc build: a native object and a C header -------===//
//
// Writes the object and the header through OutputFile.h: both are put in place only once both are complete, so
// a failed build leaves existing files untouched; neither may be the script itself. With --train-step, the
// object also holds PREFIX_train_step, `bpc train`'s step for the options given. --emit-fn chooses the derivative
// functions beside PREFIX_forward (here for emit-llvm too): PREFIX_gradient, PREFIX_jvp, PREFIX_vjp, PREFIX_hessian
// and PREFIX_hvp.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "OutputFile.h"

#include "bp/CodeGen.h"
#include "bp/DataSet.h"
#include "bp/Shape.h"
#include "bp/Target.h"

#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {
namespace {

std::string defaultOutputPath(const Options &options) {
  const char *extension = options.emit == "asm" ? ".s" : options.emit == "llvm" ? ".ll" : ".o";
  return llvm::sys::path::stem(options.file).str() + extension;
}

/// The output PREFIX_hessian and PREFIX_hvp differentiate (`function` names the first asked for in errors): the
/// one --of chooses, or else the script's only scalar output. Any other case is a usage error.
llvm::Expected<size_t> hessianOutput(const Graph &graph, const Options &options, const GradientSelection &selection,
                                     const std::string &function) {
  const auto &outputs = graph.outputs();
  auto isScalar = [&](size_t o) { return graph.node(outputs[o].node).type.isScalar(); };
  std::vector<size_t> candidates = selection.outputs;
  if (options.of.empty())
    llvm::erase_if(candidates, [&](size_t o) { return !isScalar(o); });
  std::string names;
  for (size_t o : candidates)
    names += (names.empty() ? "" : ", ") + outputs[o].name;
  auto error = [&](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "--emit-fn " + function + ": " + message);
  };
  if (candidates.size() == 1 && isScalar(candidates[0]))
    return candidates[0];
  if (candidates.size() == 1)
    return error("output '" + names + "' has shape " + formatShape(graph.node(outputs[candidates[0]].node).type.shape) +
                 "; a Hessian needs a scalar output");
  if (!options.of.empty())
    return error("--of chooses " + std::to_string(candidates.size()) + " outputs (" + names +
                 "); a Hessian is of one scalar output");
  if (candidates.empty())
    return error("the script has no scalar output; a Hessian needs one");
  return error("the script has " + std::to_string(candidates.size()) + " scalar outputs (" + names +
               "); choose one with --of");
}

/// Adds the derivative functions of `functions` but PREFIX_gradient (generateModule's) to `module`: PREFIX_vjp
/// from `gradient` where it was built, else from a gradient graph built here.
llvm::Error addDerivativeFunctions(llvm::Module &module, const Graph &graph, const EmittedFunctions &functions,
                                   const GradientSelection &selection, const std::optional<GradientGraph> &gradient,
                                   const std::string &prefix) {
  if (functions.jvp) {
    auto tangents = buildTangentGraph(graph);
    if (!tangents)
      return tangents.takeError();
    emitJvpFunction(module, graph, *tangents, prefix + "_jvp");
  }
  if (functions.vjp) {
    if (gradient) {
      emitVjpFunction(module, graph, *gradient, prefix + "_vjp");
    } else {
      auto built = buildGradientGraph(graph, selection);
      if (!built)
        return built.takeError();
      emitVjpFunction(module, graph, *built, prefix + "_vjp");
    }
  }
  if (functions.hessian) {
    auto hessian = buildHessianGraph(graph, functions.hessianOutput, selection.arguments);
    if (!hessian)
      return hessian.takeError();
    emitHessianFunction(module, graph, *hessian, prefix + "_hessian");
  }
  if (functions.hvp) {
    auto hvp = buildHessianVectorGraph(graph, functions.hessianOutput, selection.arguments);
    if (!hvp)
      return hvp.takeError();
    emitHvpFunction(module, graph, *hvp, prefix + "_hvp");
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<EmittedFunctions> emittedFunctions(const Graph &graph, const Options &options,
                                                  const GradientSelection &selection) {
  EmittedFunctions functions;
  if (options.emitFunctions.empty())
    return functions;
  auto asked = [&](const char *name) { return llvm::is_contained(options.emitFunctions, name); };
  functions = {asked("gradient"), asked("jvp"), asked("vjp"), asked("hessian"), asked("hvp")};
  if (!functions.hessian && !functions.hvp)
    return functions;
  auto output = hessianOutput(graph, options, selection, functions.hessian ? "hessian" : "hvp");
  if (!output)
    return output.takeError();
  functions.hessianOutput = *output;
  return functions;
}

llvm::Expected<std::unique_ptr<llvm::Module>> generateFunctions(const Graph &graph, const EmittedFunctions &functions,
                                                                const GradientSelection &selection,
                                                                const std::string &prefix, llvm::LLVMContext &context,
                                                                bool &compiledGradient) {
  std::optional<GradientGraph> gradient;
  if (functions.gradient)
    gradient = gradientToCompile(graph, prefix, selection);
  compiledGradient = gradient.has_value();
  std::unique_ptr<llvm::Module> module = generateModule(graph, gradient ? &*gradient : nullptr, prefix, context);
  if (llvm::Error err = addDerivativeFunctions(*module, graph, functions, selection, gradient, prefix))
    return err;
  return module;
}

int buildCommand(const Options &options) {
  std::string prefix = options.name.empty() ? prefixFromPath(options.file) : options.name;
  if (!isCIdentifier(prefix))
    return reportError("--name '" + prefix + "' is not a valid C identifier", ExitUsage);

  std::string outputPath = options.output.empty() ? defaultOutputPath(options) : options.output;
  std::string headerPath = options.header;
  if (headerPath.empty()) {
    llvm::SmallString<256> path(outputPath);
    llvm::sys::path::replace_extension(path, ".h");
    headerPath = path.str().str();
  }
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (llvm::Error err = checkCHeaderNames(*graph, prefix))
    return reportError(std::move(err));
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  // Compared as files, not as names: "x.o" and "./x.o", links, and the script under another name.
  for (const std::string *path : {&outputPath, &headerPath})
    if (sameFile(*path, options.file))
      return reportError("'" + *path + "' is the script '" + options.file + "'; bpc build does not overwrite it",
                         ExitUsage);
  if (sameFile(headerPath, outputPath))
    return reportError("the header '" + headerPath + "' and the output '" + outputPath + "' are the same file",
                       ExitUsage);

  auto functions = emittedFunctions(*graph, options, *selection);
  if (!functions)
    return reportError(llvm::toString(functions.takeError()), ExitUsage);

  std::optional<TrainStepSpec> trainStep;
  if (options.trainStep) {
    if (!options.ignoreColumns.empty() && options.data.empty())
      return reportError("--ignore-columns needs --data", ExitUsage);
    int exitCode = ExitSuccess;
    std::optional<DataSet> data; // read for its columns
    trainStep = trainStepSpec(*graph, options, data, exitCode);
    if (!trainStep)
      return exitCode;
  }

  auto machine = createTargetMachine(options.target, options.optLevel);
  if (!machine)
    return reportError(machine.takeError());

  llvm::LLVMContext context;
  bool compiledGradient = false;
  auto generated = generateFunctions(*graph, *functions, *selection, prefix, context, compiledGradient);
  if (!generated)
    return reportError(generated.takeError());
  std::unique_ptr<llvm::Module> module = std::move(*generated);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  if (trainStep)
    if (llvm::Error err = addTrainStep(*module, *graph, *trainStep, prefix))
      return reportError(std::move(err));
  optimizeModule(*module, machine->get(), options.optLevel);

  auto output = PendingFile::create(outputPath);
  if (!output)
    return reportError(output.takeError());
  auto header = PendingFile::create(headerPath);
  if (!header)
    return reportError(header.takeError());

  if (options.emit == "llvm") {
    module->print(output->stream(), nullptr);
  } else {
    auto type = options.emit == "asm" ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
    if (llvm::Error err = emitMachineCode(*module, **machine, type, output->stream()))
      return reportError(std::move(err));
  }
  header->stream() << generateCHeader(*graph, prefix, llvm::sys::path::filename(options.file).str(),
                                   trainStep ? &*trainStep : nullptr, compiledGradient,
                                   options.selectsGradient() ? &*selection : nullptr, *functions);

  if (llvm::Error err = PendingFile::commitAll({&*output, &*header}))
    return reportError(std::move(err));
  return ExitSuccess;
}

} // namespace bpc
