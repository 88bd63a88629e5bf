//===- JIT.cpp - ORC LLJIT for compiled scripts ---------------------------===//
#include "bp/JIT.h"
#include "bp/CodeGen.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"

#include <optional>

using namespace bp;

CompiledModel::~CompiledModel() = default;

llvm::Expected<std::unique_ptr<CompiledModel>> CompiledModel::create(const Graph &forward, Functions functions,
                                                                     unsigned optLevel) {
  std::optional<GradientGraph> gradient;
  if (functions == ForwardAndGradient) {
    auto built = buildGradientGraph(forward);
    if (!built)
      return built.takeError();
    gradient = std::move(*built);
  }
  initializeTargets();
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->getOptions().AllowFPOpFusion = llvm::FPOpFusion::Strict;
  machineBuilder->setCodeGenOptLevel(optLevel == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Default);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();

  const std::string prefix = "bp_model";
  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module =
      generateModule(forward, gradient ? &*gradient : nullptr, prefix, *context);
  gradient.reset(); // the module holds all that is needed from here on
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  optimizeModule(*module, machine->get(), optLevel);

  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*machineBuilder)).create();
  if (!jit)
    return jit.takeError();
  if (llvm::Error err = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return err;
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
