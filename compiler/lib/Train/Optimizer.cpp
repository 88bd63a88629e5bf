//===- Optimizer.cpp - SGD, momentum and Adam -----------------------------===//
#include "bp/Optimizer.h"

#include <cmath>

using namespace bp;

namespace {

class SGD final : public Optimizer {
public:
  explicit SGD(double rate) : rate(rate) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    for (size_t i = 0; i < values.size(); ++i)
      values[i] -= rate * gradient[i];
  }

private:
  double rate;
};

class Momentum final : public Optimizer {
public:
  Momentum(double rate, size_t count) : rate(rate), velocity(count, 0.0) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    for (size_t i = 0; i < values.size(); ++i) {
      velocity[i] = Coefficient * velocity[i] + gradient[i];
      values[i] -= rate * velocity[i];
    }
  }

private:
  static constexpr double Coefficient = 0.9;
  double rate;
  std::vector<double> velocity;
};

class Adam final : public Optimizer {
public:
  Adam(double rate, size_t count) : rate(rate), mean(count, 0.0), square(count, 0.0) {}
  void step(llvm::MutableArrayRef<double> values, llvm::ArrayRef<double> gradient) override {
    ++t;
    double meanCorrection = 1 - std::pow(Beta1, static_cast<double>(t));
    double squareCorrection = 1 - std::pow(Beta2, static_cast<double>(t));
    for (size_t i = 0; i < values.size(); ++i) {
      mean[i] = Beta1 * mean[i] + (1 - Beta1) * gradient[i];
      square[i] = Beta2 * square[i] + (1 - Beta2) * gradient[i] * gradient[i];
      values[i] -= rate * (mean[i] / meanCorrection) / (std::sqrt(square[i] / squareCorrection) + Epsilon);
    }
  }

private:
  static constexpr double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
  double rate;
  std::vector<double> mean, square;
  long t = 0;
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
  return "sgd";
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
  return nullptr;
}
