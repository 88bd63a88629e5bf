//===- LargeStack.cpp - Run deep recursions on a big stack ----------------===//
#include "bp/LargeStack.h"

#include "llvm/Support/thread.h"

void bp::runWithLargeStack(llvm::function_ref<void()> work) {
  llvm::thread worker(std::optional<unsigned>(LargeStackBytes), [&] { work(); });
  worker.join();
}
