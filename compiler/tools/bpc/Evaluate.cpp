//===- Evaluate.cpp - Every output of a script over rows of data ---------===//
#include "Evaluate.h"
#include "Commands.h"

#include "bp/NumberFormat.h"

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

std::vector<std::vector<double>> vectorJacobianProduct(const GradientGraph &gradient, Values &values, size_t sweep,
                                                       llvm::ArrayRef<double> seed) {
  const ReverseSweep &reverse = gradient.sweeps[sweep];
  if (reverse.seed != InvalidNode) {
    llvm::copy(seed, values.tensor(reverse.seed).begin());
    for (NodeId id : gradient.seededNodes(reverse))
      evaluateNode(gradient.graph, id, values);
  }
  std::vector<std::vector<double>> products;
  for (NodeId entry : reverse.gradient) {
    llvm::ArrayRef<double> elements = values.tensor(entry);
    std::vector<double> &product = products.emplace_back(elements.begin(), elements.end());
    if (reverse.seed == InvalidNode)
      for (double &element : product)
        element = seed[0] * element;
  }
  return products;
}

llvm::Expected<size_t> hessianOutput(const Graph &graph, const std::string &name) {
  const auto &outputs = graph.outputs();
  auto output = llvm::find_if(outputs, [&](const Graph::Output &output) { return output.name == name; });
  if (output == outputs.end())
    return llvm::createStringError("--hessian " + name + ": the script has no output named '" + name + "'");
  if (const Shape &shape = graph.node(output->node).type.shape; !shape.empty())
    return llvm::createStringError("--hessian " + name + ": output '" + name + "' has shape " + formatShape(shape) +
                                   "; a Hessian needs a scalar output");
  return static_cast<size_t>(output - outputs.begin());
}

} // namespace bpc
