//===- RunCommand.cpp - bpc run: evaluate outputs and gradients -----------===//
//
// Evaluates every output (and with --grad its gradient) at the script's values and --set, or, with --data, on
// every row of a data file: the mean over the rows, or with --per-row each row's results. --engine chooses how:
// the interpreter, JIT-compiled code (bp::Model, through the compile cache), or by default the interpreter
// unless the evaluations' work pays for starting LLVM and compiling (interpretingPays, Evaluate.h). The numbers
// are the same bits either way, and so is everything printed.
//
// --vjp OUT=SEED prints SEED^T J, the vector-Jacobian product of one output, for every argument: the
// interpreter evaluates that output's reverse sweep once with SEED in its seed leaf (Autodiff.h), where --grad
// evaluates it once per element with the seed one-hot; a scalar output's is SEED times its gradient.
//
// --jvp X=TANGENT,... prints J t, every output's directional derivative along the arguments' tangents t: the
// interpreter evaluates the tangent graph (forward mode, Autodiff.h) once.
// --hessian OUT prints d2 OUT / dA dB for every pair of arguments (those --wrt chooses): the interpreter
// evaluates OUT's gradient graph differentiated again (buildHessianGraph, reverse over reverse).
// --hvp OUT X=V,... prints H v, OUT's Hessian times directions v, per argument (those --wrt chooses), without
// forming H: the tangent graph of OUT's gradient graph evaluated once (buildHessianVectorGraph, forward over
// reverse).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Evaluate.h"
#include "Json.h"

#include "bp/Autodiff.h"
#include "bp/DataSet.h"
#include "bp/Interpreter.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <numeric>

using namespace bp;

namespace bpc {
namespace {

/// Prints one evaluation's results (OutputEvaluator's layout: the outputs, then with --grad the gradient) as
/// text or JSON.
class ResultPrinter {
public:
  /// One --vjp's or --hvp's results: the output's index, and a product per argument (Graph::arguments() order):
  /// SEED^T J, or H v (empty for an argument --wrt does not choose).
  struct Products {
    size_t output;
    std::vector<std::vector<double>> products;
  };

  /// With --grad, the gradient holds `selection`'s rows and columns (--of, --wrt).
  ResultPrinter(const Graph &graph, const Options &options, const GradientSelection &selection,
                llvm::raw_ostream &os)
      : graph(graph), options(options), os(os), arguments(graph.arguments()), outputOffsets(graph.outputOffsets()),
        rowOffsets(selection.rowOffsets(graph)), columnOffsets(selection.columnOffsets(graph)),
        selectedOutputs(selection.outputs) {
    // Gradients are listed in declaration order; the gradient's columns are in argument (inputs, then params)
    // order.
    for (NodeId id : graph.declaredArguments()) {
      size_t a = graph.argumentIndex(id);
      auto column = llvm::find(selection.arguments, a);
      if (column != selection.arguments.end())
        declared.push_back({a, static_cast<size_t>(column - selection.arguments.begin())});
    }
  }

  /// Every result on its own line, each followed by `note`.
  void lines(llvm::ArrayRef<double> results, const std::string &note) {
    forEachValue(results, [&](size_t, const std::string &name, llvm::ArrayRef<double> values,
                              llvm::ArrayRef<int64_t> shape) {
      os << name << " = " << formatTensor(values, shape) << note << '\n';
    });
  }

  /// Each output's tangent (--jvp), a line per output: `jvp(y) = [1, 2]`.
  void jvpLines(llvm::ArrayRef<std::vector<double>> jvps) {
    for (size_t o = 0; o < jvps.size(); ++o)
      os << jvpName(o) << " = " << formatTensor(jvps[o], outputShape(o)) << '\n';
  }

  /// Each --vjp's (kind "vjp") or --hvp's ("hvp") products, a line per argument: `vjp(y)/dW = [1, 2]`.
  void productLines(const char *kind, llvm::ArrayRef<Products> list) {
    for (const Products &products : list)
      for (auto [a, column] : declared)
        os << productName(kind, products.output, a) << " = "
           << formatTensor(products.products[a], graph.node(arguments[a]).type.shape) << '\n';
  }

