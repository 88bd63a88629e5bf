//===- JIT.h - Compiling a script in memory and calling it ------*- C++ -*-===//
//
// A CompiledModel is a script's forward and gradient functions, generated, optimized and compiled to machine
// code in this process by LLVM's ORC LLJIT. They have the C ABI of runtime/bp_model.h.
//
//===----------------------------------------------------------------------===//
#ifndef BP_JIT_H
#define BP_JIT_H

#include "bp/Autodiff.h"
#include "bp/Graph.h"
#include "bp_model.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace bp {

class CompiledModel {
public:
  /// JIT-compiles `forward` and its gradient graph at -O`optLevel`.
  static llvm::Expected<std::unique_ptr<CompiledModel>> create(const Graph &forward, const GradientGraph &gradient,
                                                               unsigned optLevel = 2);
  ~CompiledModel();

  /// in: Graph::arguments() order; out: one value per output.
  void forward(const double *in, double *out) const { forwardFn(in, out); }
  /// As forward, plus grad: row-major [outputs][arguments].
  void gradient(const double *in, double *out, double *grad) const { gradientFn(in, out, grad); }

  /// The compiled functions themselves, for callers that call them directly (benchmarks, embedding).
  bp_forward_fn forwardFunction() const { return forwardFn; }
  bp_gradient_fn gradientFunction() const { return gradientFn; }

  size_t numArguments() const { return argumentCount; }
  size_t numOutputs() const { return outputCount; }

private:
  CompiledModel() = default;

  std::unique_ptr<llvm::orc::LLJIT> jit;
  bp_forward_fn forwardFn = nullptr;
  bp_gradient_fn gradientFn = nullptr;
  size_t argumentCount = 0;
  size_t outputCount = 0;
};

} // namespace bp

#endif // BP_JIT_H
