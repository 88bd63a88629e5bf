//===- Evaluate.h - Every output of a script over rows of data -*- C++ -*-===//
//
// `run` (with --data, each row or the mean over the rows), `train`'s final report and its held-out evaluations
// (--valid) all evaluate every output of a script on every row of a data set; this is that, with the compiled
// forward function (or the gradient function, for every output's gradient too) of bp::Model, or with the
// interpreter, whose numbers are the same bits and which compiles nothing (run --engine). Also the evaluations
// of vector-Jacobian products and the choice of a Hessian's output that `run` and `gradcheck` share.
//
//===----------------------------------------------------------------------===//
#ifndef BPC_EVALUATE_H
#define BPC_EVALUATE_H

#include "bp/Autodiff.h"
#include "bp/DataSet.h"
#include "bp/Interpreter.h"
#include "bp/Model.h"
#include "bp/NonFinite.h"

#include "llvm/ADT/FunctionExtras.h"

#include <memory>
#include <vector>

namespace bpc {

struct Options;

/// Evaluates a script's outputs, and with a gradient the outputs and the gradient of a selection: with the
/// functions bp::Model::compile JIT-compiles (its forward or its gradient function), or with the interpreter
/// (bp::evaluateGraph, bp::evaluateGradient), whose numbers the compiled ones are, bit for bit.
class OutputEvaluator {
public:
  /// Compiles `graph` as compileOptions(options, gradient) says (Commands.h).
  static llvm::Expected<OutputEvaluator> create(std::shared_ptr<const bp::Graph> graph, const Options &options,
                                                bool gradient);
  /// Interprets `graph`, or with `gradient` (a gradient graph of `graph`) that gradient graph: nothing is
  /// compiled, and LLVM's targets and JIT are never started.
  static OutputEvaluator interpret(std::shared_ptr<const bp::Graph> graph,
                                   std::optional<bp::GradientGraph> gradient);

  /// The numbers of one evaluation, flat: every output (Graph::outputOffsets), then, with the gradient, the
  /// gradient, row-major [output elements][argument elements] (the selected ones) as Model::gradient fills it.
  size_t resultSize() const { return outSize + gradSize; }

  /// The results at `arguments` (flat, Graph::argumentOffsets) with row `r` of `data` bound, for each row in
  /// order; `visit(r, results)` sees each.
  void forEachRow(std::vector<double> arguments, const bp::DataSet &data,
                  llvm::function_ref<void(size_t, llvm::ArrayRef<double>)> visit) const;

  /// Every result's mean over the rows of `data` (summed in row order from +0, then divided by the number of
  /// rows: for the gradient, the mean gradient that `train` steps along); without data, the results at
  /// `arguments` as they are.
  std::vector<double> mean(const std::vector<double> &arguments, const bp::DataSet *data) const;

private:
  OutputEvaluator(size_t outSize, size_t gradSize) : outSize(outSize), gradSize(gradSize) {}

  /// The results at `arguments`, into `results` (resultSize() numbers).
  void evaluate(const std::vector<double> &arguments, std::vector<double> &results) const;

  size_t outSize, gradSize;
  std::optional<bp::Model> model;            // compiled; else interpreted:
  std::shared_ptr<const bp::Graph> graph;    // the forward graph
  std::optional<bp::GradientGraph> gradient; // and, with the gradient, its gradient graph
};

/// The element operations one evaluation of `graph` takes, the interpreter's work: per node its result's
/// elements or its operands', whichever is more (a @ of [m,k] and [k,n] m*k*n). With `gradient` (a gradient
/// graph of `graph`), that graph's, whose seeded nodes a tensor output's Jacobian evaluates again per row.
double evaluationWork(const bp::Graph &graph, const bp::GradientGraph *gradient = nullptr);

/// Whether interpreting `rows` evaluations of `graph` (or of `gradient`, a gradient graph of it) takes less time
/// than compiling them with LLVM and running the code: whether their work (evaluationWork times `rows`) is at
/// most InterpretWorkLimit plus InterpretWorkPerNode per node evaluated.
bool interpretingPays(const bp::Graph &graph, const bp::GradientGraph *gradient, size_t rows);
/// Measured on `sum(A @ B * (A @ B))` with its gradient and on a @'s Jacobian: the interpreter spends 1.5 to 2.5
/// ns per element operation, compiled code under 1; the JIT costs about 3 ms to start plus, per node of the
/// gradient graph, 1 us with the object in the compile cache or 70 us to compile it. A compile pays from about
/// 4e6 operations when the cache holds the object and from about 3e7 when it does not; 1e7 loses at most ~4 ms
/// to a cached compile and saves ~30 ms on an uncached one. A graph of scalars (~1 operation per node) is
/// always interpreted.
constexpr double InterpretWorkLimit = 1e7, InterpretWorkPerNode = 1000;

/// SEED^T J of the output of `gradient`'s sweep #sweep, per selected argument (GradientSelection::arguments) its
/// elements, from the interpreter: a tensor output's sweep evaluated with `seed` (its elements row-major) in its
/// seed leaf, a scalar output's gradient times seed[0]. `values` holds evaluateGraph(gradient.graph, in); only
/// the sweep's seeded nodes are evaluated again.
std::vector<std::vector<double>> vectorJacobianProduct(const bp::GradientGraph &gradient, bp::Values &values,
                                                       size_t sweep, llvm::ArrayRef<double> seed);

/// Warns where results that are not finite started (NonFinite.h): the outputs that `outputs` lists (indices into
/// Graph::outputs) and, with a gradient selection, every entry of that gradient, from the interpreter, whose
/// numbers compiled code gives bit for bit. The warnings go to stderr, in clang's form; with
/// --trace-nonfinite, every non-finite node follows, in evaluation order.
class NonFiniteReporter {
public:
  NonFiniteReporter(const bp::Graph &graph, const Options &options, std::vector<size_t> outputs,
                    const std::optional<bp::GradientSelection> &selection = std::nullopt);

  /// Whether `results` (OutputEvaluator's layout, for these outputs and gradient) hold a number that is not
  /// finite.
  static bool anyNonFinite(llvm::ArrayRef<double> results) { return bp::firstNonFinite(results).has_value(); }

  /// Evaluates at `arguments` (flat, Graph::argumentOffsets) and warns for each result that is not finite,
  /// `where` ending each warning (" on row 3 of data.csv"). Returns whether any was not finite.
  bool report(llvm::ArrayRef<double> arguments, const std::string &where = "") const;

private:
  const bp::Graph &graph;
  const Options &options;
  std::vector<size_t> outputs;
  std::optional<bp::GradientGraph> gradient;
};

/// The index (into Graph::outputs) of --hessian OUT's output; an unknown or tensor output is an error whose
/// message says so (a usage error).
llvm::Expected<size_t> hessianOutput(const bp::Graph &graph, const std::string &name);

} // namespace bpc

#endif // BPC_EVALUATE_H