  /// The Hessian's blocks, a line per pair of arguments: `d2f/dx dy = 480`; none without --hessian.
  void hessianLines(llvm::ArrayRef<double> hessian) {
    if (hessian.empty())
      return;
    for (auto [a, row] : declared)
      for (auto [b, column] : declared)
        os << hessianName(a, b) << " = " << formatTensor(hessianBlock(hessian, row, column), hessianShape(a, b))
           << '\n';
  }

  /// Row `r`'s results on one line: `row 1: loss = 0.3, accuracy = 1`.
  void rowLine(size_t r, llvm::ArrayRef<double> results) {
    os << "row " << r + 1 << ':';
    forEachValue(results, [&](size_t item, const std::string &name, llvm::ArrayRef<double> values,
                              llvm::ArrayRef<int64_t> shape) {
      os << (item ? ", " : " ") << name << " = " << formatTensor(values, shape);
    });
    os << '\n';
  }

  /// One JSON object, `{"outputs":{...}}` and with --grad `"gradients":{...}`: row #row's (`"row":1` first),
  /// or the mean over `rows` rows (`"rows":5` last), or with neither the results at the arguments' values.
  void object(llvm::ArrayRef<double> results, std::optional<size_t> row, std::optional<size_t> rows,
              llvm::ArrayRef<Products> vjps = {}, llvm::ArrayRef<std::vector<double>> jvps = {},
              llvm::ArrayRef<double> hessian = {}, llvm::ArrayRef<Products> hvps = {}) {
    // Completes the warning for a number JSON cannot hold.
    std::string where = row    ? " on row " + std::to_string(*row + 1)
                        : rows ? " (the mean over the rows of " + options.data + ")"
                               : "";
    JsonWriter json(os);
    json.beginObject();
    if (row)
      json.raw("row", std::to_string(*row + 1));
    const auto &outputs = graph.outputs();
    json.key("outputs");
    json.beginObject();
    for (size_t o = 0; o < outputs.size(); ++o)
      json.tensor(outputs[o].name, outputValue(results, o), outputShape(o), "output '" + outputs[o].name + "'" + where);
    json.endObject();
    if (options.grad) {
      json.key("gradients");
      json.beginObject();
      for (size_t s = 0; s < selectedOutputs.size(); ++s) {
        size_t o = selectedOutputs[s];
        json.key(outputs[o].name);
        json.beginObject();
        for (auto [a, column] : declared)
          json.tensor(graph.node(arguments[a]).name, gradientValue(results, s, column), gradientShape(o, a),
                      gradientName(o, a) + where);
        json.endObject();
      }
      json.endObject();
    }
    productObject(json, "vjp", vjps);
    if (!jvps.empty()) {
      json.key("jvp");
      json.beginObject();
      for (size_t o = 0; o < jvps.size(); ++o)
        json.tensor(outputs[o].name, jvps[o], outputShape(o), jvpName(o));
      json.endObject();
    }
    if (!hessian.empty()) { // {"hessian":{"f":{"x":{"x":..,"y":..},"y":{..}}}}
      json.key("hessian");
      json.beginObject();
      json.key(options.hessian);
      json.beginObject();
      for (auto [a, row] : declared) {
        json.key(graph.node(arguments[a]).name);
        json.beginObject();
        for (auto [b, column] : declared)
          json.tensor(graph.node(arguments[b]).name, hessianBlock(hessian, row, column), hessianShape(a, b),
                      hessianName(a, b));
        json.endObject();
      }
      json.endObject();
      json.endObject();
    }
    productObject(json, "hvp", hvps);
    if (rows)
      json.raw("rows", std::to_string(*rows));
    json.endObject();
    os << '\n';
  }

private:
  /// `{"vjp":{"y":{"W":..}}}`: each --vjp's (kind "vjp") or --hvp's ("hvp") products, none without any.
  void productObject(JsonWriter &json, const char *kind, llvm::ArrayRef<Products> list) {
    if (list.empty())
      return;
    json.key(kind);
    json.beginObject();
    for (const Products &products : list) {
      json.key(graph.outputs()[products.output].name);
      json.beginObject();
      for (auto [a, column] : declared)
        json.tensor(graph.node(arguments[a]).name, products.products[a], graph.node(arguments[a]).type.shape,
                    productName(kind, products.output, a));
      json.endObject();
    }
    json.endObject();
  }

