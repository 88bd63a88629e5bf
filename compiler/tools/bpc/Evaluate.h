//===- Evaluate.h - Every output of a script over rows of data -*- C++ -*-===//
//
// `run` (with --data, each row or the mean over the rows), `train`'s final report and its held-out evaluations
// (--valid) all evaluate every output of a script on every row of a data set; this is that, with the compiled
// forward function (or the gradient function, for every output's gradient too) of bp::Model. Also the
// evaluations of vector-Jacobian products and the choice of a Hessian's output that `run` and `gradcheck` share.
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

/// Evaluates a script with the functions bp::Model::compile JIT-compiles: its forward function, or, for a model
/// compiled with its gradient, its gradient function (the outputs and the gradient of the model's selection).
class OutputEvaluator {
public:
  /// Compiles `graph` as compileOptions(options, gradient) says (Commands.h).
  static llvm::Expected<OutputEvaluator> create(std::shared_ptr<const bp::Graph> graph, const Options &options,
                                                bool gradient);

  /// The numbers of one evaluation, flat: every output (Graph::outputOffsets), then, with the gradient, the
  /// gradient, row-major [output elements][argument elements] (the selected ones) as Model::gradient fills it.
  size_t resultSize() const { return model.outSize() + model.gradSize(); }

  /// The results at `arguments` (flat, Graph::argumentOffsets) with row `r` of `data` bound, for each row in
  /// order; `visit(r, results)` sees each.
  void forEachRow(std::vector<double> arguments, const bp::DataSet &data,
                  llvm::function_ref<void(size_t, llvm::ArrayRef<double>)> visit) const;

  /// Every result's mean over the rows of `data` (summed in row order from +0, then divided by the number of
  /// rows: for the gradient, the mean gradient that `train` steps along); without data, the results at
  /// `arguments` as they are.
  std::vector<double> mean(const std::vector<double> &arguments, const bp::DataSet *data) const;

private:
  explicit OutputEvaluator(bp::Model model) : model(std::move(model)) {}

  /// The results at `arguments`, into `results` (resultSize() numbers).
  void evaluate(const std::vector<double> &arguments, std::vector<double> &results) const;

  bp::Model model;
};

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
