//===- CompileCacheTest.cpp - Compiled objects kept on disk between runs ---===//
//
// The store writes whole entries or none (threads and processes at once included), detects truncated and
// corrupted entries and removes them, keeps its size bound by evicting the least recently used entries; the key
// changes with every ingredient; and a model compiled from the cache computes what a freshly compiled one does.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"
#include "bp/CompileCache.h"
#include "bp/Model.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Target/TargetMachine.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

using namespace bp;
namespace fs = llvm::sys::fs;

namespace {

const char *Key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const char *OtherKey = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// A fresh directory for one test, removed with it.
class CompileCacheTest : public testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(fs::createUniqueDirectory("bp-compile-cache-test", path));
    dir = std::string(path);
  }
  void TearDown() override { fs::remove_directories(dir); }

  /// Every file name in the directory.
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    llvm::sort(names);
    return names;
  }

  static std::string payload(char fill, size_t size = 1000) { return std::string(size, fill); }

  std::string dir;
};

std::string contents(const std::unique_ptr<llvm::MemoryBuffer> &buffer) {
  return buffer ? buffer->getBuffer().str() : "<none>";
}

TEST_F(CompileCacheTest, StoresAndLoadsWholeEntriesWithoutTemporaryFiles) {
  CompileCache cache(dir + "/nested/bp");
  EXPECT_EQ(cache.load(Key), nullptr);
  ASSERT_FALSE(llvm::errorToBool(cache.store(Key, "an object")));
  EXPECT_EQ(contents(cache.load(Key)), "an object");
  EXPECT_EQ(cache.load(OtherKey), nullptr);
  auto info = cache.info();
  EXPECT_EQ(info.entries, 1u);
  EXPECT_EQ(info.bytes, 32u + 9u); // the header, then the object
  // Storing again replaces the entry.
  ASSERT_FALSE(llvm::errorToBool(cache.store(Key, "another object")));
  EXPECT_EQ(contents(cache.load(Key)), "another object");
  std::error_code ec;
  for (fs::directory_iterator it(cache.directory(), ec), end; it != end && !ec; it.increment(ec))
    EXPECT_EQ(llvm::sys::path::filename(it->path()), std::string(Key) + ".bpo");
}

TEST_F(CompileCacheTest, TruncatedAndCorruptedEntriesAreRemovedNotLoaded) {
  CompileCache cache(dir);
  std::string path = cache.entryPath(Key);
  auto rewrite = [&](llvm::function_ref<void(std::string &)> damage) {
    ASSERT_FALSE(llvm::errorToBool(cache.store(Key, payload('x'))));
    auto bytes = llvm::MemoryBuffer::getFile(path);
    ASSERT_TRUE(bytes);
    std::string text = (*bytes)->getBuffer().str();
    damage(text);
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec);
    out << text;
  };
  std::vector<std::pair<const char *, std::function<void(std::string &)>>> damages = {
      {"truncated payload", [](std::string &text) { text.resize(text.size() - 1); }},
      {"truncated header", [](std::string &text) { text.resize(20); }},
      {"empty", [](std::string &text) { text.clear(); }},
      {"one payload byte changed", [](std::string &text) { text[500] = 'y'; }},
      {"bytes appended", [](std::string &text) { text += "zz"; }},
      {"magic changed", [](std::string &text) { text[0] = 'B'; }},
      {"format version changed", [](std::string &text) { text[8] = 99; }},
  };
  for (auto &[what, damage] : damages) {
    SCOPED_TRACE(what);
    rewrite(damage);
    EXPECT_EQ(cache.load(Key), nullptr);
    EXPECT_FALSE(fs::exists(path)) << "a bad entry is removed";
    // ... and rebuilt by the next store.
    ASSERT_FALSE(llvm::errorToBool(cache.store(Key, payload('x'))));
    EXPECT_EQ(contents(cache.load(Key)), payload('x'));
  }
}

TEST_F(CompileCacheTest, SizeBoundEvictsLeastRecentlyUsed) {
  // Entries of 1032 bytes: two fit, a third does not.
  CompileCache cache(dir, 2100);
  ASSERT_FALSE(llvm::errorToBool(cache.store(Key, payload('a'))));
  ASSERT_FALSE(llvm::errorToBool(cache.store(OtherKey, payload('b'))));
  // Key was used before OtherKey, and then again after it: OtherKey is the least recently used.
  auto setTime = [&](llvm::StringRef key, std::chrono::seconds ago) {
    int fd;
    ASSERT_FALSE(fs::openFileForWrite(cache.entryPath(key), fd, fs::CD_OpenExisting, fs::OF_Append));
    ASSERT_FALSE(fs::setLastAccessAndModificationTime(fd, std::chrono::system_clock::now() - ago));
    close(fd);
  };
  setTime(Key, std::chrono::seconds(100));
  setTime(OtherKey, std::chrono::seconds(50));
  EXPECT_NE(cache.load(Key), nullptr);
  std::string third(64, '3');
  ASSERT_FALSE(llvm::errorToBool(cache.store(third, payload('c'))));
  EXPECT_EQ(contents(cache.load(Key)), payload('a'));
  EXPECT_EQ(cache.load(OtherKey), nullptr);
  EXPECT_EQ(contents(cache.load(third)), payload('c'));
  EXPECT_EQ(cache.info().entries, 2u);

  // An entry larger than the whole bound is still kept (it is the one just compiled); the others go.
  CompileCache tiny(dir, 10);
  ASSERT_FALSE(llvm::errorToBool(tiny.store(OtherKey, payload('d'))));
  EXPECT_EQ(tiny.info().entries, 1u);
  EXPECT_EQ(contents(tiny.load(OtherKey)), payload('d'));

  ASSERT_FALSE(llvm::errorToBool(tiny.clear()));
  EXPECT_TRUE(files().empty());
}

