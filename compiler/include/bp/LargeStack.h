//===- LargeStack.h - Run deep recursions on a big stack --------*- C++ -*-===//
//
// The ANTLR parser recurses once per grammar rule per level of parentheses, and so do the parse-tree
// converter and the graph builder. bp runs that work on a thread with a large stack, so that the nesting
// limit, not the operating system's default stack, is what bounds it; and every such recursion checks the
// stack it has left, so that a deeper input than the stack can take is an error, never a crash.
//
//===----------------------------------------------------------------------===//
#ifndef BP_LARGESTACK_H
#define BP_LARGESTACK_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstddef>

namespace bp {

#if defined(__SANITIZE_ADDRESS__)
#define BP_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BP_ADDRESS_SANITIZER 1
#endif
#endif

/// The stack front-end work asks for (reserved address space; pages are committed only when touched).
/// AddressSanitizer makes frames about five times larger, so checked builds ask for more, to keep the same
/// nesting limit.
#ifdef BP_ADDRESS_SANITIZER
constexpr size_t LargeStackBytes = size_t(4) << 30;
#else
constexpr size_t LargeStackBytes = size_t(1) << 30;
#endif

/// The smallest stack runWithLargeStack tries before it falls back to the calling thread.
constexpr size_t SmallestStackBytes = size_t(16) << 20;

/// Runs `work` to completion on a thread with the largest stack the system grants: LargeStackBytes, or where
/// that much address space cannot be reserved (a low `ulimit -v`), a quarter of it, and so on down to
/// SmallestStackBytes. If no such thread can be created, `work` runs on the calling thread. Nested calls run
/// on the stack they are already on.
void runWithLargeStack(llvm::function_ref<void()> work);

/// The bytes of stack the running runWithLargeStack work started with (0 outside of one): what limits on
/// nesting scale to.
size_t currentStackBytes();

/// True when the current thread has less than a safety margin of stack left. Every recursion over the
/// nesting of an input checks it and reports the input as nested too deeply instead of overflowing.
bool stackNearlyExhausted();

} // namespace bp

#endif // BP_LARGESTACK_H
