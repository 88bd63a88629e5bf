//===- Optimizer.h - Update rules for training ------------------*- C++ -*-===//
//
// The tutorial's update step, `v <- v + rate * d out/d v` to make an output grow, and its usual refinements.
// Every optimizer minimizes: to maximize, pass the negated gradient (exact in IEEE arithmetic, so plain SGD
// computes v - rate * (-g), which equals v + rate * g bit for bit).
//
// The rules are written once, in UpdateRules, over an arithmetic supplied by the caller: the C++ optimizers
// below run them on doubles, and generated training steps (CodeGen.h, addTrainStep) emit them as LLVM IR, so
// both do the same operations in the same order and give the same numbers bit for bit.
//
//===----------------------------------------------------------------------===//
#ifndef BP_OPTIMIZER_H
#define BP_OPTIMIZER_H

#include "llvm/ADT/ArrayRef.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bp {

enum class OptimizerKind { SGD, Momentum, Adam };

std::optional<OptimizerKind> parseOptimizerKind(const std::string &name);
const char *optimizerName(OptimizerKind kind);

/// Doubles of state an optimizer keeps for `count` elements: none for sgd, a velocity per element for momentum,
/// and for adam the first moments, then the second moments, then the step count (the last one).
size_t optimizerStateSize(OptimizerKind kind, size_t count);

/// Each update of one element, over an arithmetic `A` with a value type `A::Value` and the operations
/// constant(double), add, sub, mul, div, sqrt and pow (IEEE double arithmetic, each rounded once).
///
///   sgd:      v -= rate * g
///   momentum: u = 0.9 * u + g;  v -= rate * u                       (u starts at 0)
///   adam:     m = 0.9 m + 0.1 g;  s = 0.999 s + 0.001 g^2;
///             v -= rate * (m / (1 - 0.9^t)) / (sqrt(s / (1 - 0.999^t)) + 1e-8)   (t counts steps from 1)
struct UpdateRules {
  static constexpr double MomentumCoefficient = 0.9;
  static constexpr double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

  template <class A> using Value = typename A::Value;

  /// The value after an sgd step against `gradient`.
  template <class A> static Value<A> sgd(A &a, double rate, Value<A> value, Value<A> gradient) {
    return a.sub(value, a.mul(a.constant(rate), gradient));
  }

  /// The value after a momentum step; `velocity` is updated.
  template <class A>
  static Value<A> momentum(A &a, double rate, Value<A> value, Value<A> gradient, Value<A> &velocity) {
    velocity = a.add(a.mul(a.constant(MomentumCoefficient), velocity), gradient);
    return a.sub(value, a.mul(a.constant(rate), velocity));
  }

  /// Adam's bias corrections for step `t` (1 for the first step), once per step: 1 - 0.9^t and 1 - 0.999^t.
  template <class A> static std::pair<Value<A>, Value<A>> adamCorrections(A &a, Value<A> t) {
    return {a.sub(a.constant(1), a.pow(a.constant(Beta1), t)), a.sub(a.constant(1), a.pow(a.constant(Beta2), t))};
  }

  /// The value after an adam step with `corrections` (adamCorrections); `mean` and `square` are updated.
  template <class A>
  static Value<A> adam(A &a, double rate, std::pair<Value<A>, Value<A>> corrections, Value<A> value,
                       Value<A> gradient, Value<A> &mean, Value<A> &square) {
    mean = a.add(a.mul(a.constant(Beta1), mean), a.mul(a.constant(1 - Beta1), gradient));
    square = a.add(a.mul(a.constant(Beta2), square), a.mul(a.mul(a.constant(1 - Beta2), gradient), gradient));
    Value<A> step = a.div(a.mul(a.constant(rate), a.div(mean, corrections.first)),
                          a.add(a.sqrt(a.div(square, corrections.second)), a.constant(Epsilon)));
    return a.sub(value, step);
  }
};

class Optimizer {
public:
  virtual ~Optimizer() = default;
  /// Moves `values` one step against `gradient` (d loss / d value, one per value).
  virtual void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) = 0;

  /// An optimizer of `count` values following UpdateRules.
  static std::unique_ptr<Optimizer> create(OptimizerKind kind, double rate, size_t count);
};

} // namespace bp

#endif // BP_OPTIMIZER_H
