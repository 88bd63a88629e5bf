//===- ParallelCodeGen.cpp - Optimizing and compiling a module on several threads ---===//
#include "bp/CodeGen.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Analysis/CFG.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <optional>
#include <thread>

using namespace bp;

namespace {

/// BP_PARALLEL_THRESHOLD where it is set to a number (tests).
std::optional<unsigned> thresholdForTests() {
  unsigned threshold;
  if (auto text = llvm::sys::Process::GetEnv("BP_PARALLEL_THRESHOLD"))
    if (!llvm::StringRef(*text).getAsInteger(10, threshold))
      return std::max(threshold, 1u);
  return std::nullopt;
}

/// Makes every local symbol of `module` defined a hidden global, so that another part can refer to it, named
/// "MODULE.name" (MODULE: the module's name, the script's prefix) so that two scripts' objects linked together
/// keep them apart.
void externalizeLocals(llvm::Module &module) {
  std::string base = module.getModuleIdentifier() + ".";
  for (llvm::GlobalValue &value : module.global_values()) {
    if (value.isDeclaration() || !value.hasLocalLinkage())
      continue;
    if (!value.getName().starts_with(base))
      value.setName(base + (value.hasName() ? value.getName() : "unnamed"));
    value.setLinkage(llvm::GlobalValue::ExternalLinkage);
    value.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }
}

/// The part (0 to parts - 1) that defines each function, by name: the largest first, each to the part with the
/// fewest instructions so far (ties: the lowest).
llvm::StringMap<unsigned> assignParts(const llvm::Module &module, unsigned parts) {
  std::vector<std::pair<unsigned, const llvm::Function *>> functions;
  for (const llvm::Function &function : module)
    if (!function.isDeclaration())
      functions.push_back({function.getInstructionCount(), &function});
  std::stable_sort(functions.begin(), functions.end(),
                   [](const auto &a, const auto &b) { return a.first > b.first; });
  std::vector<uint64_t> load(parts, 0);
  llvm::StringMap<unsigned> partOf;
  for (auto [instructions, function] : functions) {
    unsigned part = std::min_element(load.begin(), load.end()) - load.begin();
    load[part] += instructions;
    partOf[function->getName()] = part;
  }
  return partOf;
}

/// Part `part` of the module in `bitcode`, read in `context`: the functions `partOf` gives it materialized, every
/// other one a declaration; the global variables defined in part 0 alone (they are small).
llvm::Expected<std::unique_ptr<llvm::Module>> readPart(llvm::StringRef bitcode, unsigned part,
                                                       const llvm::StringMap<unsigned> &partOf,
                                                       llvm::LLVMContext &context) {
  auto module = llvm::getLazyBitcodeModule(llvm::MemoryBufferRef(bitcode, "part"), context);
  if (!module)
    return module.takeError();
  for (llvm::Function &function : **module) {
    if (function.isDeclaration())
      continue;
    if (partOf.lookup(function.getName()) != part)
      function.deleteBody(); // never read
    else if (llvm::Error err = function.materialize())
      return std::move(err);
  }
  if (llvm::Error err = (*module)->materializeAll())
    return std::move(err);
  if (part != 0)
    for (llvm::GlobalVariable &variable : (*module)->globals())
      if (!variable.isDeclaration()) {
        variable.setInitializer(nullptr);
        variable.setLinkage(llvm::GlobalValue::ExternalLinkage);
      }
  return module;
}

/// Optimizes `module` (the whole planned, or a part of it) as `plan` says (at -O0's with the fast back end where
/// it compiles quickly), and compiles it with `machine`.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> optimizeAndEmit(llvm::Module &module, llvm::TargetMachine &machine,
                                                                    const CodeGenPlan &plan, const ObjectEmitter &emit) {
  unsigned level = plan.level;
  if (plan.quick) {
    level = 0;
    machine.setOptLevel(llvm::CodeGenOptLevel::None);
  }
  optimizeModule(module, &machine, level, plan.instructions);
  return emit(module, machine);
}

