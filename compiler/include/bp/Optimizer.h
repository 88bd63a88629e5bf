//===- Optimizer.h - Update rules for training ------------------*- C++ -*-===//
//
// The tutorial's update step, `v <- v + rate * d out/d v` to make an output grow, and its usual refinements.
// Every optimizer minimizes: to maximize, pass the negated gradient (exact in IEEE arithmetic, so plain SGD
// computes v - rate * (-g), which equals v + rate * g bit for bit).
//
//===----------------------------------------------------------------------===//
#ifndef BP_OPTIMIZER_H
#define BP_OPTIMIZER_H

#include "llvm/ADT/ArrayRef.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bp {

enum class OptimizerKind { SGD, Momentum, Adam };

std::optional<OptimizerKind> parseOptimizerKind(const std::string &name);
const char *optimizerName(OptimizerKind kind);

class Optimizer {
public:
  virtual ~Optimizer() = default;
  /// Moves `values` one step against `gradient` (d loss / d value, one per value).
  virtual void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) = 0;

  /// sgd:      v -= rate * g
  /// momentum: u = 0.9 * u + g;  v -= rate * u                       (u starts at 0)
  /// adam:     m = 0.9 m + 0.1 g;  s = 0.999 s + 0.001 g^2;
  ///           v -= rate * (m / (1 - 0.9^t)) / (sqrt(s / (1 - 0.999^t)) + 1e-8)   (t counts steps from 1)
  static std::unique_ptr<Optimizer> create(OptimizerKind kind, double rate, size_t count);
};

} // namespace bp

#endif // BP_OPTIMIZER_H
