//===- Evaluate.h - Every output of a script over rows of data -*- C++ -*-===//
//
// `run --data`, `train`'s final report and its held-out evaluations (--valid) all evaluate every output of a
// script on every row of a data set and report the mean of each; this is that, with the compiled forward
// function, or for a single evaluation the interpreter (bit-identical, and it needs no compile).
//
//===----------------------------------------------------------------------===//
#ifndef BPC_EVALUATE_H
#define BPC_EVALUATE_H

#include "bp/DataSet.h"
#include "bp/JIT.h"

#include "llvm/ADT/FunctionExtras.h"

#include <memory>
#include <vector>

namespace bpc {

class OutputEvaluator {
public:
  /// Compiles `graph`'s forward function, unless `compile` is false: then the interpreter evaluates `graph`
  /// (for a few evaluations, where compiling would cost more). `graph` must outlive the evaluator.
  static llvm::Expected<OutputEvaluator> create(const bp::Graph &graph, bool compile = true);

  /// Every output, flat (Graph::outputOffsets), at `arguments` (flat, Graph::argumentOffsets) with row `r` of
  /// `data` bound, for each row in order; `visit(r, outputs)` sees each.
  void forEachRow(std::vector<double> arguments, const bp::DataSet &data,
                  llvm::function_ref<void(size_t, llvm::ArrayRef<double>)> visit) const;

  /// Every output element's mean over the rows of `data` (summed in row order from +0, then divided by the
  /// number of rows); without data, the outputs at `arguments` as they are.
  std::vector<double> mean(const std::vector<double> &arguments, const bp::DataSet *data) const;

private:
  OutputEvaluator(const bp::Graph &graph, std::unique_ptr<bp::CompiledModel> model)
      : graph(&graph), model(std::move(model)), outputCount(graph.outputOffsets().back()) {}

  /// The outputs at `arguments`, into `outputs`.
  void evaluate(const std::vector<double> &arguments, std::vector<double> &outputs) const;

  const bp::Graph *graph;
  std::unique_ptr<bp::CompiledModel> model; // null: the interpreter
  size_t outputCount; // doubles in `out`
};

} // namespace bpc

#endif // BPC_EVALUATE_H
