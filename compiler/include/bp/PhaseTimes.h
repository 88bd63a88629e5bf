//===- PhaseTimes.h - Wall-clock time per compiler phase --------*- C++ -*-===//
//
// A diagnostic for finding where a compile spends its time (bpc --time-phases): each phase that a PhaseTimer
// scope names adds its wall-clock time to a total per name; the totals print to stderr when the process exits.
// Disabled (the default), a PhaseTimer costs one load and one branch.
//
//===----------------------------------------------------------------------===//
#ifndef BP_PHASETIMES_H
#define BP_PHASETIMES_H

#include <chrono>

namespace bp {

/// Starts recording phase times and prints them, in the order the phases first ran, to stderr at exit:
/// `bpc: time: parse 1.234 ms`, one line per phase, then the time from this call to the exit.
void enablePhaseTimes();

/// Whether enablePhaseTimes was called.
bool phaseTimesEnabled();

/// Adds the time from its construction to its destruction to phase `name` (a string literal), when enabled.
/// A phase run inside another counts in both.
class PhaseTimer {
public:
  explicit PhaseTimer(const char *name) : name(phaseTimesEnabled() ? name : nullptr) {
    if (this->name)
      start = std::chrono::steady_clock::now();
  }
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer &) = delete;
  PhaseTimer &operator=(const PhaseTimer &) = delete;

private:
  const char *name;
  std::chrono::steady_clock::time_point start;
};

} // namespace bp

#endif // BP_PHASETIMES_H
