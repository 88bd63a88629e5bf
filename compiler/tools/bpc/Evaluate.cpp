//===- Evaluate.cpp - Every output of a script over rows of data ---------===//
#include "Evaluate.h"
#include "Commands.h"

using namespace bp;

namespace bpc {

llvm::Expected<OutputEvaluator> OutputEvaluator::create(const Graph &graph, bool compile) {
  if (!compile)
    return OutputEvaluator(graph, nullptr);
  auto model = CompiledModel::create(graph, CompiledModel::ForwardOnly);
  if (!model)
    return model.takeError();
  return OutputEvaluator(graph, std::move(*model));
}

void OutputEvaluator::evaluate(const std::vector<double> &arguments, std::vector<double> &outputs) const {
  if (model)
    model->forward(arguments.data(), outputs.data());
  else
    outputs = interpretOutputs(*graph, arguments);
}

void OutputEvaluator::forEachRow(std::vector<double> arguments, const DataSet &data,
                                 llvm::function_ref<void(size_t, llvm::ArrayRef<double>)> visit) const {
  std::vector<double> outputs(outputCount);
  for (size_t r = 0; r < data.rowCount; ++r) {
    data.bindRow(r, arguments);
    evaluate(arguments, outputs);
    visit(r, outputs);
  }
}

std::vector<double> OutputEvaluator::mean(const std::vector<double> &arguments, const DataSet *data) const {
  std::vector<double> sums(outputCount, 0.0);
  if (!data) {
    evaluate(arguments, sums);
    return sums;
  }
  forEachRow(arguments, *data, [&](size_t, llvm::ArrayRef<double> outputs) {
    for (size_t i = 0; i < outputCount; ++i)
      sums[i] += outputs[i];
  });
  for (double &sum : sums)
    sum /= static_cast<double>(data->rowCount);
  return sums;
}

} // namespace bpc