  using Visitor = llvm::function_ref<void(size_t item, const std::string &name, llvm::ArrayRef<double> values,
                                          llvm::ArrayRef<int64_t> shape)>;

  /// Each output, then with --grad each d output / d argument, numbered from 0.
  void forEachValue(llvm::ArrayRef<double> results, Visitor visit) {
    const auto &outputs = graph.outputs();
    size_t item = 0;
    for (size_t o = 0; o < outputs.size(); ++o)
      visit(item++, outputs[o].name, outputValue(results, o), outputShape(o));
    for (size_t s = 0; options.grad && s < selectedOutputs.size(); ++s)
      for (auto [a, column] : declared)
        visit(item++, gradientName(selectedOutputs[s], a), gradientValue(results, s, column),
              gradientShape(selectedOutputs[s], a));
  }

  llvm::ArrayRef<double> outputValue(llvm::ArrayRef<double> results, size_t o) const {
    return results.slice(outputOffsets[o], outputOffsets[o + 1] - outputOffsets[o]);
  }
  llvm::ArrayRef<int64_t> outputShape(size_t o) const { return graph.node(graph.outputs()[o].node).type.shape; }
  std::string productName(const char *kind, size_t o, size_t a) const {
    return std::string(kind) + "(" + graph.outputs()[o].name + ")/d" + graph.node(arguments[a]).name;
  }
  std::string jvpName(size_t o) const { return "jvp(" + graph.outputs()[o].name + ")"; }
  std::string gradientName(size_t o, size_t a) const {
    return "d" + graph.outputs()[o].name + "/d" + graph.node(arguments[a]).name;
  }
  /// The block of `matrix` (a row per element of rowOffsets' ranges, a column per element of the selected
  /// arguments) at range #r's rows and the selected argument #c's columns, row-major.
  std::vector<double> block(llvm::ArrayRef<double> matrix, llvm::ArrayRef<size_t> rowOffsets, size_t r,
                            size_t c) const {
    size_t rowSize = columnOffsets.back();
    std::vector<double> values;
    for (size_t row = rowOffsets[r]; row < rowOffsets[r + 1]; ++row)
      llvm::append_range(values,
                         matrix.slice(row * rowSize + columnOffsets[c], columnOffsets[c + 1] - columnOffsets[c]));
    return values;
  }
  /// d output / d argument, of shape output.shape + argument.shape: the argument's columns (the selected
  /// argument #c) of the output's rows (the selected output #s).
  std::vector<double> gradientValue(llvm::ArrayRef<double> results, size_t s, size_t c) const {
    return block(results.drop_front(outputOffsets.back()), rowOffsets, s, c);
  }
  /// d2 OUT / dA dB for the selected arguments #r (A) and #c (B): a row per element of A.
  std::vector<double> hessianBlock(llvm::ArrayRef<double> hessian, size_t r, size_t c) const {
    return block(hessian, columnOffsets, r, c);
  }
  Shape gradientShape(size_t o, size_t a) const {
    Shape shape(outputShape(o).begin(), outputShape(o).end());
    llvm::append_range(shape, graph.node(arguments[a]).type.shape);
    return shape;
  }
  Shape hessianShape(size_t a, size_t b) const {
    Shape shape = graph.node(arguments[a]).type.shape;
    llvm::append_range(shape, graph.node(arguments[b]).type.shape);
    return shape;
  }
  std::string hessianName(size_t a, size_t b) const {
    return "d2" + options.hessian + "/d" + graph.node(arguments[a]).name + " d" + graph.node(arguments[b]).name;
  }

