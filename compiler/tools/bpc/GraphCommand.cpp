//===- GraphCommand.cpp - bpc graph: the IR graph as text, DOT or SVG ------===//
//
// Prints a script's graph, or with --grad its gradient graph, one node per line or as Graphviz DOT. With
// --values every node also shows its value at the script's values (or --set's), and with --grad each forward
// node its `grad`, the adjoint d out / d node of one scalar output: the picture of micrograd's draw_dot. --svg
// renders the DOT with Graphviz's `dot`, found on PATH when it runs.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "OutputFile.h"

#include "bp/Interpreter.h"
#include "bp/NumberFormat.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {
namespace {

/// Tensors in a label show at most this many elements.
constexpr size_t LabelElements = 6;

/// A node's value for its label: the number, a small tensor whole, a larger one's first elements (row-major)
/// as NumPy elides them: `[0.5, -0.3, 0.1, ...]` (the shape is on a line of its own).
std::string shortValue(llvm::ArrayRef<double> values, const Shape &shape) {
  if (shape.empty())
    return formatNumber(values.front());
  if (values.size() <= LabelElements)
    return formatTensor(values, shape);
  std::string text = "[";
  for (size_t i = 0; i < LabelElements / 2; ++i)
    text += formatNumber(values[i]) + ", ";
  return text + "...]";
}

/// The output whose adjoints --values --grad shows: the first one --of chose, else the first scalar output.
llvm::Expected<size_t> adjointOutput(const Graph &graph, const GradientSelection &selection, const Options &options) {
  for (size_t output : selection.outputs) {
    if (graph.node(graph.outputs()[output].node).type.isScalar())
      return output;
    if (!options.of.empty())
      break;
  }
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "graph --values --grad shows the gradient of a scalar output; choose one with --of");
}

/// Runs Graphviz's dot on `dot` and writes the SVG it draws to `path`, whole or not at all.
llvm::Error writeSvg(const std::string &dot, const std::string &path) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  llvm::ErrorOr<std::string> program = llvm::sys::findProgramByName("dot");
  if (!program)
    return error("--svg needs Graphviz's dot program on PATH (apt install graphviz)");
  llvm::SmallString<128> input, svg, messages;
  for (auto [path, suffix] : {std::pair{&input, "dot"}, {&svg, "svg"}, {&messages, "txt"}})
    if (std::error_code code = llvm::sys::fs::createTemporaryFile("bpc-graph", suffix, *path))
      return error("cannot create a temporary file: " + code.message());
  auto remove = llvm::make_scope_exit([&] {
    for (const auto &path : {input, svg, messages})
      llvm::sys::fs::remove(path);
  });
  {
    std::error_code code;
    llvm::raw_fd_ostream stream(input, code);
    stream << dot;
    if (code || (stream.close(), stream.has_error()))
      return error("cannot write " + input + ": " + (code ? code : stream.error()).message());
  }
  std::optional<llvm::StringRef> redirects[] = {llvm::StringRef(""), llvm::StringRef(svg), llvm::StringRef(messages)};
  std::string failure;
  int status = llvm::sys::ExecuteAndWait(*program, {"dot", "-Tsvg", input}, std::nullopt, redirects, 0, 0, &failure);
  if (status != 0) {
    auto text = llvm::MemoryBuffer::getFile(messages);
    std::string why = text ? llvm::StringRef((*text)->getBuffer()).trim().str() : "";
    if (why.empty())
      why = failure.empty() ? "exit status " + std::to_string(status) : failure;
    return error("dot could not draw the graph: " + why);
  }
  auto drawn = llvm::MemoryBuffer::getFile(svg);
  if (!drawn)
    return error("cannot read dot's output: " + drawn.getError().message());
  auto file = PendingFile::create(path);
  if (!file)
    return file.takeError();
  file->stream() << (*drawn)->getBuffer();
  return PendingFile::commitAll({&*file});
}

} // namespace

int graphCommand(const Options &options) {
  if (!options.svg.empty() && sameFile(options.svg, options.file))
    return reportError("'" + options.svg + "' is the script '" + options.file +
                           "'; bpc graph --svg does not overwrite it",
                       ExitUsage);
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  std::optional<GradientGraph> gradient;
  if (options.grad) {
    auto selection = gradientSelection(*graph, options);
    if (!selection)
      return reportError(llvm::toString(selection.takeError()), ExitUsage);
    if (options.values) { // one sweep, whose adjoints the forward nodes show
      auto output = adjointOutput(*graph, *selection, options);
      if (!output)
        return reportError(llvm::toString(output.takeError()), ExitUsage);
      selection->outputs = {*output};
    }
    auto built = buildGradientGraph(*graph, *selection);
    if (!built)
      return reportError(built.takeError());
    gradient = std::move(*built);
    // The gradient graph's results: the outputs, then d output / d argument for every (selected) output and
    // argument.
    std::vector<NodeId> arguments = graph->arguments();
    for (const ReverseSweep &sweep : gradient->sweeps)
      for (size_t i = 0; i < gradient->selection.arguments.size(); ++i)
        gradient->graph.addOutput("d" + graph->outputs()[sweep.output].name + "/d" +
                                      graph->node(arguments[gradient->selection.arguments[i]]).name,
                                  sweep.gradient[i], {});
  }
  const Graph &printed = gradient ? gradient->graph : *graph;

  Graph::NodeNotes notes;
  if (options.values) {
    int exitCode = ExitSuccess;
    auto in = bindArguments(*graph, options, exitCode);
    if (!in)
      return exitCode;
    Values values = evaluateGraph(printed, *in);
    notes.resize(printed.size());
    auto describe = [&](NodeId id) { return shortValue(values.tensor(id), printed.node(id).type.shape); };
    for (NodeId id = 0; id < printed.size(); ++id)
      if (printed.node(id).op != OpKind::Const)
        notes[id].push_back("value " + describe(id));
    if (gradient) {
      assert(gradient->sweeps.size() == 1 && "--values --grad builds the sweep of one output");
      for (auto [forward, adjoint] : gradient->sweeps[0].adjoints)
        notes[forward].push_back("grad " + describe(adjoint));
    }
  }

  if (options.svg.empty()) {
    options.dot ? printed.printDot(llvm::outs(), notes) : printed.print(llvm::outs(), notes);
    return ExitSuccess;
  }
  std::string dot;
  llvm::raw_string_ostream stream(dot);
  printed.printDot(stream, notes);
  if (llvm::Error error = writeSvg(dot, options.svg))
    return reportError(std::move(error));
  return ExitSuccess;
}

} // namespace bpc
