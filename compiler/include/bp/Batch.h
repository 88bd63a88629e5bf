//===- Batch.h - A training step's rows as one batched graph ----*- C++ -*-===//
//
// bpc train's step sums, row by row, the objective and its gradient over the trained variables. batchObjective
// builds the same sum as one graph over all the rows of a step: every value that depends on the columns of a
// row gets a leading dimension of the step's row count, and the graph's output is the sum of the per-row
// objectives, so its gradient (buildGradientGraph) is the sum of the per-row gradients. A weight's gradient
// then sums over the rows in row order from +0 inside one op (transpose(X) @ G, sum_to), the same additions in
// the same order as the row loop makes: the batched step's numbers are the row loop's, bit for bit. Where that
// cannot be promised, or an op has no batched form, there is no batched graph and the step runs row by row.
//
//===----------------------------------------------------------------------===//
#ifndef BP_BATCH_H
#define BP_BATCH_H

#include "bp/Graph.h"

#include <optional>
#include <vector>

namespace bp {

struct BatchedObjective {
  /// The arguments of the objective's graph, in the same order, those bound by a row with a leading dimension
  /// of `rows`; one output, the sum over the rows of the objective (a number).
  Graph graph;
  std::vector<bool> batched; // per argument (Graph::arguments() order): whether rows bind it
};

/// The batched graph of output #objective of `graph` over `rows` rows, each binding the elements of `in` listed
/// in rowTargets (TrainStepSpec::rowTargets), with gradients wanted for the arguments `variables`; nullopt
/// where the row loop must be kept: a row binds part of an argument or a trained one, the objective does not
/// depend on a row, an op has no batched form here (a matrix or the right operand of `@` bound by a row, a
/// transpose of one), or a trained variable's summed gradient could round differently from the row loop's (it
/// is used more than once, through another value, or broadcast within a row).
std::optional<BatchedObjective> batchObjective(const Graph &graph, size_t objective, llvm::ArrayRef<size_t> rowTargets,
                                               llvm::ArrayRef<size_t> variables, int64_t rows);

} // namespace bp

#endif // BP_BATCH_H