  const Graph &graph;
  const Options &options;
  llvm::raw_ostream &os;
  std::vector<NodeId> arguments;
  std::vector<size_t> outputOffsets, rowOffsets, columnOffsets, selectedOutputs;
  std::vector<std::pair<size_t, size_t>> declared; // the selected arguments: (argument index, column index)
};

/// SEED^T J for each seed of --vjp (bindVjpSeeds), from the interpreter, whose numbers compiled code gives bit for
/// bit: a tensor output's sweep evaluated once with SEED in its seed leaf; a scalar output's gradient times SEED.
llvm::Expected<std::vector<ResultPrinter::Products>>
vectorJacobianProducts(const Graph &graph, llvm::ArrayRef<std::pair<size_t, std::vector<double>>> seeds,
                       llvm::ArrayRef<double> in) {
  std::vector<ResultPrinter::Products> vjps;
  if (seeds.empty())
    return vjps;
  auto gradient = buildGradientGraph(graph);
  if (!gradient)
    return gradient.takeError();
  Values values = evaluateGraph(gradient->graph, in); // every sweep, a tensor output's with its seed 0
  for (const auto &[output, seed] : seeds) {
    const ReverseSweep &sweep = gradient->sweeps[output];
    if (sweep.seed != InvalidNode) {
      llvm::copy(seed, values.tensor(sweep.seed).begin());
      for (NodeId id : gradient->seededNodes(sweep))
        evaluateNode(gradient->graph, id, values);
    }
    ResultPrinter::Products &vjp = vjps.emplace_back(ResultPrinter::Products{output, {}});
    for (NodeId entry : sweep.gradient) {
      llvm::ArrayRef<double> elements = values.tensor(entry);
      std::vector<double> &product = vjp.products.emplace_back(elements.begin(), elements.end());
      if (sweep.seed == InvalidNode)
        for (double &element : product)
          element = seed[0] * element;
    }
  }
  return vjps;
}

/// J t for every output along the tangents of --jvp (bindTangents), from the interpreter: the tangent graph
/// evaluated once. None without --jvp.
llvm::Expected<std::vector<std::vector<double>>> jacobianVectorProducts(const Graph &graph, const Options &options,
                                                                        llvm::ArrayRef<double> in,
                                                                        llvm::ArrayRef<double> tangents) {
  if (options.jvps.empty())
    return std::vector<std::vector<double>>();
  auto tangentGraph = buildTangentGraph(graph);
  if (!tangentGraph)
    return tangentGraph.takeError();
  return evaluateTangents(*tangentGraph, in, tangents);
}

/// The index of scalar output `name`, which `flag` (--hessian, --hvp) takes to compute `what`. An unknown or
/// tensor output is a usage error (exit 2), printed; then `exitCode` says so.
std::optional<size_t> scalarOutput(const Graph &graph, const std::string &flag, const std::string &name,
                                   const std::string &what, int &exitCode) {
  const auto &outputs = graph.outputs();
  auto output = llvm::find_if(outputs, [&](const Graph::Output &output) { return output.name == name; });
  if (output == outputs.end()) {
    exitCode = reportError(flag + " " + name + ": the script has no output named '" + name + "'", ExitUsage);
    return std::nullopt;
  }
  if (const Shape &shape = graph.node(output->node).type.shape; !shape.empty()) {
    exitCode = reportError(flag + " " + name + ": output '" + name + "' has shape " + formatShape(shape) + "; " + what +
                               " needs a scalar output",
                           ExitUsage);
    return std::nullopt;
  }
  return static_cast<size_t>(output - outputs.begin());
}

/// --hessian OUT: the Hessian of that scalar output by the selected arguments, row-major (a row and a column per
/// element of the selected arguments), from the interpreter; empty without --hessian. An unknown or tensor output
/// is a usage error (exit 2), printed; then `exitCode` says so.
std::optional<std::vector<double>> hessian(const Graph &graph, const Options &options,
                                           const GradientSelection &selection, llvm::ArrayRef<double> in,
                                           int &exitCode) {
  if (options.hessian.empty())
    return std::vector<double>();
  std::optional<size_t> output = scalarOutput(graph, "--hessian", options.hessian, "a Hessian", exitCode);
  if (!output)
    return std::nullopt;
  auto hessianGraph = buildHessianGraph(graph, *output, selection.arguments);
  if (!hessianGraph) {
    exitCode = reportError(hessianGraph.takeError());
    return std::nullopt;
  }
  return evaluateGradient(*hessianGraph, in).grad;
}

/// H v for each --hvp OUT X=V,... (OUT scalar; X not named: 0), per selected argument, from the interpreter:
/// OUT's gradient graph differentiated by forward mode (buildHessianVectorGraph), evaluated once. Every error (an
/// unknown or tensor output, one given twice, a bad direction, a direction other than 0 of an argument --wrt does
/// not choose) is a usage error (exit 2), printed; then `exitCode` says so.
std::optional<std::vector<ResultPrinter::Products>> hessianVectorProducts(const Graph &graph, const Options &options,
                                                                          const GradientSelection &selection,
                                                                          llvm::ArrayRef<double> in, int &exitCode) {
  std::vector<ResultPrinter::Products> hvps;
  std::vector<size_t> offsets = graph.argumentOffsets();
  for (size_t i = 0; i + 1 < options.hvps.size(); i += 2) {
    const std::string &name = options.hvps[i];
    std::string flag = "--hvp " + name;
    std::optional<size_t> output = scalarOutput(graph, "--hvp", name, "a Hessian-vector product", exitCode);
    if (!output)
      return std::nullopt;
    if (llvm::any_of(hvps, [&](const ResultPrinter::Products &hvp) { return hvp.output == *output; })) {
      exitCode = reportError("--hvp gives output '" + name + "' directions twice", ExitUsage);
      return std::nullopt;
    }
    auto directions = bindTangents(graph, options.hvps[i + 1], flag, "X=V, as in --hvp f x=1,y=0", exitCode);
    if (!directions)
      return std::nullopt;
    std::vector<double> v; // the selected arguments' elements, end to end
    for (size_t a = 0, s = 0; a + 1 < offsets.size(); ++a) {
      llvm::ArrayRef<double> direction = llvm::ArrayRef(*directions).slice(offsets[a], offsets[a + 1] - offsets[a]);
      if (s < selection.arguments.size() && selection.arguments[s] == a) {
        llvm::append_range(v, direction);
        ++s;
      } else if (llvm::any_of(direction, [](double element) { return element != 0; })) {
        exitCode = reportError(flag + ": '" + graph.node(graph.arguments()[a]).name +
                                   "' has a direction, but --wrt does not choose it",
                               ExitUsage);
        return std::nullopt;
      }
    }
    auto hvpGraph = buildHessianVectorGraph(graph, *output, selection.arguments);
    if (!hvpGraph) {
      exitCode = reportError(hvpGraph.takeError());
      return std::nullopt;
    }
    std::vector<std::vector<double>> products = evaluateHessianVector(*hvpGraph, in, v);
    ResultPrinter::Products &hvp = hvps.emplace_back(ResultPrinter::Products{*output, {}});
    hvp.products.resize(offsets.size() - 1);
    for (size_t s = 0; s < products.size(); ++s)
      hvp.products[selection.arguments[s]] = std::move(products[s]);
  }
  return hvps;
}

/// The evaluator of run's outputs and gradient (--grad, --of, --wrt), as --engine says: with auto, the
/// interpreter where interpretingPays.
llvm::Expected<OutputEvaluator> outputEvaluator(std::shared_ptr<const Graph> graph, const Options &options,
                                                const GradientSelection &selection, size_t rows) {
  if (options.engine == "jit")
    return OutputEvaluator::create(std::move(graph), options, options.grad);
  std::optional<GradientGraph> gradient;
  if (options.grad) {
    auto built = buildGradientGraph(*graph, selection);
    if (!built)
      return built.takeError();
    gradient = std::move(*built);
  }
  if (options.engine == "auto" && !interpretingPays(*graph, gradient ? &*gradient : nullptr, rows))
    return OutputEvaluator::create(std::move(graph), options, options.grad);
  return OutputEvaluator::interpret(std::move(graph), std::move(gradient));
}

} // namespace

int runCommand(const Options &options) {
  if (options.data.empty() && (options.perRow || !options.columns.empty() || !options.ignoreColumns.empty()))
    return reportError(std::string(options.perRow ? "--per-row" : "--columns and --ignore-columns") +
                           " need" + (options.perRow ? "s" : "") + " --data",
                       ExitUsage);
  const char *once = !options.vjps.empty()      ? "--vjp"
                     : !options.jvps.empty()    ? "--jvp"
                     : !options.hessian.empty() ? "--hessian"
                     : !options.hvps.empty()    ? "--hvp"
                                                : nullptr;
  if (once && !options.data.empty())
    return reportError(std::string(once) + " does not take --data: it evaluates the script once, at its values and "
                                           "--set",
                       ExitUsage);
  auto loaded = loadGraph(options);
  if (!loaded)
    return reportError(loaded.takeError());
  auto graph = std::make_shared<const Graph>(std::move(*loaded)); // the model below compiles it, shared
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  std::optional<DataSet> data;
  if (!options.data.empty()) {
    auto loaded = loadDataSet(options.data, *graph, {options.columns, options.ignoreColumns});
    if (!loaded)
      return reportError(loaded.takeError());
    data = std::move(*loaded);
  }
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode, data ? &*data : nullptr);
  if (!in)
    return exitCode;
  auto seeds = bindVjpSeeds(*graph, options, exitCode);
  if (!seeds)
    return exitCode;
  auto vjps = vectorJacobianProducts(*graph, *seeds, *in);
  if (!vjps)
    return reportError(vjps.takeError());
  auto tangents = bindTangents(*graph, options.jvps, "--jvp", "X=TANGENT, as in --jvp a=1,b=0", exitCode);
  if (!tangents)
    return exitCode;
  auto jvps = jacobianVectorProducts(*graph, options, *in, *tangents);
  if (!jvps)
    return reportError(jvps.takeError());
  std::optional<std::vector<double>> hessianValues = hessian(*graph, options, *selection, *in, exitCode);
  if (!hessianValues)
    return exitCode;
  auto hvps = hessianVectorProducts(*graph, options, *selection, *in, exitCode);
  if (!hvps)
    return exitCode;

