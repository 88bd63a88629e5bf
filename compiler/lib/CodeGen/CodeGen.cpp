//===- CodeGen.cpp - Graphs to LLVM IR, optimization, target machines -----===//
//
// Emits each graph as one straight-line function: load the arguments, apply each op's lowering rule from
// the op table in node order, store the results. Nothing here knows what an op means.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/IR/PassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <cassert>
#include <cctype>
#include <mutex>

using namespace bp;

llvm::Value *IRLowering::constant(double value) {
  return llvm::ConstantFP::get(builder.getDoubleTy(), value);
}

llvm::Value *IRLowering::intrinsic(llvm::Intrinsic::ID id, llvm::ArrayRef<llvm::Value *> operands) {
  return builder.CreateIntrinsic(id, {builder.getDoubleTy()}, operands);
}

llvm::Value *IRLowering::libm(const char *name, llvm::ArrayRef<llvm::Value *> operands) {
  llvm::SmallVector<llvm::Type *, 2> params(operands.size(), builder.getDoubleTy());
  auto *type = llvm::FunctionType::get(builder.getDoubleTy(), params, false);
  llvm::FunctionCallee callee = module.getOrInsertFunction(name, type);
  if (auto *function = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    function->setDoesNotThrow();
    function->setWillReturn();
  }
  return builder.CreateCall(callee, operands);
}

namespace {

/// LLVM value names from node names, so emitted IR reads like the script (%d, %"df/dd").
std::string valueName(const Graph &graph, NodeId id) {
  const std::string &name = graph.node(id).name;
  return name.empty() ? std::string() : name;
}

/// Emits `void name(const double *in, double *out[, double *grad])` computing `results` (stored to `out`)
/// and `gradients` (stored to `grad`, row-major) from `graph`.
void emitFunction(llvm::Module &module, const std::string &name, const Graph &graph,
                  const std::vector<NodeId> &arguments, const std::vector<NodeId> &results,
                  const std::vector<NodeId> *gradients) {
  llvm::LLVMContext &context = module.getContext();
  llvm::IRBuilder<> builder(context);
  llvm::SmallVector<llvm::Type *, 3> params(gradients ? 3 : 2, builder.getPtrTy());
  auto *type = llvm::FunctionType::get(builder.getVoidTy(), params, false);
  auto *function = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module);
  function->setDoesNotThrow();
  const char *argNames[] = {"in", "out", "grad"};
  for (unsigned i = 0; i < function->arg_size(); ++i) {
    function->getArg(i)->setName(argNames[i]);
    function->addParamAttr(i, llvm::Attribute::NoCapture);
  }
  function->addParamAttr(0, llvm::Attribute::ReadOnly);
  builder.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", function));
  IRLowering ir(builder, module);

  // Only nodes that some result needs are emitted.
  std::vector<bool> needed(graph.size(), false);
  for (NodeId id : results)
    needed[id] = true;
  if (gradients)
    for (NodeId id : *gradients)
      needed[id] = true;
  for (NodeId id = graph.size(); id-- > 0;)
    if (needed[id])
      for (NodeId operand : graph.node(id).operands)
        needed[operand] = true;

  std::vector<llvm::Value *> values(graph.size(), nullptr);
  llvm::Value *in = function->getArg(0);
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (!needed[arguments[i]])
      continue;
    llvm::Value *address = builder.CreateConstInBoundsGEP1_64(builder.getDoubleTy(), in, i);
    values[arguments[i]] = builder.CreateLoad(builder.getDoubleTy(), address, valueName(graph, arguments[i]));
  }
  llvm::SmallVector<llvm::Value *, 2> operands;
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node &node = graph.node(id);
    if (!needed[id] || node.op == OpKind::Input || node.op == OpKind::Param)
      continue;
    if (node.op == OpKind::Const) {
      values[id] = ir.constant(node.value);
      continue;
    }
    operands.clear();
    for (NodeId operand : node.operands)
      operands.push_back(values[operand]);
    values[id] = getOpInfo(node.op).lower(ir, operands);
    if (!node.name.empty() && !llvm::isa<llvm::Constant>(values[id]))
      values[id]->setName(node.name);
  }
  auto storeAll = [&](llvm::Value *base, const std::vector<NodeId> &ids) {
    for (size_t i = 0; i < ids.size(); ++i)
      builder.CreateStore(values[ids[i]], builder.CreateConstInBoundsGEP1_64(builder.getDoubleTy(), base, i));
  };
  storeAll(function->getArg(1), results);
  if (gradients)
    storeAll(function->getArg(2), *gradients);
  builder.CreateRetVoid();
  assert(!llvm::verifyFunction(*function, &llvm::errs()) && "generated function is malformed");
}

