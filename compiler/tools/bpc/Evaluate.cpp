//===- Evaluate.cpp - Every output of a script over rows of data ---------===//
#include "Evaluate.h"
#include "Commands.h"

#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {

llvm::Expected<OutputEvaluator> OutputEvaluator::create(std::shared_ptr<const Graph> graph, const Options &options,
                                                        bool gradient) {
  auto model = Model::compile(std::move(graph), compileOptions(options, gradient));
  if (!model)
    return model.takeError();
  OutputEvaluator evaluator(model->outSize(), model->gradSize());
  evaluator.model = std::move(*model);
  return evaluator;
}

OutputEvaluator OutputEvaluator::interpret(std::shared_ptr<const Graph> graph,
                                           std::optional<GradientGraph> gradient) {
  size_t gradSize = gradient ? gradient->rowOffsets().back() * gradient->columnOffsets().back() : 0;
  OutputEvaluator evaluator(graph->outputOffsets().back(), gradSize);
  evaluator.graph = std::move(graph);
  evaluator.gradient = std::move(gradient);
  return evaluator;
}

void OutputEvaluator::evaluate(const std::vector<double> &arguments, std::vector<double> &results) const {
  if (model && model->hasGradient()) {
    model->gradient(arguments.data(), results.data(), results.data() + outSize);
    return;
  }
  if (model) {
    model->forward(arguments.data(), results.data());
    return;
  }
  if (!gradient) {
    llvm::copy(interpretOutputs(*graph, arguments), results.begin());
    return;
  }
  Jacobian jacobian = evaluateGradient(*gradient, arguments);
  llvm::copy(jacobian.grad, llvm::copy(jacobian.out, results.begin()));
}

/// The element operations node `id` of `graph` takes (evaluationWork).
static double nodeWork(const Graph &graph, NodeId id) {
  const Node &node = graph.node(id);
  auto elements = [&](NodeId of) { return static_cast<double>(elementCount(graph.node(of).type.shape)); };
  double work = elements(id);
  if (node.op == OpKind::MatMul) { // every result element sums k products, k the first operand's last dimension
    const Shape &a = graph.node(node.operands[0]).type.shape;
    return work * static_cast<double>(a.empty() ? 1 : a.back());
  }
  for (NodeId operand : node.operands)
    work = std::max(work, elements(operand));
  return work;
}

double evaluationWork(const Graph &graph, const GradientGraph *gradient) {
  const Graph &evaluated = gradient ? gradient->graph : graph;
  double work = 0;
  for (NodeId id = 0; id < evaluated.size(); ++id)
    work += nodeWork(evaluated, id);
  for (size_t s = 0; gradient && s < gradient->sweeps.size(); ++s) {
    const ReverseSweep &sweep = gradient->sweeps[s];
    if (sweep.seed == InvalidNode)
      continue;
    double again = 0; // each row after the first evaluates the seeded nodes again
    for (NodeId id : gradient->seededNodes(sweep))
      again += nodeWork(evaluated, id);
    work += again * static_cast<double>(elementCount(graph.node(graph.outputs()[sweep.output].node).type.shape) - 1);
  }
  return work;
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

bool interpretingPays(const Graph &graph, const GradientGraph *gradient, size_t rows) {
  double nodes = static_cast<double>(gradient ? gradient->graph.size() : graph.size());
  return evaluationWork(graph, gradient) * static_cast<double>(rows) <=
         InterpretWorkLimit + InterpretWorkPerNode * nodes;
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

NonFiniteReporter::NonFiniteReporter(const Graph &graph, const Options &options, std::vector<size_t> outputs,
                                     const std::optional<GradientSelection> &selection)
    : graph(graph), options(options), outputs(std::move(outputs)) {
  if (!selection)
    return;
  // The gradient was built once already to be compiled; one over the size limit never gets here.
  auto built = buildGradientGraph(graph, *selection);
  if (built)
    gradient = std::move(*built);
  else
    llvm::consumeError(built.takeError());
}

bool NonFiniteReporter::report(llvm::ArrayRef<double> arguments, const std::string &where) const {
  const Graph &evaluated = gradient ? gradient->graph : graph;
  Values values = evaluateGraph(evaluated, arguments);
  std::vector<NonFiniteResult> results;
  auto check = [&](const std::string &name, llvm::ArrayRef<int64_t> shape, NodeId id) {
    std::optional<size_t> element = firstNonFinite(values.tensor(id));
    if (element)
      results.push_back({elementName(name, shape, static_cast<int64_t>(*element)), {id, *element}});
    return element.has_value();
  };
  for (size_t o : outputs) {
    const Graph::Output &output = graph.outputs()[o];
    check(output.name, graph.node(output.node).type.shape, output.node);
  }
  std::vector<NodeId> argumentNodes = graph.arguments();
  for (size_t s = 0; gradient && s < gradient->sweeps.size(); ++s) {
    // A tensor output's Jacobian, row by row (its seed one-hot) up to the first row with an entry not finite.
    const ReverseSweep &sweep = gradient->sweeps[s];
    const Graph::Output &output = graph.outputs()[sweep.output];
    const Shape &shape = graph.node(output.node).type.shape;
    int64_t rows = sweep.seed == InvalidNode ? 1 : elementCount(shape);
    bool found = false;
    for (int64_t r = 0; r < rows && !found; ++r) {
      if (sweep.seed != InvalidNode) {
        llvm::MutableArrayRef<double> seed = values.tensor(sweep.seed);
        std::fill(seed.begin(), seed.end(), 0.0);
        seed[static_cast<size_t>(r)] = 1;
        for (NodeId id : gradient->seededNodes(sweep))
          evaluateNode(gradient->graph, id, values);
      }
      std::string of = sweep.seed == InvalidNode ? output.name : elementName(output.name, shape, r);
      for (size_t c = 0; c < sweep.gradient.size(); ++c) {
        const Node &argument = graph.node(argumentNodes[gradient->selection.arguments[c]]);
        found = check("d" + of + "/d" + argument.name, argument.type.shape, sweep.gradient[c]) || found;
      }
    }
  }
  if (results.empty())
    return false;

  NonFiniteTracer tracer = gradient ? NonFiniteTracer(*gradient, values) : NonFiniteTracer(graph, values);
  const SourceFileRef &file = graph.sourceFile();
  auto print = [&](const Diagnostic &diagnostic) {
    printDiagnostic(llvm::errs(), file.get(), file ? file->name() : "bpc", diagnostic);
  };
  for (NonFiniteWarning &warning : tracer.warnings(results)) {
    warning.diagnostics.front().message += where;
    for (const Diagnostic &diagnostic : warning.diagnostics)
      print(diagnostic);
    // An argument's value given on the command line: say so.
    const Node &origin = evaluated.node(warning.origin.node);
    if (origin.op != OpKind::Input && origin.op != OpKind::Param)
      continue;
    for (const std::string &set : options.sets)
      if (llvm::StringRef(set).split('=').first.trim() == origin.name)
        print({Severity::Note, SourceLoc{}, "its value comes from --set " + set});
  }
  if (options.traceNonFinite) {
    llvm::errs() << "every value that is not finite, in evaluation order:\n";
    for (const Diagnostic &note : tracer.fullTrace())
      print(note);
  }
  return true;
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