  // Only what is printed is evaluated: without --grad nothing is differentiated, with --of and --wrt only the
  // gradient they choose.
  auto evaluator = outputEvaluator(graph, options, *selection, data ? data->rowCount : 1);
  if (!evaluator)
    return reportError(evaluator.takeError());
  ResultPrinter printer(*graph, options, *selection, llvm::outs());
  // A result that is not finite gets a warning where it started (built only then: it needs the gradient graph).
  std::optional<NonFiniteReporter> reporter;
  auto warn = [&](llvm::ArrayRef<double> arguments, const std::string &where) {
    if (!reporter) {
      std::vector<size_t> outputs(graph->outputs().size());
      std::iota(outputs.begin(), outputs.end(), 0);
      reporter.emplace(*graph, options, std::move(outputs),
                       options.grad ? std::optional<GradientSelection>(*selection) : std::nullopt);
    }
    return reporter->report(arguments, where);
  };
  auto onRow = [&](size_t r) {
    std::vector<double> arguments = *in;
    data->bindRow(r, arguments);
    return warn(arguments, " on row " + std::to_string(r + 1) + " of " + options.data);
  };
  bool nonFinite = false;
  auto exitStatus = [&] { return options.strict && nonFinite ? ExitFailure : ExitSuccess; };

  if (options.perRow) {
    evaluator->forEachRow(*in, *data, [&](size_t r, llvm::ArrayRef<double> results) {
      if (options.json)
        printer.object(results, r, std::nullopt);
      else
        printer.rowLine(r, results);
      if (!nonFinite && NonFiniteReporter::anyNonFinite(results))
        nonFinite = onRow(r) || true; // the first such row only
    });
    return exitStatus();
  }

  std::vector<double> results = evaluator->mean(*in, data ? &*data : nullptr);
  std::optional<size_t> rows = data ? std::optional<size_t>(data->rowCount) : std::nullopt;
  if (options.json) {
    printer.object(results, std::nullopt, rows, *vjps, *jvps, *hessianValues, *hvps);
  } else {
    printer.lines(results, rows ? "  (mean over the " + std::to_string(*rows) + (*rows == 1 ? " row" : " rows") +
                                      " of " + options.data + ")"
                                : "");
    printer.productLines("vjp", *vjps);
    printer.jvpLines(*jvps);
    printer.hessianLines(*hessianValues);
    printer.productLines("hvp", *hvps);
  }
  nonFinite = NonFiniteReporter::anyNonFinite(results);
  if (nonFinite && !data)
    warn(*in, "");
  for (size_t r = 0; nonFinite && data && r < data->rowCount && !onRow(r); ++r) // the first row that is not finite
    ;
  return exitStatus();
}

} // namespace bpc