/// Part `part` of `bitcode` (readPart) optimized as `plan` says and compiled, in a context of its own.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> compilePart(llvm::StringRef bitcode, unsigned part,
                                                                const llvm::StringMap<unsigned> &partOf,
                                                                const CodeGenPlan &plan,
                                                                const TargetMachineFactory &factory,
                                                                const ObjectEmitter &emit) {
  llvm::LLVMContext context;
  auto module = readPart(bitcode, part, partOf, context);
  if (!module)
    return module.takeError();
  auto machine = factory();
  if (!machine)
    return machine.takeError();
  return optimizeAndEmit(**module, **machine, plan, emit);
}

} // namespace

bool bp::compilesQuickly(const llvm::Module &module, unsigned level, std::optional<unsigned> instructions) {
  if (instructions.value_or(module.getInstructionCount()) <= LargeModuleInstructions || (level != 1 && level != 2))
    return false;
  llvm::SmallVector<std::pair<const llvm::BasicBlock *, const llvm::BasicBlock *>, 4> backEdges;
  for (const llvm::Function &function : module) {
    if (function.isDeclaration())
      continue;
    llvm::FindFunctionBackedges(function, backEdges);
    if (!backEdges.empty())
      return false;
  }
  return true;
}

unsigned bp::codeGenThreads(unsigned requested) {
  return requested ? requested : std::max(1u, std::thread::hardware_concurrency());
}

CodeGenPlan bp::planCodeGen(const llvm::Module &module, unsigned threads, unsigned level) {
  CodeGenPlan plan{level, module.getInstructionCount(), false, 1};
  plan.quick = compilesQuickly(module, level, plan.instructions);
  std::optional<unsigned> forTests = thresholdForTests();
  unsigned threshold = forTests.value_or(ParallelInstructions);
  threads = codeGenThreads(threads);
  if (threads <= 1 || plan.instructions < threshold || (!forTests && plan.quick))
    return plan;
  unsigned defined = llvm::count_if(module, [](const llvm::Function &f) { return !f.isDeclaration(); });
  unsigned wanted = plan.instructions / threshold + (plan.instructions % threshold != 0);
  plan.parts = std::max(1u, std::min({threads, defined, wanted}));
  return plan;
}

llvm::Expected<std::vector<std::unique_ptr<llvm::MemoryBuffer>>>
bp::compileObjects(llvm::Module &module, llvm::TargetMachine &machine, const CodeGenPlan &plan,
                   const TargetMachineFactory &factory, const ObjectEmitter &emit) {
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects;
  unsigned parts = plan.parts;
  if (parts <= 1) {
    auto object = optimizeAndEmit(module, machine, plan, emit);
    if (!object)
      return object.takeError();
    objects.push_back(std::move(*object));
    return objects;
  }

  externalizeLocals(module);
  llvm::StringMap<unsigned> partOf = assignParts(module, parts);
  // One bitcode, which each thread reads lazily: only its part's function bodies.
  llvm::SmallString<0> bitcode;
  llvm::raw_svector_ostream stream(bitcode);
  llvm::WriteBitcodeToFile(module, stream);

  objects.resize(parts);
  std::vector<std::optional<llvm::Error>> errors(parts);
  auto run = [&](unsigned part) {
    auto object = compilePart(bitcode, part, partOf, plan, factory, emit);
    if (object)
      objects[part] = std::move(*object);
    else
      errors[part].emplace(object.takeError());
  };
  std::vector<std::thread> threads;
  for (unsigned part = 1; part < parts; ++part)
    threads.emplace_back(run, part);
  // The bitcode holds all that is needed from here on (the other threads use contexts of their own).
  for (llvm::Function &function : module)
    function.deleteBody();
  run(0);
  for (std::thread &thread : threads)
    thread.join();
  // The first part's error; the others most often say the same.
  std::optional<llvm::Error> first;
  for (std::optional<llvm::Error> &error : errors) {
    if (!error)
      continue;
    if (first)
      llvm::consumeError(std::move(*error));
    else
      first = std::move(*error);
  }
  if (first)
    return std::move(*first);
  return objects;
}
