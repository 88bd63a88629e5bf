//===- JIT.h - Compiling a script in memory and calling it ------*- C++ -*-===//
//
// A CompiledModel is a script's forward function and, when asked for, its gradient function, generated,
// optimized and compiled to machine code in this process by LLVM's ORC LLJIT. They have the C ABI of
// runtime/bp_model.h. A CompiledTrainStep is a script's training step (CodeGen.h, addTrainStep), compiled the
// same way.
//
//===----------------------------------------------------------------------===//
#ifndef BP_JIT_H
#define BP_JIT_H

#include "bp/Autodiff.h"
#include "bp/Graph.h"
#include "bp_model.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cassert>
#include <memory>
#include <optional>

namespace llvm {
class LLVMContext;
class Module;
namespace orc {
class LLJIT;
} // namespace orc
} // namespace llvm

namespace bp {

class CompileCache;
struct TrainStepSpec;

class CompiledModel {
public:
  /// What to compile: the forward function alone (nothing is differentiated), or both functions.
  enum Functions { ForwardOnly, ForwardAndGradient };

  /// JIT-compiles `forward` (and, if asked, its gradient graph, built here: of `selection`'s outputs by its
  /// arguments, every output by every argument without one) at -O`optLevel`, its objects taken from or kept in
  /// `cache` (null: defaultCompileCache(), CompileCache.h), a large module on `threads` threads (0:
  /// defaultCompileThreads()). Fails with the gradient graph's diagnostic when it is too large (Autodiff.h).
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  create(const Graph &forward, Functions functions, unsigned optLevel = 2,
         const std::optional<GradientSelection> &selection = std::nullopt, const CompileCache *cache = nullptr,
         unsigned threads = 0);
  ~CompiledModel();

  /// in: Graph::arguments() order, each argument's elements row-major; out: each output's, likewise.
  void forward(const double *in, double *out) const { forwardFn(in, out); }
  /// As forward, plus grad: row-major [output elements][argument elements] (a tensor output's Jacobian takes one
  /// row per element; with a selection, its outputs' rows and its arguments' columns). Only for a model compiled with its gradient.
  void gradient(const double *in, double *out, double *grad) const {
    assert(gradientFn && "the model was compiled without its gradient");
    gradientFn(in, out, grad);
  }
  bool hasGradient() const { return gradientFn != nullptr; }

  /// The compiled functions themselves, for callers that call them directly (benchmarks, embedding); the
  /// gradient function is null for a model compiled ForwardOnly.
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

/// PREFIX_train_step, compiled in this process: `bpc train` calls it once per step.
class CompiledTrainStep {
public:
  using Function = double (*)(double *in, double *state, const double *rows, long nrows);

  /// JIT-compiles the training step of `graph` that `spec` describes at -O`optLevel`, through `cache` and on
  /// `threads` threads as CompiledModel::create. Fails with the gradient graph's diagnostic when it is too large
  /// (Autodiff.h).
  static llvm::Expected<std::unique_ptr<CompiledTrainStep>> create(const Graph &graph, const TrainStepSpec &spec,
                                                                   unsigned optLevel = 2,
                                                                   const CompileCache *cache = nullptr,
                                                                   unsigned threads = 0);
  ~CompiledTrainStep();

  /// One step over `nrows` rows (row-major, spec.rowTargets.size() numbers each; without data, one row and
  /// `rows` may be null): see addTrainStep. `state` holds stateSize() doubles, zero before the first step.
  double step(double *in, double *state, const double *rows, long nrows) const {
    return function(in, state, rows, nrows);
  }
  size_t stateSize() const { return stateDoubles; }

private:
  CompiledTrainStep() = default;

  std::unique_ptr<llvm::orc::LLJIT> jit;
  Function function = nullptr;
  size_t stateDoubles = 0;
};

/// Any module's functions, compiled in this process: for calling functions other than a CompiledModel's
/// (the derivative functions of CodeGen.h, in tests).
class CompiledModule {
public:
  /// JIT-compiles the module `generate` makes in the context it is given, at -O`optLevel`, on `threads` threads
  /// as CompiledModel::create.
  static llvm::Expected<std::unique_ptr<CompiledModule>>
  create(unsigned optLevel,
         llvm::function_ref<llvm::Expected<std::unique_ptr<llvm::Module>>(llvm::LLVMContext &)> generate,
         unsigned threads = 0);
  ~CompiledModule();

  /// The address of the function `name`, as a pointer of type F.
  template <typename F> llvm::Expected<F> function(const std::string &name) const {
    auto address = lookup(name);
    if (!address)
      return address.takeError();
    return reinterpret_cast<F>(*address);
  }

private:
  CompiledModule() = default;
  llvm::Expected<void *> lookup(const std::string &name) const;

  std::unique_ptr<llvm::orc::LLJIT> jit;
};

/// The threads a large module is optimized and compiled on (CodeGen.h, compileObjects) where a caller gives 0:
/// 0 (every core) unless a program sets another number (bpc does, from -j). Set it before compiling, from one
/// thread.
unsigned defaultCompileThreads();
void setDefaultCompileThreads(unsigned threads);

} // namespace bp

#endif // BP_JIT_H
