//===- Model.h - A script compiled in one call, for C++ programs -*- C++ -*-===//
//
// bp as a library: Model::compile takes a script's text (compileFile its path) and runs the whole pipeline,
// source -> checked graph -> gradient graph -> machine code in this process, once. It is the one way bp
// JIT-compiles a script's forward and gradient functions: bpc's run and gradcheck, train's evaluations, the C
// API (bp.h) and the benchmark's JIT column all call it, so they compute the same numbers. The model describes its
// arguments and outputs (names, shapes, where they sit in `in` and `out`, the gradient's layout) and calls the
// compiled functions:
//
//   auto model = bp::Model::compile("input a = 5\ninput b = -6\nnode f = a * b\noutput f\n");
//   if (!model)
//     return report(llvm::toString(model.takeError())); // "<script>:LINE:COL: error: ...", the line, a caret
//   std::vector<double> in = model->defaults(), out(model->outSize()), grad(model->gradSize());
//   if (llvm::Error err = model->gradient(in, out, grad)) // sizes checked
//     ...
//
// forward and gradient keep no state: any number of threads may call them on one model at once.
//
//===----------------------------------------------------------------------===//
#ifndef BP_API_MODEL_H
#define BP_API_MODEL_H

#include "bp/Autodiff.h"
#include "bp/Graph.h"
#include "bp/JIT.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bp {

struct CompileOptions {
  unsigned optLevel = 2; // -O0 .. -O3
  bool gradient = true;  // compile the gradient function too
  /// The outputs to differentiate (bpc's --of) and the inputs and params to differentiate by (--wrt), by name;
  /// empty: every one.
  std::vector<std::string> of, wrt;
  /// Seeds the random initializers, normal() and uniform() (bpc's --seed).
  uint64_t seed = 0;
  /// The file name diagnostics give for Model::compile's text (compileFile's name its path).
  std::string name = "<script>";
  /// The derivative functions to compile beside forward and gradient (bpc build's --emit-fn): any of "jvp",
  /// "vjp", "hessian" and "hvp". vjp follows of/wrt; hessian and hvp are of the one output `of` names, or of the
  /// script's only scalar output, by the wrt arguments.
  std::vector<std::string> functions;
  /// Where the compiled object is looked up and kept (CompileCache.h); null: defaultCompileCache(), which is
  /// none unless the program set one (bpc does).
  const CompileCache *cache = nullptr;
  /// The threads a large script is optimized and compiled on (bpc's -j); 0: defaultCompileThreads() (JIT.h),
  /// every core unless the program set another number. The results are the same bit for bit.
  unsigned threads = 0;
};

enum class ArgumentKind { Input, Param };

/// What arguments and outputs share: a name, and a run of `in` or `out` that holds the elements, row-major.
struct ValueInfo {
  std::string name;
  Shape shape;   // empty for a scalar
  size_t size;   // elements
  size_t offset; // the first element's position in `in` (an argument) or `out` (an output)
};

/// An input or param.
struct ArgumentInfo : ValueInfo {
  ArgumentKind kind;
  /// False for an input declared without a value, whose elements Model::defaults() holds as 0.
  bool hasDefault;
  /// The gradient's first column for this argument, if the model differentiates by it.
  std::optional<size_t> gradColumn;
};

/// An output.
struct OutputInfo : ValueInfo {
  /// The gradient's first row for this output (one row per element), if the model differentiates it.
  std::optional<size_t> gradRow;
};

/// Chooses the outputs (`of`) and arguments (`wrt`) to differentiate, by name: every one where a list is empty.
/// An unknown name, one that is not an output (of) or not an input or param (wrt), or a name given twice is an
/// error whose message lists the valid names, in the words of bpc's --of and --wrt.
llvm::Expected<GradientSelection> selectGradient(const Graph &graph, llvm::ArrayRef<std::string> of,
                                                 llvm::ArrayRef<std::string> wrt);

/// The pipeline's first half from a file: the script at `path` read, parsed and checked into its graph (random
/// initializers seeded by `seed`), or the error that it cannot be read or every diagnostic of a bad script.
llvm::Expected<Graph> compileScriptFile(llvm::StringRef path, uint64_t seed = 0);

class Model {
public:
  /// Compiles the script `source` (diagnostics name it options.name). A script that does not compile gives an
  /// error holding every diagnostic in clang's form, as bpc prints it (llvm::toString renders it); a selection
  /// that names no output or argument, or a gradient over the size limit (Autodiff.h), gives its message.
  static llvm::Expected<Model> compile(llvm::StringRef source, const CompileOptions &options = {});
  /// The same for the script at `path`, or the error that it cannot be read.
  static llvm::Expected<Model> compileFile(llvm::StringRef path, const CompileOptions &options = {});
  /// The pipeline itself, from a loaded script: both of the above call it.
  static llvm::Expected<Model> compile(const SourceFileRef &file, const CompileOptions &options);
  /// Its second half, from a graph already checked and built (compileScript; options.seed is not used): the
  /// gradient graph of the selection, then the compiled functions.
  static llvm::Expected<Model> compile(Graph graph, const CompileOptions &options);
  /// The same on a graph the caller goes on using beside the model (bpc interprets it, binds values by it, and
  /// compiles other models of it), shared rather than copied.
  static llvm::Expected<Model> compile(std::shared_ptr<const Graph> graph, const CompileOptions &options);

