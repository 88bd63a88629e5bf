//===- JIT.cpp - ORC LLJIT for compiled scripts ---------------------------===//
#include "bp/JIT.h"
#include "bp/CodeGen.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"

#include <optional>

using namespace bp;

CompiledModel::~CompiledModel() = default;
CompiledTrainStep::~CompiledTrainStep() = default;
CompiledModule::~CompiledModule() = default;

/// A JIT holding the module `generate` makes, compiled for this machine at -O`optLevel`.
static llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
compileForHost(unsigned optLevel,
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

  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = generate(*context);
  if (!module)
    return module.takeError();
  (*module)->setDataLayout((*machine)->createDataLayout());
  (*module)->setTargetTriple((*machine)->getTargetTriple().str());
  optimizeModule(**module, machine->get(), optLevel);

  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*machineBuilder)).create();
  if (!jit)
    return jit.takeError();
  if (llvm::Error err = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(*module), std::move(context))))
    return err;
  return std::move(*jit);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(const Graph &forward, Functions functions, unsigned optLevel,
                      const std::optional<GradientSelection> &selection) {
  std::optional<GradientGraph> gradient;
  if (functions == ForwardAndGradient) {
    auto built = buildGradientGraph(forward, selection ? *selection : GradientSelection::all(forward));
    if (!built)
      return built.takeError();
    gradient = std::move(*built);
  }
  const std::string prefix = "bp_model";
  auto jit = compileForHost(optLevel, [&](llvm::LLVMContext &context) -> llvm::Expected<std::unique_ptr<llvm::Module>> {
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
                                                                             unsigned optLevel) {
  const std::string prefix = "bp_model";
  auto jit = compileForHost(optLevel, [&](llvm::LLVMContext &context) -> llvm::Expected<std::unique_ptr<llvm::Module>> {
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
  auto jit = compileForHost(optLevel, generate);
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
