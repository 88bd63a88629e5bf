//===- LargeStack.h - Run deep recursions on a big stack --------*- C++ -*-===//
//
// The ANTLR parser recurses once per grammar rule per level of parentheses; bp runs such work on a thread
// with a large stack so that the nesting limit, not the operating system's default stack, is what bounds it.
//
//===----------------------------------------------------------------------===//
#ifndef BP_LARGESTACK_H
#define BP_LARGESTACK_H

#include "llvm/ADT/STLFunctionalExtras.h"

namespace bp {

/// Stack size for front-end work (reserved address space; pages are committed only when touched).
constexpr unsigned LargeStackBytes = 1u << 30;

/// Runs `work` to completion on a thread with a LargeStackBytes stack.
void runWithLargeStack(llvm::function_ref<void()> work);

} // namespace bp

#endif // BP_LARGESTACK_H
