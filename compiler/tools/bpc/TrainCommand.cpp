//===- TrainCommand.cpp - bpc train: move variables along their gradients ---===//
//
// The tutorial's update step as a command: compute the gradient of one output at the current values (the
// mean over the rows of a CSV file, or over a minibatch of them), move every trained variable a step, repeat.
// The gradient function is compiled once, or, where code generation does not take the graph yet (gradients of
// tensors), its gradient graph is built once for the interpreter; the loop only calls it. A tensor variable
// is its elements, each moved by the optimizer as a scalar would be.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Evaluate.h"
#include "Json.h"
#include "OutputFile.h"

#include "bp/Autodiff.h"
#include "bp/DataSet.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"
#include "bp/NumberFormat.h"
#include "bp/Optimizer.h"
#include "bp/ScriptRewriter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

using namespace bp;

namespace bpc {
namespace {

/// The variables being trained: positions in Graph::arguments() order.
std::optional<std::vector<size_t>> chooseVariables(const Graph &graph, const Options &options,
                                                   const std::vector<NodeId> &arguments, int &exitCode) {
  std::vector<size_t> chosen;
  if (!options.varsGiven) {
    for (size_t a = 0; a < arguments.size(); ++a)
      if (graph.node(arguments[a]).op == OpKind::Param)
        chosen.push_back(a);
    if (chosen.empty()) {
      exitCode = reportError("nothing to train: the script declares no param; name the variables with --vars");
      return std::nullopt;
    }
    return chosen;
  }
  std::set<std::string> seen;
  for (llvm::StringRef name : llvm::split(options.vars, ',')) {
    std::string text = name.trim().str();
    if (text.empty() || !seen.insert(text).second) {
      exitCode = reportError("--vars '" + options.vars + "': " +
                                 (text.empty() ? "an empty name" : "'" + text + "' is named twice"),
                             ExitUsage);
      return std::nullopt;
    }
    std::optional<NodeId> id = graph.lookupArgument(text);
    if (!id) {
      std::string what = graph.describeNonArgument(text);
      exitCode = reportError("--vars: '" + text + "' is " +
                             (what == "not declared" ? "not declared in the script" : what) +
                             "; only inputs and params can be trained");
      return std::nullopt;
    }
    chosen.push_back(graph.argumentIndex(*id));
  }
  return chosen;
}

/// Reports progress on stderr: a live line on a terminal, a plain line every tenth of the run otherwise.
class Progress {
public:
  Progress(std::string objective, size_t steps, bool enabled)
      : objective(std::move(objective)), steps(steps), enabled(enabled), live(llvm::sys::Process::StandardErrIsDisplayed()),
        start(std::chrono::steady_clock::now()) {}

  /// `value`: the objective before step #step (the mean over the step's rows); `note`: the latest evaluation on
  /// held-out rows, if any.
  void update(size_t step, double value, const std::string &note) {
    if (!enabled)
      return;
    auto now = std::chrono::steady_clock::now();
    if (live) {
      if (step != steps && now - lastShown < std::chrono::milliseconds(100))
        return;
      lastShown = now;
      llvm::errs() << "\rstep " << step << "/" << steps << "  " << objective << " " << formatNumber(value) << "  "
                   << (note.empty() ? "" : note + "  ") << llvm::format("%.0f", rate(step, now)) << " steps/s   ";
      if (step == steps)
        llvm::errs() << '\n';
      return;
    }
    size_t every = std::max<size_t>(1, steps / 10);
    if (step % every == 0 || step == steps)
      llvm::errs() << "step " << step << "/" << steps << ": " << objective << " = " << formatNumber(value)
                   << (note.empty() ? "" : "; " + note) << '\n';
  }

private:
  double rate(size_t step, std::chrono::steady_clock::time_point now) const {
    double seconds = std::chrono::duration<double>(now - start).count();
    return seconds > 0 ? static_cast<double>(step) / seconds : 0;
  }

