//===- CacheCommand.cpp - bpc cache, and the compile cache's options ------===//
#include "Commands.h"

#include "bp/CompileCache.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdint>

using namespace bp;

namespace bpc {

void configureCompileCache(const Options &options) {
  std::string directory = CompileCache::defaultDirectory();
  if (options.noCache || directory.empty())
    return;
  uint64_t maxBytes = std::min<uint64_t>(options.cacheSize, UINT64_MAX >> 20) << 20; // MiB, saturated
  setDefaultCompileCache(std::make_unique<CompileCache>(directory, maxBytes));
}

int cacheCommand(const Options &options) {
  std::string directory = CompileCache::defaultDirectory();
  if (directory.empty())
    return reportError("no compile cache: neither BP_CACHE_DIR, XDG_CACHE_HOME nor HOME is set");
  CompileCache cache(directory);
  if (options.cacheAction == "clear") {
    if (llvm::Error err = cache.clear())
      return reportError(std::move(err));
    return ExitSuccess;
  }
  CompileCache::Info info = cache.info();
  llvm::outs() << "location: " << directory << "\nentries: " << info.entries << "\nbytes: " << info.bytes << "\n";
  return ExitSuccess;
}

} // namespace bpc
