//===- CompileCache.h - Compiled objects kept on disk between runs -*- C++ -*-===//
//
// A CompileCache keeps the object files the JIT compiles, one file per key, in a directory, so that a script
// compiled again unchanged skips LLVM's optimization and code generation. The key (compileCacheKey) hashes
// everything that decides the code: the module as generated, before optimization, bp's build, LLVM's version,
// the target triple, the host CPU and its features, the -O level, the functions looked up and the number of
// parts a large module is compiled in (CodeGen.h, CodeGenPlan::parts; it differs with -j only for modules that are
// cut, whose objects differ).
//
// Each entry is a header (magic, format version, object count, payload length, a checksum of the payload) and
// the payload: the lengths of all objects but the last, then the objects (one, or one per part of a module
// compiled in parts). An
// entry is written to a temporary file in the same directory and renamed into place, so processes and threads
// that share the directory see a whole entry or none; one that is truncated or corrupted fails its checks, is
// removed and is compiled again, never loaded. After each store the least recently used entries (by
// modification time, which a hit refreshes) are removed until the directory holds at most maxBytes.
//
//===----------------------------------------------------------------------===//
#ifndef BP_COMPILECACHE_H
#define BP_COMPILECACHE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace bp {

class CompileCache {
public:
  static constexpr uint64_t DefaultMaxBytes = 256ull << 20;

  /// A cache in `directory` (created when first stored into) that keeps at most `maxBytes` of entries.
  explicit CompileCache(std::string directory, uint64_t maxBytes = DefaultMaxBytes);

  /// $BP_CACHE_DIR, else $XDG_CACHE_HOME/bp, else $HOME/.cache/bp; empty if none of them is set.
  static std::string defaultDirectory();

  const std::string &directory() const { return dir; }
  uint64_t maxBytes() const { return limit; }

  /// The objects stored under `key` in the order stored, or none if there is no entry or it fails its checks
  /// (then it is removed).
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> loadObjects(llvm::StringRef key) const;
  /// Stores `objects` (at least one) under `key` atomically, then evicts the least recently used entries over
  /// the bound.
  llvm::Error storeObjects(llvm::StringRef key, llvm::ArrayRef<llvm::StringRef> objects) const;

  /// The object of an entry that holds one (null otherwise), and storing one: loadObjects and storeObjects.
  std::unique_ptr<llvm::MemoryBuffer> load(llvm::StringRef key) const;
  llvm::Error store(llvm::StringRef key, llvm::StringRef object) const;

  struct Info {
    size_t entries = 0;
    uint64_t bytes = 0;
  };
  /// The entries and their bytes (a directory not yet created holds none).
  Info info() const;
  /// Removes every entry (and any temporary file left by an interrupted store).
  llvm::Error clear() const;

  /// The path of the entry for `key`.
  std::string entryPath(llvm::StringRef key) const;

private:
  /// Removes the least recently used entries until at most `limit` bytes remain, never `keep` (and temporary
  /// files left an hour ago by stores that never finished).
  void evict(llvm::StringRef keep) const;

  std::string dir;
  uint64_t limit;
};

/// The key of `module` (generated, its triple and data layout set, not yet optimized) compiled by `machine` at
/// -O`optLevel` for the functions `symbols` into `parts` objects: the hexadecimal SHA-256 of all of them (the
/// module as bitcode), of bp's build and of LLVM's version.
std::string compileCacheKey(const llvm::Module &module, const llvm::TargetMachine &machine, unsigned optLevel,
                            llvm::ArrayRef<std::string> symbols, unsigned parts = 1);

/// The cache CompiledModel and CompiledTrainStep use when they are given none: null (no caching) unless a
/// program sets one (bpc does, from its options). Set it before compiling, from one thread.
const CompileCache *defaultCompileCache();
void setDefaultCompileCache(std::unique_ptr<CompileCache> cache);

} // namespace bp

#endif // BP_COMPILECACHE_H