  std::string objective;
  size_t steps;
  bool enabled, live;
  std::chrono::steady_clock::time_point start, lastShown;
};

/// The value of argument #a, flat (Graph::argumentOffsets).
llvm::ArrayRef<double> argumentValue(const std::vector<size_t> &offsets, const std::vector<double> &values,
                                     size_t a) {
  return llvm::ArrayRef<double>(values).slice(offsets[a], offsets[a + 1] - offsets[a]);
}

std::string describeValues(const Graph &graph, const std::vector<NodeId> &arguments,
                           const std::vector<size_t> &variables, const std::vector<double> &values) {
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::string text;
  for (size_t v : variables)
    text += (text.empty() ? "" : ", ") + graph.node(arguments[v]).name + " = " +
            formatTensor(argumentValue(offsets, values, v), graph.node(arguments[v]).type.shape, true);
  return text;
}

/// "W[1,0]" for element #index (row-major) of argument `node`; a scalar's name alone.
std::string elementName(const Node &node, size_t index) {
  const Shape &shape = node.type.shape;
  if (shape.empty())
    return node.name;
  std::vector<int64_t> position(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    position[d] = static_cast<int64_t>(index) % shape[d];
    index /= static_cast<size_t>(shape[d]);
  }
  std::string text = node.name + "[";
  for (size_t d = 0; d < position.size(); ++d)
    text += (d ? "," : "") + std::to_string(position[d]);
  return text + "]";
}

/// The gradient of a graph's one (scalar) output, compiled once; each step calls it.
class ObjectiveGradient {
public:
  static llvm::Expected<ObjectiveGradient> create(const Graph &graph) {
    auto compiled = CompiledModel::create(graph, CompiledModel::ForwardAndGradient, 2);
    if (!compiled)
      return compiled.takeError();
    return ObjectiveGradient(std::move(*compiled));
  }

  /// The output at `in` (flat, Graph::argumentOffsets); `grad` gets its derivative with respect to every
  /// argument element, in the same layout.
  double evaluate(const std::vector<double> &in, std::vector<double> &grad) const {
    double out;
    compiled->gradient(in.data(), &out, grad.data());
    return out;
  }

private:
  explicit ObjectiveGradient(std::unique_ptr<CompiledModel> compiled) : compiled(std::move(compiled)) {}

  std::unique_ptr<CompiledModel> compiled;
};

} // namespace

int trainCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (!std::isfinite(options.rate) || options.rate <= 0)
    return reportError("--rate must be a finite number > 0", ExitUsage);
  if (options.batch != 0 && options.data.empty())
    return reportError("--batch needs --data", ExitUsage);
  std::optional<OptimizerKind> optimizerKind = parseOptimizerKind(options.optimizer);
  if (!optimizerKind)
    return reportError("unknown --optimizer '" + options.optimizer + "': use sgd, momentum or adam", ExitUsage);

  const auto &outputs = graph->outputs();
  auto objective = std::find_if(outputs.begin(), outputs.end(),
                                [&](const Graph::Output &output) { return output.name == options.objective; });
  if (objective == outputs.end()) {
    std::string names;
    for (const Graph::Output &output : outputs)
      names += (names.empty() ? "" : ", ") + output.name;
    return reportError("'" + options.objective + "' is not an output of the script (its outputs: " + names + ")");
  }
  size_t objectiveIndex = objective - outputs.begin();
  if (const Shape &shape = graph->node(objective->node).type.shape; !shape.empty())
    return reportError("'" + options.objective + "' has shape " + formatShape(shape) + ": " +
                       (options.maximize ? "--maximize" : "--minimize") + " needs an output that is a number");

