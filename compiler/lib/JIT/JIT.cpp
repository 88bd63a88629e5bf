//===- JIT.cpp - ORC LLJIT for compiled scripts ---------------------------===//
#include "bp/JIT.h"
#include "bp/CodeGen.h"
#include "bp/CompileCache.h"

#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"

#include <optional>

using namespace bp;

CompiledModel::~CompiledModel() = default;
CompiledTrainStep::~CompiledTrainStep() = default;
CompiledModule::~CompiledModule() = default;

/// The object file of `module` optimized at -O`optLevel` and compiled by `machine`: from `cache` (if not null)
/// when it holds one for the same key, else compiled here and stored there.
static llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> compileObject(llvm::Module &module,
                                                                         llvm::TargetMachine &machine,
                                                                         unsigned optLevel, const CompileCache *cache,
                                                                         llvm::ArrayRef<std::string> symbols) {
  std::string key;
  if (cache) {
    key = compileCacheKey(module, machine, optLevel, symbols);
    if (std::unique_ptr<llvm::MemoryBuffer> object = cache->load(key))
      return object;
  }
  optimizeModule(module, &machine, optLevel);
  auto object = llvm::orc::SimpleCompiler(machine)(module);
  if (!object)
    return object.takeError();
  // A cache that cannot be written to costs the next run a compile, nothing more.
  if (cache)
    llvm::consumeError(cache->store(key, (*object)->getBuffer()));
  return std::move(*object);
}

/// A JIT holding the module `generate` makes, compiled for this machine at -O`optLevel`, through `cache` if not
/// null (`symbols`: the functions that will be looked up, part of the key).
static llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
compileForHost(unsigned optLevel, const CompileCache *cache, llvm::ArrayRef<std::string> symbols,
               llvm::function_ref<llvm::Expected<std::unique_ptr<llvm::Module>>(llvm::LLVMContext &)> generate) {
  initializeTargets();
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->getOptions().AllowFPOpFusion = llvm::FPOpFusion::Strict;
  machineBuilder->setCodeGenOptLevel(optLevel == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Default);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();

  llvm::LLVMContext context;
  auto module = generate(context);
  if (!module)
    return module.takeError();
  (*module)->setDataLayout((*machine)->createDataLayout());
  (*module)->setTargetTriple((*machine)->getTargetTriple().str());
  auto object = compileObject(**module, **machine, optLevel, cache, symbols);
  if (!object)
    return object.takeError();

  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*machineBuilder)).create();
  if (!jit)
    return jit.takeError();
  if (llvm::Error err = (*jit)->addObjectFile(std::move(*object)))
    return err;
  return std::move(*jit);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(const Graph &forward, Functions functions, unsigned optLevel,
                      const std::optional<GradientSelection> &selection, const CompileCache *cache) {
  std::optional<GradientGraph> gradient;
  if (functions == ForwardAndGradient) {
    auto built = buildGradientGraph(forward, selection ? *selection : GradientSelection::all(forward));
    if (!built)
      return built.takeError();
    gradient = std::move(*built);
  }
  const std::string prefix = "bp_model";
  std::vector<std::string> symbols = {prefix + "_forward"};
  if (functions == ForwardAndGradient)
    symbols.push_back(prefix + "_gradient");
  auto jit = compileForHost(optLevel, cache ? cache : defaultCompileCache(), symbols,
                            [&](llvm::LLVMContext &context) -> llvm::Expected<std::unique_ptr<llvm::Module>> {
    std::unique_ptr<llvm::Module> module = generateModule(forward, gradient ? &*gradient : nullptr, prefix, context);
    gradient.reset(); // the module holds all that is needed from here on
    return module;
  });
  if (!jit)
    return jit.takeError();
  auto forwardSymbol = (*jit)->lookup(prefix + "_forward");
  if (!forwardSymbol)
    return forwardSymbol.takeError();
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  if (functions == ForwardAndGradient) {
    auto gradientSymbol = (*jit)->lookup(prefix + "_gradient");
    if (!gradientSymbol)
      return gradientSymbol.takeError();
    model->gradientFn = gradientSymbol->toPtr<bp_gradient_fn>();
  }
  model->jit = std::move(*jit);
  model->forwardFn = forwardSymbol->toPtr<bp_forward_fn>();
  model->argumentCount = forward.arguments().size();
  model->outputCount = forward.outputs().size();
  return model;
}

llvm::Expected<std::unique_ptr<CompiledTrainStep>> CompiledTrainStep::create(const Graph &graph,
                                                                             const TrainStepSpec &spec,
                                                                             unsigned optLevel,
                                                                             const CompileCache *cache) {
  const std::string prefix = "bp_model";
  auto jit = compileForHost(optLevel, cache ? cache : defaultCompileCache(), {prefix + "_train_step"},
                            [&](llvm::LLVMContext &context) -> llvm::Expected<std::unique_ptr<llvm::Module>> {
    auto module = std::make_unique<llvm::Module>(prefix, context); // no triple yet: the host's
    if (llvm::Error err = addTrainStep(*module, graph, spec, prefix))
      return err;
    return module;
  });
  if (!jit)
    return jit.takeError();
  auto symbol = (*jit)->lookup(prefix + "_train_step");
  if (!symbol)
    return symbol.takeError();
  std::unique_ptr<CompiledTrainStep> step(new CompiledTrainStep());
  step->jit = std::move(*jit);
  step->function = symbol->toPtr<Function>();
  step->stateDoubles = optimizerStateSize(spec.optimizer, trainedElements(graph, spec).size());
  return step;
}

llvm::Expected<std::unique_ptr<CompiledModule>> CompiledModule::create(
    unsigned optLevel,
    llvm::function_ref<llvm::Expected<std::unique_ptr<llvm::Module>>(llvm::LLVMContext &)> generate) {
  auto jit = compileForHost(optLevel, nullptr, {}, generate);
  if (!jit)
    return jit.takeError();
  std::unique_ptr<CompiledModule> module(new CompiledModule());
  module->jit = std::move(*jit);
  return module;
}

llvm::Expected<void *> CompiledModule::lookup(const std::string &name) const {
  auto symbol = jit->lookup(name);
  if (!symbol)
    return symbol.takeError();
  return symbol->toPtr<void *>();
}