std::vector<NodeId> outputNodes(const Graph &graph) {
  std::vector<NodeId> ids;
  for (const Graph::Output &output : graph.outputs())
    ids.push_back(output.node);
  return ids;
}

} // namespace

std::unique_ptr<llvm::Module> bp::generateModule(const Graph &forward, const GradientGraph &gradient,
                                                 const std::string &prefix, llvm::LLVMContext &context) {
  auto module = std::make_unique<llvm::Module>(prefix, context);
  if (forward.sourceFile())
    module->setSourceFileName(forward.sourceFile()->name());
  std::vector<NodeId> arguments = forward.arguments();
  emitFunction(*module, prefix + "_forward", forward, arguments, outputNodes(forward), nullptr);
  std::vector<NodeId> jacobian;
  for (const ReverseSweep &sweep : gradient.sweeps)
    jacobian.insert(jacobian.end(), sweep.gradient.begin(), sweep.gradient.end());
  emitFunction(*module, prefix + "_gradient", gradient.graph, arguments, outputNodes(gradient.graph), &jacobian);
  return module;
}

void bp::optimizeModule(llvm::Module &module, llvm::TargetMachine *machine, unsigned level) {
  static const llvm::OptimizationLevel levels[] = {llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
                                                   llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder passBuilder(machine);
  passBuilder.registerModuleAnalyses(mam);
  passBuilder.registerCGSCCAnalyses(cgam);
  passBuilder.registerFunctionAnalyses(fam);
  passBuilder.registerLoopAnalyses(lam);
  passBuilder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager passes = level == 0
                                       ? passBuilder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                                       : passBuilder.buildPerModuleDefaultPipeline(levels[std::min(level, 3u)]);
  passes.run(module, mam);
}

void bp::initializeTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers();
  });
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> bp::createTargetMachine(const std::string &triple,
                                                                             unsigned optLevel) {
  initializeTargets();
  bool host = triple.empty();
  std::string normalized = host ? llvm::sys::getDefaultTargetTriple() : llvm::Triple::normalize(triple);
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(normalized, error);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown target '" + triple + "': " + error);
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Strict; // no FMA contraction: results match plain C
  std::string cpu = host ? llvm::sys::getHostCPUName().str() : "generic";
  std::string features;
  if (host) {
    llvm::SubtargetFeatures hostFeatures;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      hostFeatures.AddFeature(feature.first(), feature.second);
    features = hostFeatures.getString();
  }
  static const llvm::CodeGenOptLevel levels[] = {llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
                                                 llvm::CodeGenOptLevel::Default,
                                                 llvm::CodeGenOptLevel::Aggressive};
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      normalized, cpu, features, options, llvm::Reloc::PIC_, std::nullopt, levels[std::min(optLevel, 3u)]));
  if (!machine)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot create a target machine for '" + normalized + "'");
  return machine;
}

std::string bp::prefixFromPath(const std::string &path) {
  std::string stem = llvm::sys::path::stem(path).str();
  std::string prefix;
  for (char c : stem)
    prefix += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (prefix.empty() || std::isdigit(static_cast<unsigned char>(prefix[0])))
    prefix = "bp_" + prefix;
  return prefix;
}
