//===- PhaseTimes.cpp - Wall-clock time per compiler phase ----------------===//
#include "bp/PhaseTimes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

using namespace bp;

namespace {

using Clock = std::chrono::steady_clock;

struct Phase {
  const char *name;
  Clock::duration total;
};

bool enabled = false;
Clock::time_point enabledAt;
std::mutex phasesMutex; // phases may run on the large-stack thread and on compile threads
std::vector<Phase> &phases() {
  static auto *all = new std::vector<Phase>; // never destroyed: printPhaseTimes runs among the static destructors
  return *all;
}

double milliseconds(Clock::duration duration) { return std::chrono::duration<double, std::milli>(duration).count(); }

void printPhaseTimes() {
  Clock::duration total = Clock::now() - enabledAt;
  std::lock_guard<std::mutex> lock(phasesMutex);
  for (const Phase &phase : phases())
    llvm::errs() << "bpc: time: " << phase.name << ' ' << llvm::format("%.3f", milliseconds(phase.total)) << " ms\n";
  llvm::errs() << "bpc: time: total " << llvm::format("%.3f", milliseconds(total))
               << " ms (from reading the command line to the exit)\n";
}

} // namespace

void bp::enablePhaseTimes() {
  if (enabled)
    return;
  enabled = true;
  enabledAt = Clock::now();
  llvm::errs(); // constructed before the handler is registered, so still there when it runs
  std::atexit(printPhaseTimes);
}

bool bp::phaseTimesEnabled() { return enabled; }

PhaseTimer::~PhaseTimer() {
  if (!name)
    return;
  Clock::duration elapsed = Clock::now() - start;
  std::lock_guard<std::mutex> lock(phasesMutex);
  for (Phase &phase : phases())
    if (std::strcmp(phase.name, name) == 0) {
      phase.total += elapsed;
      return;
    }
  phases().push_back({name, elapsed});
}
