//===- RunCommand.cpp - bpc run: evaluate outputs and gradients -----------===//
#include "Commands.h"
#include "Json.h"

#include "bp/JIT.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {

int runCommand(const Options &options) {
  auto graph = loadGraph(options, nullptr);
  if (!graph)
    return reportError(graph.takeError());
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;

  const auto &outputs = graph->outputs();
  std::vector<NodeId> arguments = graph->arguments();
  std::vector<size_t> outputOffsets = graph->outputOffsets();
  std::vector<size_t> argumentOffsets = graph->argumentOffsets();
  std::vector<double> out(outputOffsets.back());
  size_t rowSize = argumentOffsets.back(); // grad: a row per output element, a column per argument element
  std::vector<double> grad(options.grad ? outputOffsets.back() * rowSize : 0);
  // Only what is printed is compiled: without --grad nothing is differentiated.
  auto model = CompiledModel::create(
      *graph, options.grad ? CompiledModel::ForwardAndGradient : CompiledModel::ForwardOnly, options.optLevel);
  if (!model)
    return reportError(model.takeError());
  if (options.grad)
    (*model)->gradient(in->data(), out.data(), grad.data());
  else
    (*model)->forward(in->data(), out.data());
  auto outputValue = [&](size_t o) {
    return llvm::ArrayRef<double>(out).slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]);
  };
  auto outputShape = [&](size_t o) -> llvm::ArrayRef<int64_t> { return graph->node(outputs[o].node).type.shape; };

  // Gradients are listed in declaration order; `grad` is in argument (inputs, then params) order.
  std::vector<size_t> declared;
  for (NodeId id : graph->declaredArguments())
    declared.push_back(graph->argumentIndex(id));
  auto gradientName = [&](size_t o, size_t a) {
    return "d" + outputs[o].name + "/d" + graph->node(arguments[a]).name;
  };
  auto argumentShape = [&](size_t a) -> llvm::ArrayRef<int64_t> { return graph->node(arguments[a]).type.shape; };
  // d output / d argument, of shape output.shape + argument.shape: the argument's columns of the output's rows.
  auto gradientValue = [&](size_t o, size_t a) {
    std::vector<double> values;
    for (size_t row = outputOffsets[o]; row < outputOffsets[o + 1]; ++row)
      llvm::append_range(values, llvm::ArrayRef<double>(grad).slice(row * rowSize + argumentOffsets[a],
                                                                    argumentOffsets[a + 1] - argumentOffsets[a]));
    return values;
  };
  auto gradientShape = [&](size_t o, size_t a) {
    Shape shape(outputShape(o).begin(), outputShape(o).end());
    llvm::append_range(shape, argumentShape(a));
    return shape;
  };

  llvm::raw_ostream &os = llvm::outs();
  if (!options.json) {
    for (size_t o = 0; o < outputs.size(); ++o)
      os << outputs[o].name << " = " << formatTensor(outputValue(o), outputShape(o)) << '\n';
    if (options.grad)
      for (size_t o = 0; o < outputs.size(); ++o)
        for (size_t a : declared)
          os << gradientName(o, a) << " = " << formatTensor(gradientValue(o, a), gradientShape(o, a)) << '\n';
    return ExitSuccess;
  }

  JsonWriter json(os);
  json.beginObject();
  json.key("outputs");
  json.beginObject();
  for (size_t o = 0; o < outputs.size(); ++o)
    json.tensor(outputs[o].name, outputValue(o), outputShape(o), "output '" + outputs[o].name + "'");
  json.endObject();
  if (options.grad) {
    json.key("gradients");
    json.beginObject();
    for (size_t o = 0; o < outputs.size(); ++o) {
      json.key(outputs[o].name);
      json.beginObject();
      for (size_t a : declared)
        json.tensor(graph->node(arguments[a]).name, gradientValue(o, a), gradientShape(o, a), gradientName(o, a));
      json.endObject();
    }
    json.endObject();
  }
  json.endObject();
  os << '\n';
  return ExitSuccess;
}

} // namespace bpc