TEST_F(CompileCacheTest, StoreRemovesTemporaryFilesOfStoresThatNeverFinished) {
  CompileCache cache(dir);
  auto leave = [&](const std::string &name, std::chrono::hours age) {
    std::error_code ec;
    llvm::raw_fd_ostream(dir + "/" + name, ec) << "part of an object";
    ASSERT_FALSE(ec);
    int fd;
    ASSERT_FALSE(fs::openFileForWrite(dir + "/" + name, fd, fs::CD_OpenExisting, fs::OF_Append));
    ASSERT_FALSE(fs::setLastAccessAndModificationTime(fd, std::chrono::system_clock::now() - age));
    close(fd);
  };
  leave(std::string(OtherKey) + ".bpo.tmp-old", std::chrono::hours(2));
  leave(std::string(OtherKey) + ".bpo.tmp-new", std::chrono::hours(0)); // perhaps being written now
  ASSERT_FALSE(llvm::errorToBool(cache.store(Key, "an object")));
  EXPECT_EQ(files(), (std::vector<std::string>{std::string(Key) + ".bpo", std::string(OtherKey) + ".bpo.tmp-new"}));
  EXPECT_EQ(cache.info().entries, 1u) << "a temporary file is no entry";
  ASSERT_FALSE(llvm::errorToBool(cache.clear()));
  EXPECT_TRUE(files().empty());
}

TEST_F(CompileCacheTest, ConcurrentWritersLeaveOneValidEntry) {
  CompileCache cache(dir);
  std::string object = payload('t', 1 << 16);
  std::vector<std::thread> threads;
  std::atomic<int> badReads = 0;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_FALSE(llvm::errorToBool(cache.store(Key, object)));
        // A reader sees the whole entry or none (never a part: that would be removed as corrupt).
        if (auto loaded = cache.load(Key); loaded && loaded->getBuffer() != object)
          ++badReads;
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(badReads, 0);
  EXPECT_EQ(contents(cache.load(Key)), object);

  // Processes: each child stores the same key (its own object) many times.
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 50; ++i)
        if (llvm::errorToBool(cache.store(OtherKey, payload(static_cast<char>('a' + p), 1 << 15))))
          _exit(1);
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::string last = contents(cache.load(OtherKey));
  ASSERT_EQ(last.size(), 1u << 15);
  EXPECT_EQ(last, payload(last[0], 1 << 15));
  EXPECT_EQ(files(), (std::vector<std::string>{std::string(Key) + ".bpo", std::string(OtherKey) + ".bpo"}))
      << "no temporary file is left behind";
}

/// The key of a module holding one function `name` returning `value`.
std::string keyOf(const std::string &name, double value, unsigned optLevel, llvm::ArrayRef<std::string> symbols) {
  initializeTargets();
  auto machine = llvm::cantFail(llvm::cantFail(llvm::orc::JITTargetMachineBuilder::detectHost()).createTargetMachine());
  llvm::LLVMContext context;
  llvm::Module module("bp_model", context);
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(machine->getTargetTriple().str());
  llvm::IRBuilder<> builder(context);
  auto *function = llvm::Function::Create(llvm::FunctionType::get(builder.getDoubleTy(), false),
                                          llvm::Function::ExternalLinkage, name, module);
  builder.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", function));
  builder.CreateRet(llvm::ConstantFP::get(builder.getDoubleTy(), value));
  return compileCacheKey(module, *machine, optLevel, symbols);
}

TEST(CompileCacheKey, ChangesWithEveryIngredient) {
  std::string key = keyOf("f", 1.0, 2, {"f"});
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, keyOf("f", 1.0, 2, {"f"}));
  EXPECT_NE(key, keyOf("f", 2.0, 2, {"f"}));
  EXPECT_NE(key, keyOf("g", 1.0, 2, {"g"}));
  EXPECT_NE(key, keyOf("f", 1.0, 3, {"f"}));
  EXPECT_NE(key, keyOf("f", 1.0, 2, {"f", "g"}));
}

TEST_F(CompileCacheTest, ModelFromTheCacheComputesTheSameBits) {
  CompileCache cache(dir);
  CompileOptions options;
  options.cache = &cache;
  const char *script = "input x = 0.7\nparam w = 1.3\nnode y = tanh(x * w) + sin(w)\noutput y\n";
  auto compileAndRun = [&](const CompileOptions &with) {
    auto model = llvm::cantFail(Model::compile(script, with));
    std::vector<double> out(model.outSize()), grad(model.gradSize());
    llvm::cantFail(model.gradient(model.defaults(), out, grad));
    out.insert(out.end(), grad.begin(), grad.end());
    return out;
  };
  std::vector<double> miss = compileAndRun(options);
  EXPECT_EQ(cache.info().entries, 1u);
  std::vector<double> hit = compileAndRun(options);
  EXPECT_EQ(cache.info().entries, 1u) << "the second compile is a hit";
  ASSERT_EQ(miss.size(), hit.size());
  EXPECT_EQ(std::memcmp(miss.data(), hit.data(), miss.size() * sizeof(double)), 0);

  // Another selection, -O level or the forward function alone: another entry each.
  CompileOptions other = options;
  other.wrt = {"w"};
  compileAndRun(other);
  other = options;
  other.optLevel = 0;
  compileAndRun(other);
  other = options;
  other.gradient = false;
  llvm::cantFail(Model::compile(script, other));
  EXPECT_EQ(cache.info().entries, 4u);
}

} // namespace
