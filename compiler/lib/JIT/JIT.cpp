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

namespace {
unsigned &defaultThreads() {
  static unsigned threads = 0;
  return threads;
}
} // namespace

unsigned bp::defaultCompileThreads() { return defaultThreads(); }
void bp::setDefaultCompileThreads(unsigned threads) { defaultThreads() = threads; }

/// The object files of `module` optimized at -O`optLevel` and compiled by `machine` (and machines `builder`
/// makes) on `threads` threads (compileObjects): from `cache` (if not null) when it holds them for the same key,
/// else compiled here and stored there.
static llvm::Expected<std::vector<std::unique_ptr<llvm::MemoryBuffer>>>
compileObjects(llvm::Module &module, llvm::TargetMachine &machine, const llvm::orc::JITTargetMachineBuilder &builder,
               unsigned optLevel, unsigned threads, const CompileCache *cache, llvm::ArrayRef<std::string> symbols) {
  CodeGenPlan plan = planCodeGen(module, threads, optLevel);
  std::string key;
  if (cache) {
    key = compileCacheKey(module, machine, optLevel, symbols, plan.parts);
    if (auto objects = cache->loadObjects(key); !objects.empty())
      return objects;
  }
  auto objects = compileObjects(
      module, machine, plan,
      [&] {
        llvm::orc::JITTargetMachineBuilder copy = builder; // one per thread
        return copy.createTargetMachine();
      },
      [](llvm::Module &part, llvm::TargetMachine &partMachine) { return llvm::orc::SimpleCompiler(partMachine)(part); });
  if (!objects)
    return objects.takeError();
  // A cache that cannot be written to costs the next run a compile, nothing more.
  if (cache) {
    std::vector<llvm::StringRef> buffers;
    for (const auto &object : *objects)
      buffers.push_back(object->getBuffer());
    llvm::consumeError(cache->storeObjects(key, buffers));
  }
  return objects;
}

/// A JIT holding the module `generate` makes, compiled for this machine at -O`optLevel` on `threads` threads (0:
/// defaultCompileThreads()), through `cache` if not null (`symbols`: the functions that will be looked up, part
/// of the key).
static llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
compileForHost(unsigned optLevel, unsigned threads, const CompileCache *cache, llvm::ArrayRef<std::string> symbols,
               llvm::function_ref<llvm::Expected<std::unique_ptr<llvm::Module>>(llvm::LLVMContext &)> generate) {
  initializeTargets();
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->getOptions().AllowFPOpFusion = llvm::FPOpFusion::Strict;
  static const llvm::CodeGenOptLevel levels[] = {llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
                                                 llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  machineBuilder->setCodeGenOptLevel(levels[std::min(optLevel, 3u)]);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();

  llvm::LLVMContext context;
  auto module = generate(context);
  if (!module)
    return module.takeError();
  (*module)->setDataLayout((*machine)->createDataLayout());
  (*module)->setTargetTriple((*machine)->getTargetTriple().str());
  auto objects = compileObjects(**module, **machine, *machineBuilder, optLevel,
                                threads ? threads : defaultCompileThreads(), cache, symbols);
  if (!objects)
    return objects.takeError();

  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*machineBuilder)).create();
  if (!jit)
    return jit.takeError();
  // One JITDylib: the parts' hidden symbols resolve against each other.
  for (std::unique_ptr<llvm::MemoryBuffer> &object : *objects)
    if (llvm::Error err = (*jit)->addObjectFile(std::move(object)))
      return err;
  return std::move(*jit);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(const Graph &forward, Functions functions, unsigned optLevel,
                      const std::optional<GradientSelection> &selection, const CompileCache *cache,
                      unsigned threads) {
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
  auto jit = compileForHost(optLevel, threads, cache ? cache : defaultCompileCache(), symbols,
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
                                                                             const CompileCache *cache,
                                                                             unsigned threads) {
  const std::string prefix = "bp_model";
  auto jit = compileForHost(optLevel, threads, cache ? cache : defaultCompileCache(), {prefix + "_train_step"},
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
    llvm::function_ref<llvm::Expected<std::unique_ptr<llvm::Module>>(llvm::LLVMContext &)> generate,
    unsigned threads) {
  auto jit = compileForHost(optLevel, threads, nullptr, {}, generate);
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