  int exitCode = ExitSuccess;
  std::vector<NodeId> arguments = graph->arguments();
  std::optional<std::vector<size_t>> variables = chooseVariables(*graph, options, arguments, exitCode);
  if (!variables)
    return exitCode;
  std::vector<size_t> offsets = graph->argumentOffsets();
  // Every element of every variable, as positions in the flat argument values: what the optimizer moves.
  std::vector<size_t> elements;
  for (size_t v : *variables)
    for (size_t i = offsets[v]; i < offsets[v + 1]; ++i)
      elements.push_back(i);

  // The training rows, and the held-out ones: bound the same way, and never to a variable.
  auto loadRows = [&](const std::string &path) -> llvm::Expected<std::optional<DataSet>> {
    if (path.empty())
      return std::nullopt;
    auto loaded = loadDataSet(path, *graph, {options.columns, options.ignoreColumns});
    if (!loaded)
      return loaded.takeError();
    for (NodeId id : loaded->inputs)
      if (llvm::is_contained(*variables, graph->argumentIndex(id)))
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "'" + graph->node(id).name +
                                                                           "' is bound by a column of " + path +
                                                                           " and cannot also be trained");
    return std::move(*loaded);
  };
  if (options.data.empty() && (!options.columns.empty() || !options.ignoreColumns.empty()) && options.valid.empty())
    return reportError("--columns and --ignore-columns need --data or --valid", ExitUsage);
  if (options.epochs != 0 && options.data.empty())
    return reportError("--epochs needs --data", ExitUsage);
  if (options.evalEvery != 0 && options.valid.empty())
    return reportError("--eval-every needs --valid", ExitUsage);
  auto loadedData = loadRows(options.data);
  if (!loadedData)
    return reportError(loadedData.takeError());
  std::optional<DataSet> data = std::move(*loadedData);
  auto loadedValid = loadRows(options.valid);
  if (!loadedValid)
    return reportError(loadedValid.takeError());
  std::optional<DataSet> valid = std::move(*loadedValid);

  std::optional<std::vector<double>> start = bindArguments(*graph, options, exitCode, data ? &*data : nullptr);
  if (!start)
    return exitCode;
  std::vector<double> values = *start;

  // Compile once, a gradient for the objective alone. The final report evaluates every output with the
  // interpreter, whose results are bit-identical to compiled code, rather than paying for a second compile.
  Graph objectiveGraph = *graph;
  objectiveGraph.keepOnlyOutput(objectiveIndex);
  auto trainer = ObjectiveGradient::create(objectiveGraph);
  if (!trainer)
    return reportError(trainer.takeError());

  // Without data there is one "row": the values as they are.
  size_t rowCount = data ? data->rowCount : 1;
  auto bindRow = [&](size_t r) {
    if (data)
      data->bindRow(r, values);
  };
  std::vector<size_t> order(rowCount);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 shuffler(options.seed);
  bool shuffle = options.seedGiven && options.batch != 0;
  if (shuffle)
    std::shuffle(order.begin(), order.end(), shuffler);
  size_t batch = options.batch == 0 || options.batch > rowCount ? rowCount : options.batch;
  size_t cursor = 0;
  size_t batchesPerEpoch = (rowCount + batch - 1) / batch;
  size_t steps = options.epochs != 0 ? options.epochs * batchesPerEpoch : options.steps;
  if (options.epochs != 0 && steps / batchesPerEpoch != options.epochs)
    return reportError("--epochs " + std::to_string(options.epochs) + " makes too many steps", ExitUsage);
  size_t evalEvery = options.evalEvery != 0 ? options.evalEvery
                     : options.epochs != 0  ? batchesPerEpoch
                                            : std::max<size_t>(1, steps / 10);

  // Every output's mean over the held-out rows, at the current values: evaluated every evalEvery steps.
  std::optional<OutputEvaluator> evaluator;
  if (valid || data) {
    auto created = OutputEvaluator::create(*graph);
    if (!created)
      return reportError(created.takeError());
    evaluator = std::move(*created);
  }
  std::vector<size_t> outputOffsets = graph->outputOffsets();
  auto describeOutputs = [&](llvm::ArrayRef<double> means) {
    std::string text;
    for (size_t o = 0; o < outputs.size(); ++o)
      text += (text.empty() ? "" : ", ") + outputs[o].name + " = " +
              formatTensor(means.slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]),
                           graph->node(outputs[o].node).type.shape, true);
    return text;
  };
  struct Evaluation {
    size_t step;
    double objective;                // the mean over the step's rows, before the step
    std::vector<double> validOutputs; // every output's mean over the held-out rows, after the step
  };
  std::vector<Evaluation> history;
  std::string validNote;

  std::unique_ptr<Optimizer> optimizer = Optimizer::create(*optimizerKind, options.rate, elements.size());
  double direction = options.maximize ? -1.0 : 1.0; // optimizers minimize: maximize f by minimizing -f
  std::vector<double> gradient(offsets.back()), step(elements.size()), variableValues(elements.size());
  Progress progress(options.objective, steps, !options.quiet && !options.json);
  if (!options.quiet && !options.json)
    llvm::errs() << (options.maximize ? "maximizing " : "minimizing ") << options.objective << " over "
                 << variables->size() << (variables->size() == 1 ? " variable" : " variables") << " with "
                 << optimizerName(*optimizerKind) << ", rate " << formatNumber(options.rate) << ", "
                 << steps << (steps == 1 ? " step" : " steps")
                 << (options.epochs != 0 ? " (" + std::to_string(options.epochs) + " epochs)" : std::string())
                 << (data ? ", " + std::to_string(rowCount) + " rows in batches of " + std::to_string(batch)
                          : std::string())
                 << (valid ? ", " + std::to_string(valid->rowCount) + " held-out rows" : std::string()) << '\n';

  for (size_t s = 1; s <= steps; ++s) {
    std::fill(step.begin(), step.end(), 0.0);
    double loss = 0;
    for (size_t k = 0; k < batch; ++k) {
      if (cursor == order.size()) {
        cursor = 0;
        if (shuffle)
          std::shuffle(order.begin(), order.end(), shuffler);
      }
      bindRow(order[cursor++]);
      loss += trainer->evaluate(values, gradient);
      for (size_t e = 0; e < elements.size(); ++e)
        step[e] += gradient[elements[e]];
    }
    loss /= static_cast<double>(batch);
    for (double &g : step)
      g = direction * (g / static_cast<double>(batch));

    bool finite = std::isfinite(loss);
    for (double g : step)
      finite = finite && std::isfinite(g);
    if (!finite) {
      if (s == 1)
        return reportError(options.objective + " is " + formatNumber(loss) +
                           " (or its gradient is not finite) at the starting values: " +
                           describeValues(*graph, arguments, *variables, values));
      return reportError("training stopped at step " + std::to_string(s) + ": " + options.objective + " became " +
                         formatNumber(loss) + " (or its gradient did); last finite values: " +
                         describeValues(*graph, arguments, *variables, values));
    }
    for (size_t e = 0; e < elements.size(); ++e)
      variableValues[e] = values[elements[e]];
    optimizer->step(variableValues, step);
    for (size_t e = 0; e < elements.size(); ++e) {
      if (std::isfinite(variableValues[e]))
        continue;
      size_t a = std::upper_bound(offsets.begin(), offsets.end(), elements[e]) - offsets.begin() - 1;
      return reportError("training stopped at step " + std::to_string(s) + ": " +
                         elementName(graph->node(arguments[a]), elements[e] - offsets[a]) + " became " +
                         formatNumber(variableValues[e]) + "; last finite values: " +
                         describeValues(*graph, arguments, *variables, values));
    }
    for (size_t e = 0; e < elements.size(); ++e)
      values[elements[e]] = variableValues[e];
    if (valid && (s % evalEvery == 0 || s == steps)) {
      history.push_back({s, loss, evaluator->mean(values, &*valid)});
      validNote = "valid: " + describeOutputs(history.back().validOutputs);
    }
    progress.update(s, loss, validNote);
  }

  // Every output at the final values: the mean over all rows with --data (and over the held-out rows).
  std::vector<double> finalOutputs;
  if (evaluator) {
    finalOutputs = evaluator->mean(values, data ? &*data : nullptr);
  } else {
    finalOutputs = interpretOutputs(*graph, values);
  }
  std::vector<double> validOutputs;
  if (valid)
    validOutputs = history.empty() ? evaluator->mean(values, &*valid) : history.back().validOutputs;

  if (!options.save.empty()) {
    std::map<std::string, std::vector<double>> trained;
    for (size_t v : *variables)
      trained[graph->node(arguments[v]).name].assign(values.begin() + offsets[v], values.begin() + offsets[v + 1]);
    auto text = rewriteValues(graph->sourceFile(), trained);
    if (!text)
      return reportError(text.takeError());
    auto file = PendingFile::create(options.save);
    if (!file)
      return reportError(file.takeError());
    file->stream() << *text;
    if (llvm::Error err = PendingFile::commitAll({&*file}))
      return reportError(std::move(err));
  }

  auto outputValue = [&](size_t o) {
    return llvm::ArrayRef<double>(finalOutputs).slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]);
  };
  auto shapeOf = [&](NodeId id) -> llvm::ArrayRef<int64_t> { return graph->node(id).type.shape; };
  llvm::raw_ostream &os = llvm::outs();
  if (options.json) {
    JsonWriter json(os);
    json.beginObject();
    json.raw("steps", std::to_string(steps));
    json.key("values");
    json.beginObject();
    for (size_t v : *variables)
      json.tensor(graph->node(arguments[v]).name, argumentValue(offsets, values, v), shapeOf(arguments[v]),
                  "value of '" + graph->node(arguments[v]).name + "'");
    json.endObject();
    json.key("outputs");
    json.beginObject();
    for (size_t o = 0; o < outputs.size(); ++o)
      json.tensor(outputs[o].name, outputValue(o), shapeOf(outputs[o].node), "output '" + outputs[o].name + "'");
    json.endObject();
    auto writeOutputs = [&](const std::vector<double> &means) {
      json.beginObject();
      for (size_t o = 0; o < outputs.size(); ++o)
        json.tensor(outputs[o].name,
                    llvm::ArrayRef<double>(means).slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]),
                    shapeOf(outputs[o].node), "output '" + outputs[o].name + "' on " + options.valid);
      json.endObject();
    };
    if (valid) {
      json.key("valid");
      writeOutputs(validOutputs);
      json.key("history");
      json.beginArray();
      for (const Evaluation &evaluation : history) {
        json.beginObject();
        json.raw("step", std::to_string(evaluation.step));
        json.number(options.objective, evaluation.objective,
                    options.objective + " at step " + std::to_string(evaluation.step));
        json.key("valid");
        writeOutputs(evaluation.validOutputs);
        json.endObject();
      }
      json.endArray();
    }
    json.endObject();
    os << '\n';
    return ExitSuccess;
  }
  for (size_t v : *variables)
    os << graph->node(arguments[v]).name << " = " << formatTensor(argumentValue(offsets, values, v), shapeOf(arguments[v]))
       << '\n';
  for (size_t o = 0; o < outputs.size(); ++o)
    os << outputs[o].name << " = " << formatTensor(outputValue(o), shapeOf(outputs[o].node))
       << (data ? "  (mean over the rows)" : "") << '\n';
  for (size_t o = 0; valid && o < outputs.size(); ++o)
    os << "valid " << outputs[o].name << " = "
       << formatTensor(llvm::ArrayRef<double>(validOutputs).slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]),
                       shapeOf(outputs[o].node))
       << "  (mean over the rows of " << options.valid << ")\n";
  return ExitSuccess;
}

} // namespace bpc