  Model(Model &&);
  Model &operator=(Model &&);
  ~Model();

  /// The arguments in `in` order: every input, then every param, each in declaration order.
  const std::vector<ArgumentInfo> &arguments() const { return argumentList; }
  const std::vector<OutputInfo> &outputs() const { return outputList; }
  /// The argument or output named `name`, null if there is none.
  const ArgumentInfo *findArgument(llvm::StringRef name) const;
  const OutputInfo *findOutput(llvm::StringRef name) const;

  /// The doubles in `in`, `out` and `grad`; gradSize() is 0 for a model compiled without its gradient.
  size_t inSize() const { return inCount; }
  size_t outSize() const { return outCount; }
  size_t gradSize() const { return gradRowCount * gradColumnCount; }
  /// The gradient is row-major [gradRows()][gradColumns()]: a row per element of each differentiated output
  /// (OutputInfo::gradRow), a column per element of each argument it is differentiated by
  /// (ArgumentInfo::gradColumn); entry (r, c) is d out[r's element] / d in[c's element].
  size_t gradRows() const { return gradRowCount; }
  size_t gradColumns() const { return gradColumnCount; }
  bool hasGradient() const { return compiled->hasGradient(); }

  /// The script's own values for `in`: defaults and initial values (0 for an input declared without one).
  const std::vector<double> &defaults() const { return defaultValues; }

  /// The compiled functions on raw arrays of inSize(), outSize() and gradSize() doubles, unchecked (C arrays
  /// decay to these; wrap one in llvm::ArrayRef for the checked calls below). gradient() only for a model
  /// compiled with its gradient.
  void forward(const double *in, double *out) const { compiled->forward(in, out); }
  void gradient(const double *in, double *out, double *grad) const { compiled->gradient(in, out, grad); }
  /// The same with every size checked first: an error says which array has the wrong size (or that the model
  /// has no gradient) and nothing is called.
  llvm::Error forward(llvm::ArrayRef<double> in, llvm::MutableArrayRef<double> out) const {
    if (in.size() != inCount || out.size() != outCount)
      return sizeError(in.size(), out.size(), std::nullopt);
    forward(in.data(), out.data());
    return llvm::Error::success();
  }
  llvm::Error gradient(llvm::ArrayRef<double> in, llvm::MutableArrayRef<double> out,
                       llvm::MutableArrayRef<double> grad) const {
    if (!hasGradient() || in.size() != inCount || out.size() != outCount || grad.size() != gradSize())
      return sizeError(in.size(), out.size(), grad.size());
    gradient(in.data(), out.data(), grad.data());
    return llvm::Error::success();
  }

  /// The derivative functions of CompileOptions::functions, with CodeGen.h's arrays: jvp's tangentIn laid out
  /// like `in` and tangentOut like `out`; vjp's seedOut like `out` and gradIn over gradColumns(); hessian's hess
  /// [hessianSize()][hessianSize()] and hvp's v and hv of hessianSize() over the wrt arguments' elements. Each also
  /// fills `out`. A function that was not compiled gives an error and calls nothing.
  llvm::Error jvp(const double *in, const double *tangentIn, double *out, double *tangentOut) const;
  llvm::Error vjp(const double *in, const double *seedOut, double *out, double *gradIn) const;
  llvm::Error hessian(const double *in, double *out, double *hess) const;
  llvm::Error hvp(const double *in, const double *v, double *out, double *hv) const;
  size_t hessianSize() const { return hessianCount; }
  /// The compiled derivative functions (defined in Model.cpp).
  struct DerivativeFunctions;

  /// What the model was compiled from, for callers that go on with the rest of the library (the interpreter,
  /// explain, other selections).
  const Graph &graph() const { return *forwardGraph; }
  const GradientSelection &selection() const { return chosen; }
  const CompiledModel &compiledModel() const { return *compiled; }

private:
  Model(std::shared_ptr<const Graph> graph, GradientSelection selection, std::unique_ptr<CompiledModel> compiled);
  /// The error of a checked call given arrays of these sizes (`grad` for gradient only): no gradient, or the
  /// first array whose size is not the model's.
  llvm::Error sizeError(size_t in, size_t out, std::optional<size_t> grad) const;

  std::shared_ptr<const Graph> forwardGraph; // never null
  GradientSelection chosen;
  std::unique_ptr<CompiledModel> compiled;
  /// The derivative functions, in a module of their own (null where none was asked for).
  std::unique_ptr<DerivativeFunctions> derivatives;
  size_t hessianCount = 0;
  std::vector<ArgumentInfo> argumentList;
  std::vector<OutputInfo> outputList;
  std::vector<double> defaultValues;
  size_t inCount = 0, outCount = 0, gradRowCount = 0, gradColumnCount = 0;
};

} // namespace bp

#endif // BP_API_MODEL_H
