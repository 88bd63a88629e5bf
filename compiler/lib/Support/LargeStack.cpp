//===- LargeStack.cpp - Run deep recursions on a big stack ----------------===//
//
// Threads are created with pthreads directly (llvm::thread aborts when pthread_create fails), so that a
// stack that cannot be reserved is detected and a smaller one tried.
//
//===----------------------------------------------------------------------===//
#include "bp/LargeStack.h"

#include <pthread.h>

using namespace bp;

namespace {

/// What stackNearlyExhausted keeps free: room for the calls below the checks (the ANTLR runtime's
/// prediction, allocation, diagnostics). AddressSanitizer makes every frame several times larger.
#ifdef BP_ADDRESS_SANITIZER
constexpr size_t StackReserveBytes = size_t(4) << 20;
#else
constexpr size_t StackReserveBytes = size_t(1) << 20;
#endif

/// The lowest usable address of the current thread's stack, and the size of the stack the running work was
/// given (0 outside runWithLargeStack).
thread_local const char *stackLow = nullptr;
thread_local size_t stackBytes = 0;

const char *stackPointer() { return static_cast<const char *>(__builtin_frame_address(0)); }

/// The lowest address of the calling thread's stack, or null when the system does not say.
const char *findStackLow() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return nullptr;
  void *low = nullptr;
  size_t size = 0;
  int rc = pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  return rc == 0 ? static_cast<const char *>(low) : nullptr;
}

/// Runs `work` with the stack bookkeeping set up for the current thread, whose stack has `bytes` (0: as
/// many as are left below this frame).
void runHere(llvm::function_ref<void()> work, size_t bytes) {
  stackLow = findStackLow();
  const char *sp = stackPointer();
  if (bytes == 0)
    bytes = stackLow && sp > stackLow ? static_cast<size_t>(sp - stackLow) : SmallestStackBytes;
  stackBytes = bytes;
  work();
  stackLow = nullptr;
  stackBytes = 0;
}

/// What a new thread runs: the work and the size of the stack it was given.
struct ThreadTask {
  llvm::function_ref<void()> work;
  size_t bytes;
};

void *threadMain(void *task) {
  auto *threadTask = static_cast<ThreadTask *>(task);
  runHere(threadTask->work, threadTask->bytes);
  return nullptr;
}

/// Runs `work` on a new thread with a stack of `bytes`; false (and `work` not run) if the thread could not
/// be created.
bool runOnThread(llvm::function_ref<void()> work, size_t bytes) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0)
    return false;
  pthread_t thread;
  ThreadTask task{work, bytes};
  bool created = pthread_attr_setstacksize(&attr, bytes) == 0 &&
                 pthread_create(&thread, &attr, threadMain, &task) == 0;
  pthread_attr_destroy(&attr);
  if (created)
    pthread_join(thread, nullptr);
  return created;
}

} // namespace

void bp::runWithLargeStack(llvm::function_ref<void()> work) {
  if (stackBytes != 0)
    return work(); // already on a large stack
  for (size_t bytes = LargeStackBytes; bytes >= SmallestStackBytes; bytes /= 4)
    if (runOnThread(work, bytes))
      return;
  runHere(work, 0);
}

size_t bp::currentStackBytes() { return stackBytes; }

bool bp::stackNearlyExhausted() {
  if (!stackLow)
    return false; // outside runWithLargeStack nothing recurses over an input's nesting
  const char *sp = stackPointer();
  return sp < stackLow || static_cast<size_t>(sp - stackLow) < StackReserveBytes;
}
