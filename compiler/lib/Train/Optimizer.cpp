//===- Optimizer.cpp - SGD, momentum and Adam -----------------------------===//
#include "bp/Optimizer.h"

#include "llvm/Support/ErrorHandling.h"

#include <cmath>

using namespace bp;

namespace {

/// UpdateRules on doubles.
struct DoubleArithmetic {
  using Value = double;
  double constant(double c) const { return c; }
  double add(double x, double y) const { return x + y; }
  double sub(double x, double y) const { return x - y; }
  double mul(double x, double y) const { return x * y; }
  double div(double x, double y) const { return x / y; }
  double sqrt(double x) const { return std::sqrt(x); }
  double pow(double x, double y) const { return std::pow(x, y); }
};

class SGD final : public Optimizer {
public:
  explicit SGD(double rate) : rate(rate) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    DoubleArithmetic a;
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = UpdateRules::sgd(a, rate, values[i], gradient[i]);
  }

private:
  double rate;
};

class Momentum final : public Optimizer {
public:
  Momentum(double rate, size_t count) : rate(rate), velocity(count, 0.0) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    DoubleArithmetic a;
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = UpdateRules::momentum(a, rate, values[i], gradient[i], velocity[i]);
  }

private:
  double rate;
  std::vector<double> velocity;
};

class Adam final : public Optimizer {
public:
  Adam(double rate, size_t count) : rate(rate), mean(count, 0.0), square(count, 0.0) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    DoubleArithmetic a;
    t += 1;
    std::pair<double, double> corrections = UpdateRules::adamCorrections(a, t);
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = UpdateRules::adam(a, rate, corrections, values[i], gradient[i], mean[i], square[i]);
  }

private:
  double rate;
  std::vector<double> mean, square;
  double t = 0; // steps taken, a whole number
};

} // namespace

std::optional<OptimizerKind> bp::parseOptimizerKind(const std::string &name) {
  if (name == "sgd")
    return OptimizerKind::SGD;
  if (name == "momentum")
    return OptimizerKind::Momentum;
  if (name == "adam")
    return OptimizerKind::Adam;
  return std::nullopt;
}

const char *bp::optimizerName(OptimizerKind kind) {
  switch (kind) {
  case OptimizerKind::SGD:
    return "sgd";
  case OptimizerKind::Momentum:
    return "momentum";
  case OptimizerKind::Adam:
    return "adam";
  }
  llvm_unreachable("every optimizer has a name");
}

size_t bp::optimizerStateSize(OptimizerKind kind, size_t count) {
  switch (kind) {
  case OptimizerKind::SGD:
    return 0;
  case OptimizerKind::Momentum:
    return count;
  case OptimizerKind::Adam:
    return 2 * count + 1;
  }
  llvm_unreachable("every optimizer has a state size");
}

std::unique_ptr<Optimizer> Optimizer::create(OptimizerKind kind, double rate, size_t count) {
  switch (kind) {
  case OptimizerKind::SGD:
    return std::make_unique<SGD>(rate);
  case OptimizerKind::Momentum:
    return std::make_unique<Momentum>(rate, count);
  case OptimizerKind::Adam:
    return std::make_unique<Adam>(rate, count);
  }
  llvm_unreachable("every optimizer kind is created");
}
