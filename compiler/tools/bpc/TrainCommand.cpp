//===- TrainCommand.cpp - bpc train: move variables along their gradients ---===//
//
// The tutorial's update step as a command: compute the gradient of one output at the current values (the
// mean over the rows of a CSV file, or over a minibatch of them), move every trained variable a step, repeat.
// A step is one compiled function (CodeGen.h, addTrainStep), compiled once: the loop gathers each step's rows
// and calls it. A tensor variable is its elements, each moved by the optimizer as a scalar would be.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Evaluate.h"
#include "Json.h"
#include "OutputFile.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
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

/// Rows of `path` bound as --columns and --ignore-columns say, refused where they bind a trained variable.
llvm::Expected<std::optional<DataSet>> loadRows(const std::string &path, const Graph &graph, const Options &options,
                                                const std::vector<size_t> &variables) {
  if (path.empty())
    return std::nullopt;
  auto loaded = loadDataSet(path, graph, {options.columns, options.ignoreColumns});
  if (!loaded)
    return loaded.takeError();
  for (NodeId id : loaded->inputs)
    if (llvm::is_contained(variables, graph.argumentIndex(id)))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "'" + graph.node(id).name +
                                                                         "' is bound by a column of " + path +
                                                                         " and cannot also be trained");
  return std::move(*loaded);
}

/// The rows' layout --columns gives without a data file (`build --train-step`): each named input's elements,
/// row-major, left to right.
llvm::Error setColumnLayout(TrainStepSpec &spec, const Graph &graph, const std::vector<std::string> &columns) {
  auto fail = [](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  std::vector<size_t> offsets = graph.argumentOffsets();
  for (size_t c = 0; c < columns.size(); ++c) {
    const std::string &name = columns[c];
    if (llvm::is_contained(llvm::ArrayRef(columns).take_front(c), name))
      return fail("--columns names '" + name + "' twice");
    std::optional<NodeId> id = graph.lookupArgument(name);
    if (!id || graph.node(*id).op != OpKind::Input)
      return fail("--columns: '" + name + "' is not an input of the script; a column binds an input");
    size_t a = graph.argumentIndex(*id);
    if (llvm::is_contained(spec.variables, a))
      return fail("'" + name + "' is bound by --columns and cannot also be trained");
    for (size_t e = offsets[a]; e < offsets[a + 1]; ++e) {
      spec.rowTargets.push_back(e);
      spec.rowColumns.push_back(elementName(graph.node(*id).name, graph.node(*id).type.shape,
                                                static_cast<int64_t>(e - offsets[a])));
    }
  }
  return llvm::Error::success();
}

} // namespace

std::optional<TrainStepSpec> trainStepSpec(const Graph &graph, const Options &options, std::optional<DataSet> &data,
                                           int &exitCode) {
  auto fail = [&](const std::string &message, int code = ExitFailure) -> std::optional<TrainStepSpec> {
    exitCode = reportError(message, code);
    return std::nullopt;
  };
  if (!std::isfinite(options.rate) || options.rate <= 0)
    return fail("--rate must be a finite number > 0", ExitUsage);
  std::optional<OptimizerKind> optimizer = parseOptimizerKind(options.optimizer);
  if (!optimizer)
    return fail("unknown --optimizer '" + options.optimizer + "': use sgd, momentum or adam", ExitUsage);

  const auto &outputs = graph.outputs();
  auto objective = std::find_if(outputs.begin(), outputs.end(),
                                [&](const Graph::Output &output) { return output.name == options.objective; });
  if (objective == outputs.end()) {
    std::string names;
    for (const Graph::Output &output : outputs)
      names += (names.empty() ? "" : ", ") + output.name;
    return fail("'" + options.objective + "' is not an output of the script (its outputs: " + names + ")");
  }
  if (const Shape &shape = graph.node(objective->node).type.shape; !shape.empty())
    return fail("'" + options.objective + "' has shape " + formatShape(shape) + ": " +
                (options.maximize ? "--maximize" : "--minimize") + " needs an output that is a number");

  std::optional<std::vector<size_t>> variables = chooseVariables(graph, options, graph.arguments(), exitCode);
  if (!variables)
    return std::nullopt;
  TrainStepSpec spec;
  spec.objective = static_cast<size_t>(objective - outputs.begin());
  spec.maximize = options.maximize;
  spec.optimizer = *optimizer;
  spec.rate = options.rate;
  spec.variables = std::move(*variables);

  auto loaded = loadRows(options.data, graph, options, spec.variables);
  if (!loaded) {
    exitCode = reportError(loaded.takeError());
    return std::nullopt;
  }
  data = std::move(*loaded);
  if (data) {
    spec.rowTargets = data->targets;
    spec.rowColumns = data->columns;
  } else if (options.valid.empty()) { // with --valid alone, --columns binds the held-out rows only
    if (llvm::Error err = setColumnLayout(spec, graph, options.columns)) {
      exitCode = reportError(std::move(err));
      return std::nullopt;
    }
  }
  return spec;
}

