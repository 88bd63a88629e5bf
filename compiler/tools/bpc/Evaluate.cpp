//===- Evaluate.cpp - Every output of a script over rows of data ---------===//
#include "Evaluate.h"
#include "Commands.h"

using namespace bp;

namespace bpc {

llvm::Expected<OutputEvaluator> OutputEvaluator::create(const Graph &graph, Kind kind, unsigned optLevel,
                                                        const std::optional<GradientSelection> &selection) {
  if (kind == Interpreted)
    return OutputEvaluator(graph, nullptr, 0);
  bool gradient = kind == CompiledWithGradient;
  auto model = CompiledModel::create(
      graph, gradient ? CompiledModel::ForwardAndGradient : CompiledModel::ForwardOnly, optLevel, selection);
  if (!model)
    return model.takeError();
  if (!gradient)
    return OutputEvaluator(graph, std::move(*model), 0);
  // Rows: the selected outputs' elements; columns: the selected arguments'.
  GradientSelection chosen = selection ? *selection : GradientSelection::all(graph);
  return OutputEvaluator(graph, std::move(*model),
                         chosen.rowOffsets(graph).back() * chosen.columnOffsets(graph).back());
}

void OutputEvaluator::evaluate(const std::vector<double> &arguments, std::vector<double> &results) const {
  if (!model)
    results = interpretOutputs(*graph, arguments);
  else if (gradientCount)
    model->gradient(arguments.data(), results.data(), results.data() + outputCount);
  else
    model->forward(arguments.data(), results.data());
}

void OutputEvaluator::forEachRow(std::vector<double> arguments, const DataSet &data,
                                 llvm::function_ref<void(size_t, llvm::ArrayRef<double>)> visit) const {
  std::vector<double> results(resultSize());
  for (size_t r = 0; r < data.rowCount; ++r) {
    data.bindRow(r, arguments);
    evaluate(arguments, results);
    visit(r, results);
  }
}

std::vector<double> OutputEvaluator::mean(const std::vector<double> &arguments, const DataSet *data) const {
  std::vector<double> sums(resultSize(), 0.0);
  if (!data) {
    evaluate(arguments, sums);
    return sums;
  }
  forEachRow(arguments, *data, [&](size_t, llvm::ArrayRef<double> results) {
    for (size_t i = 0; i < sums.size(); ++i)
      sums[i] += results[i];
  });
  for (double &sum : sums)
    sum /= static_cast<double>(data->rowCount);
  return sums;
}

} // namespace bpc
