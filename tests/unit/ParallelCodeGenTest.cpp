//===- ParallelCodeGenTest.cpp - Large modules compiled in parts on several threads ---===//
//
// BP_PARALLEL_THRESHOLD=1 makes compileObjects cut even small modules (CodeGen.h), so that these tests stay fast:
// a script cut into parts and compiled on two threads computes what the interpreter computes, bit for bit, at
// -O0 and -O2; the parts come as one object each, linked in one JIT; the compile cache keeps them as one entry
// of several objects, under a key that differs from the one-thread compile's exactly when the objects differ;
// and a damaged multi-object entry is removed, never loaded.
//
//===----------------------------------------------------------------------===//
#include "InterpreterBits.h"
#include "RandomScripts.h"
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/CompileCache.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"
#include "bp/Model.h"

#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::generate;
using bp::test::sameValue;
namespace fs = llvm::sys::fs;

namespace {

/// Sets BP_PARALLEL_THRESHOLD for the scope of a test.
class ParallelThreshold {
public:
  explicit ParallelThreshold(const char *value) { setenv("BP_PARALLEL_THRESHOLD", value, 1); }
  ~ParallelThreshold() { unsetenv("BP_PARALLEL_THRESHOLD"); }
};

/// A fresh directory for one test, removed with it.
class TemporaryDirectory {
public:
  TemporaryDirectory() {
    llvm::SmallString<128> created;
    EXPECT_FALSE(fs::createUniqueDirectory("bp-parallel-test", created));
    path = std::string(created);
  }
  ~TemporaryDirectory() { fs::remove_directories(path); }
  std::string path;
};

TEST(ParallelCodeGen, SmallModulesAreNotCutUnlessTheThresholdSaysSo) {
  llvm::LLVMContext context;
  Graph graph = compileOrFail("input x = 0.5\nnode y = sin(x) * x\noutput y\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::unique_ptr<llvm::Module> module = generateModule(graph, &gradient, "bp_model", context);
  EXPECT_EQ(planCodeGen(*module, 2, 2).parts, 1u) << "a few instructions stay one module";
  ParallelThreshold threshold("1");
  EXPECT_EQ(planCodeGen(*module, 1, 2).parts, 1u) << "one thread: one module";
  EXPECT_EQ(planCodeGen(*module, 2, 2).parts, 2u);
  EXPECT_EQ(planCodeGen(*module, 16, 2).parts, 2u) << "at most one part per function (forward, gradient)";
}

TEST(ParallelCodeGen, PartsAreOneObjectEachAndLinkInOneJit) {
  ParallelThreshold threshold("1");
  initializeTargets();
  auto builder = llvm::cantFail(llvm::orc::JITTargetMachineBuilder::detectHost());
  auto machine = llvm::cantFail(builder.createTargetMachine());
  llvm::LLVMContext context;
  Graph graph = compileOrFail("input x = 0.5\nparam w = 2\nnode y = sin(x * w) + w\noutput y\n");
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  std::unique_ptr<llvm::Module> module = generateModule(graph, &gradient, "bp_model", context);
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(machine->getTargetTriple().str());
  CodeGenPlan plan = planCodeGen(*module, 3, 0);
  EXPECT_EQ(plan.parts, 2u) << "one part per function (forward, gradient)";
  auto objects = compileObjects(
      *module, *machine, plan, [&] { return builder.createTargetMachine(); },
      [](llvm::Module &part, llvm::TargetMachine &partMachine) { return llvm::orc::SimpleCompiler(partMachine)(part); });
  ASSERT_TRUE(bool(objects)) << llvm::toString(objects.takeError());
  ASSERT_EQ(objects->size(), 2u);
  auto jit = llvm::cantFail(llvm::orc::LLJITBuilder().create());
  for (auto &object : *objects)
    ASSERT_FALSE(llvm::errorToBool(jit->addObjectFile(std::move(object))));
  for (const char *name : {"bp_model_forward", "bp_model_gradient"}) {
    auto symbol = jit->lookup(name);
    EXPECT_TRUE(bool(symbol)) << name << ": " << llvm::toString(symbol.takeError());
  }
}

/// The forward and gradient functions of a script cut into parts (on `threads` threads at -O`optLevel`) against
/// the interpreter, bit for bit, as PropertyTest's ScriptsAbovePartSizeMatchTheInterpreterBitForBit does for one.
void expectCutScriptBits(int nodeCount, unsigned optLevel, unsigned threads) {
  std::mt19937 random(4242);
  Graph graph = compileOrFail(generate(random, nodeCount, /*wholeChain=*/true));
  auto model = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, optLevel, std::nullopt, nullptr,
                                     threads);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  bp::test::expectInterpreterBits(graph, **model, random, 2, std::to_string(nodeCount) + " nodes");
}

TEST(ParallelCodeGen, CutScriptsMatchTheInterpreterBitForBit) {
  ParallelThreshold threshold("1");
  // Forward and gradient each a module of its own, optimized: -j 1 (one module) and -j 2 (two).
  for (unsigned threads : {1u, 2u}) {
    SCOPED_TRACE("-O2 -j " + std::to_string(threads));
    expectCutScriptBits(300, 2, threads);
  }
  // Over 250 nodes (a part): the part functions too are spread over the modules (-O0 keeps it fast).
  SCOPED_TRACE("-O0 -j 2, parts");
  expectCutScriptBits(2100, 0, 2);
}

/// The module of `script` with its gradient, and its instruction count.
std::unique_ptr<llvm::Module> gradientModule(const std::string &script, llvm::LLVMContext &context) {
  Graph graph = compileOrFail(script);
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  return generateModule(graph, &gradient, "bp_model", context);
}

TEST(ParallelCodeGen, LargeStraightLineModulesCompileQuicklyAtO1AndO2Only) {
  std::mt19937 random(77);
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> small = gradientModule(generate(random, 300, true), context);
  std::string largeScript = generate(random, 12000, true);
  std::unique_ptr<llvm::Module> large = gradientModule(largeScript, context);
  ASSERT_GT(large->getInstructionCount(), LargeModuleInstructions) << "the script must make a large module";
  EXPECT_FALSE(compilesQuickly(*small, 2)) << "a small module gets the full pipeline";
  EXPECT_FALSE(compilesQuickly(*large, 0)) << "-O0 is -O0 already";
  EXPECT_TRUE(compilesQuickly(*large, 1));
  EXPECT_TRUE(compilesQuickly(*large, 2));
  EXPECT_FALSE(compilesQuickly(*large, 3)) << "-O3 always gets the full pipeline";
  EXPECT_EQ(planCodeGen(*large, 2, 2).parts, 1u) << "a module that compiles quickly is not cut";
  EXPECT_EQ(planCodeGen(*large, 2, 3).parts, 2u) << "the same module at -O3 is";
  // The same large script with one tensor reduction, whose loop wants LLVM's vectorizer.
  std::unique_ptr<llvm::Module> loops =
      gradientModule("input v[64] = 0.5\nnode s = sum(v * v)\noutput s\n" + largeScript, context);
  ASSERT_GT(loops->getInstructionCount(), LargeModuleInstructions);
  EXPECT_FALSE(compilesQuickly(*loops, 2)) << "a module with loops keeps the full pipeline";
}

TEST(ParallelCodeGen, QuicklyCompiledModulesMatchTheInterpreterBitForBit) {
  // 12,000 nodes with their gradient make a module over LargeModuleInstructions: compiled quickly at -O2, as one
  // module and (as only BP_PARALLEL_THRESHOLD makes bp do) cut in two.
  SCOPED_TRACE("-O2 -j 1");
  expectCutScriptBits(12000, 2, 1);
  ParallelThreshold threshold("1");
  SCOPED_TRACE("-O2 -j 2");
  expectCutScriptBits(12000, 2, 2);
}

TEST(ParallelCodeGen, CacheKeepsThePartsAsOneEntryKeyedByTheirCount) {
  TemporaryDirectory dir;
  CompileCache cache(dir.path);
  const char *script = "input x = 0.7\nparam w = 1.3\nnode y = tanh(x * w) + sin(w)\noutput y\n";
  auto compileAndRun = [&](unsigned threads) {
    CompileOptions options;
    options.cache = &cache;
    options.threads = threads;
    auto model = llvm::cantFail(Model::compile(script, options));
    std::vector<double> out(model.outSize()), grad(model.gradSize());
    llvm::cantFail(model.gradient(model.defaults(), out, grad));
    out.insert(out.end(), grad.begin(), grad.end());
    return out;
  };
  // Not cut: -j 1 and -j 2 make the same object and share its entry.
  std::vector<double> whole = compileAndRun(1);
  compileAndRun(2);
  EXPECT_EQ(cache.info().entries, 1u);

  ParallelThreshold threshold("1");
  std::vector<double> cut = compileAndRun(2);
  EXPECT_EQ(cache.info().entries, 2u) << "two objects are another entry";
  std::vector<double> hit = compileAndRun(2);
  EXPECT_EQ(cache.info().entries, 2u) << "the second compile in two parts is a hit";
  compileAndRun(1);
  EXPECT_EQ(cache.info().entries, 2u) << "-j 1 still loads the one-object entry";
  ASSERT_EQ(whole.size(), cut.size());
  EXPECT_EQ(std::memcmp(whole.data(), cut.data(), whole.size() * sizeof(double)), 0);
  EXPECT_EQ(std::memcmp(whole.data(), hit.data(), whole.size() * sizeof(double)), 0);
}

std::vector<std::string> contents(const std::vector<std::unique_ptr<llvm::MemoryBuffer>> &buffers) {
  std::vector<std::string> texts;
  for (const auto &buffer : buffers)
    texts.push_back(buffer->getBuffer().str());
  return texts;
}

TEST(ParallelCodeGen, DamagedMultiObjectEntriesAreRemovedNotLoaded) {
  TemporaryDirectory dir;
  CompileCache cache(dir.path);
  const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  std::vector<std::string> objects = {"first object", "", std::string(300, 'z')};
  std::vector<llvm::StringRef> refs(objects.begin(), objects.end());
  ASSERT_FALSE(llvm::errorToBool(cache.storeObjects(key, refs)));
  EXPECT_EQ(contents(cache.loadObjects(key)), objects);
  EXPECT_EQ(cache.load(key), nullptr) << "load wants an entry of one object";
  EXPECT_TRUE(fs::exists(cache.entryPath(key))) << "... which this is not, but it is sound";

  // Header: magic (8), version (4), object count (4), payload length (8), checksum (8); then the lengths.
  std::vector<std::pair<const char *, std::function<void(std::string &)>>> damages = {
      {"count 0", [](std::string &text) { text[12] = 0; }},
      {"count 2", [](std::string &text) { text[12] = 2; }},
      {"count 1", [](std::string &text) { text[12] = 1; }},
      {"count 4", [](std::string &text) { text[12] = 4; }},
      {"count huge", [](std::string &text) { text[15] = 0x7f; }},
      {"a length changed", [](std::string &text) { text[32] = 5; }},
      {"last object truncated", [](std::string &text) { text.pop_back(); }},
      {"one object byte changed", [](std::string &text) { text[text.size() - 100] = 'y'; }},
  };
  std::string path = cache.entryPath(key);
  for (auto &[what, damage] : damages) {
    SCOPED_TRACE(what);
    ASSERT_FALSE(llvm::errorToBool(cache.storeObjects(key, refs)));
    auto bytes = llvm::MemoryBuffer::getFile(path);
    ASSERT_TRUE(bool(bytes));
    std::string text = (*bytes)->getBuffer().str();
    damage(text);
    {
      std::error_code ec;
      llvm::raw_fd_ostream out(path, ec);
      out << text;
    }
    EXPECT_TRUE(cache.loadObjects(key).empty());
    EXPECT_FALSE(fs::exists(path)) << "a bad entry is removed";
  }
}

} // namespace