int trainCommand(const Options &options) {
  auto loaded = loadGraph(options);
  if (!loaded)
    return reportError(loaded.takeError());
  auto graph = std::make_shared<const Graph>(std::move(*loaded)); // the evaluator's model compiles it, shared
  if (options.batch != 0 && options.data.empty())
    return reportError("--batch needs --data", ExitUsage);
  if (options.data.empty() && (!options.columns.empty() || !options.ignoreColumns.empty()) && options.valid.empty())
    return reportError("--columns and --ignore-columns need --data or --valid", ExitUsage);
  if (options.epochs != 0 && options.data.empty())
    return reportError("--epochs needs --data", ExitUsage);
  if (options.evalEvery != 0 && options.valid.empty())
    return reportError("--eval-every needs --valid", ExitUsage);

  // The training rows are loaded with the step's description; the held-out ones are bound the same way, and
  // never to a variable either.
  int exitCode = ExitSuccess;
  std::optional<DataSet> data;
  std::optional<TrainStepSpec> spec = trainStepSpec(*graph, options, data, exitCode);
  if (!spec)
    return exitCode;
  const std::vector<size_t> &variables = spec->variables;
  auto loadedValid = loadRows(options.valid, *graph, options, variables);
  if (!loadedValid)
    return reportError(loadedValid.takeError());
  std::optional<DataSet> valid = std::move(*loadedValid);

  std::optional<std::vector<double>> start = bindArguments(*graph, options, exitCode, data ? &*data : nullptr);
  if (!start)
    return exitCode;
  std::vector<double> values = *start;

  // Compiled once: the whole step, for the objective alone. The final report evaluates every output with the
  // interpreter, whose results are bit-identical to compiled code, rather than paying for a second compile.
  // Without data there is one "row": the values as they are.
  size_t rowCount = data ? data->rowCount : 1;
  std::vector<size_t> order(rowCount);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 shuffler(options.seed);
  bool shuffle = options.seedGiven && options.batch != 0;
  if (shuffle)
    std::shuffle(order.begin(), order.end(), shuffler);
  size_t batch = options.batch == 0 || options.batch > rowCount ? rowCount : options.batch;
  if (data)
    spec->batch = batch; // every step binds this many rows
  auto trainer = CompiledTrainStep::create(*graph, *spec);
  if (!trainer)
    return reportError(trainer.takeError());
  std::vector<double> state(trainer->get()->stateSize(), 0.0);
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
    auto created = OutputEvaluator::create(graph, options, /*gradient=*/false);
    if (!created)
      return reportError(created.takeError());
    evaluator = std::move(*created);
  }
  const auto &outputs = graph->outputs();
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

  std::vector<NodeId> arguments = graph->arguments();
  std::vector<size_t> offsets = graph->argumentOffsets();
  std::vector<size_t> elements = trainedElements(*graph, *spec); // what the optimizer moves
  Progress progress(options.objective, steps, !options.quiet && !options.json);
  if (!options.quiet && !options.json)
    llvm::errs() << (options.maximize ? "maximizing " : "minimizing ") << options.objective << " over "
                 << variables.size() << (variables.size() == 1 ? " variable" : " variables") << " with "
                 << optimizerName(spec->optimizer) << ", rate " << formatNumber(options.rate) << ", "
                 << steps << (steps == 1 ? " step" : " steps")
                 << (options.epochs != 0 ? " (" + std::to_string(options.epochs) + " epochs)" : std::string())
                 << (data ? ", " + std::to_string(rowCount) + " rows in batches of " + std::to_string(batch)
                          : std::string())
                 << (valid ? ", " + std::to_string(valid->rowCount) + " held-out rows" : std::string()) << '\n';

  // Each step's rows, gathered in the (shuffled) order of the pass into one buffer, row-major.
  size_t columns = spec->rowTargets.size();
  std::vector<double> rows(data ? batch * columns : 0), previous(values.size());
  std::vector<size_t> batchRows(data ? batch : 0); // the data rows of the step's batch
  // Where the objective or its gradient stopped being finite: at the values of step `s`, on the first row of its
  // batch where it is not finite.
  auto warnNonFinite = [&](size_t s) {
    NonFiniteReporter reporter(*graph, options, {spec->objective}, GradientSelection{{spec->objective}, variables});
    std::string at = " at step " + std::to_string(s);
    if (!data) {
      reporter.report(values, at);
      return;
    }
    for (size_t k = 0; k < batch; ++k) {
      std::vector<double> row = values;
      for (size_t c = 0; c < columns; ++c)
        row[spec->rowTargets[c]] = rows[k * columns + c];
      if (reporter.report(row, at + ", on row " + std::to_string(batchRows[k] + 1) + " of " + options.data))
        return;
    }
  };
  // The objective's mean over the step's rows at `at`, from the interpreter: the step function returns NaN
  // where only the gradient is not finite, and the message gives the objective.
  auto interpretedMean = [&](std::vector<double> at) {
    double sum = 0;
    for (size_t k = 0; k < batch; ++k) {
      for (size_t c = 0; c < columns; ++c)
        at[spec->rowTargets[c]] = rows[k * columns + c];
      sum += interpretOutputs(*graph, at)[outputOffsets[spec->objective]];
    }
    return sum / static_cast<double>(batch);
  };

  for (size_t s = 1; s <= steps; ++s) {
    for (size_t k = 0; data && k < batch; ++k) {
      if (cursor == order.size()) {
        cursor = 0;
        if (shuffle)
          std::shuffle(order.begin(), order.end(), shuffler);
      }
      batchRows[k] = order[cursor];
      llvm::ArrayRef<double> row = data->row(order[cursor++]);
      std::copy(row.begin(), row.end(), rows.begin() + static_cast<std::ptrdiff_t>(k * columns));
    }
    std::copy(values.begin(), values.end(), previous.begin());
    double loss = trainer->get()->step(values.data(), state.data(), data ? rows.data() : nullptr,
                                       static_cast<long>(batch));
    if (!std::isfinite(loss)) {
      warnNonFinite(s);
      if (std::isnan(loss))
        loss = interpretedMean(values);
      if (s == 1)
        return reportError(options.objective + " is " + formatNumber(loss) +
                           " (or its gradient is not finite) at the starting values: " +
                           describeValues(*graph, arguments, variables, values));
      return reportError("training stopped at step " + std::to_string(s) + ": " + options.objective + " became " +
                         formatNumber(loss) + " (or its gradient did); last finite values: " +
                         describeValues(*graph, arguments, variables, values));
    }
    for (size_t e : elements) {
      if (std::isfinite(values[e]))
        continue;
      size_t a = std::upper_bound(offsets.begin(), offsets.end(), e) - offsets.begin() - 1;
      return reportError("training stopped at step " + std::to_string(s) + ": " +
                         elementName(graph->node(arguments[a]).name, graph->node(arguments[a]).type.shape,
                                     static_cast<int64_t>(e - offsets[a])) + " became " +
                         formatNumber(values[e]) + "; last finite values: " +
                         describeValues(*graph, arguments, variables, previous));
    }
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
    for (size_t v : variables)
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
    for (size_t v : variables)
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
  for (size_t v : variables)
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
