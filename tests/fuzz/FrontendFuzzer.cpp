//===- FrontendFuzzer.cpp - libFuzzer target over the whole front end -----===//
//
// Feeds arbitrary bytes through everything a script goes through: source checks, lexing, parsing, semantic
// checks and graph construction, then the gradient graph, the interpreter, the text and DOT printers and the
// diagnostics printer. Anything but a clean return (a crash, an abort, a sanitizer report, an uncaught
// exception) is a bug. Every input must parse alike with the front end's own statement reader and with ANTLR's
// parser alone (ParseMode: the same tree, locations and diagnostics). For scripts that compile, it also checks
// properties the pipeline promises, each of which the code could get wrong:
//   - the gradient graph's forward part computes exactly what the forward graph computes;
//   - graph simplification changes no output and no gradient entry (bit for bit, NaN as NaN);
//   - for small graphs, the JIT-compiled forward and gradient functions reproduce the interpreter.
// Tensor graphs too: their compiled forward function and, for small graphs, their gradient function (a tensor
// output's Jacobian included) reproduce the interpreter.
// A violated property aborts with a message, so libFuzzer keeps the input and the replay fails.
//
// Built two ways: with -DBP_FUZZ=ON (clang, libFuzzer) as bp_fuzz_frontend, and always as
// bp_fuzz_replay, which runs the same function over files and folders (the regression corpus under ctest).
//
//===----------------------------------------------------------------------===//
#include "../common/ParseDump.h"

#include "bp/Autodiff.h"
#include "bp/Diagnostics.h"
#include "bp/Frontend.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"
#include "bp/NumberFormat.h"
#include "bp/Simplify.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// Graphs up to this size are also JIT-compiled (a compile takes milliseconds; fuzzing needs thousands of
/// inputs a second, so larger graphs only go through the interpreter).
constexpr size_t MaxCompiledNodes = 300;
/// Tensor graphs are compiled (forward only) when their arguments have at most this many elements in all.
constexpr size_t MaxCompiledElements = 10000;
/// The Jacobian of a tensor graph is evaluated (a sweep per output element) up to this many entries.
constexpr size_t MaxJacobianEntries = 100000;

bool sameValue(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

void require(bool ok, const std::string &property, double expected, double actual) {
  if (ok)
    return;
  llvm::errs() << "property violated: " << property << ": expected " << bp::formatNumber(expected) << ", got "
               << bp::formatNumber(actual) << '\n';
  std::abort();
}

/// The gradient graph's results: every output, then every gradient entry (row-major).
std::vector<bp::NodeId> gradientRoots(const bp::GradientGraph &gradient) {
  std::vector<bp::NodeId> roots;
  for (const bp::Graph::Output &output : gradient.graph.outputs())
    roots.push_back(output.node);
  for (const bp::ReverseSweep &sweep : gradient.sweeps)
    roots.insert(roots.end(), sweep.gradient.begin(), sweep.gradient.end());
  return roots;
}

void checkCompiledCode(const bp::Graph &graph, const std::vector<double> &in, const bp::Values &expected,
                       const std::vector<bp::NodeId> &roots) {
  auto model = bp::CompiledModel::create(graph, bp::CompiledModel::ForwardAndGradient, 2);
  if (!model) {
    llvm::errs() << "property violated: a checked graph must compile: " << llvm::toString(model.takeError()) << '\n';
    std::abort();
  }
  size_t outputs = graph.outputs().size();
  std::vector<double> out(outputs), outFromGradient(outputs), grad(roots.size() - outputs);
  (*model)->forward(in.data(), out.data());
  (*model)->gradient(in.data(), outFromGradient.data(), grad.data());
  for (size_t i = 0; i < roots.size(); ++i) {
    double actual = i < outputs ? out[i] : grad[i - outputs];
    require(sameValue(expected[roots[i]], actual), "compiled result #" + std::to_string(i) + " equals the interpreter's",
            expected[roots[i]], actual);
    if (i < outputs)
      require(sameValue(out[i], outFromGradient[i]), "forward and gradient functions agree on output #" +
                                                         std::to_string(i), out[i], outFromGradient[i]);
  }
}

/// A tensor graph: its leaves' data match their shapes (Graph::verify), the interpreter evaluates it, and its
/// compiled forward function gives the interpreter's outputs; autodiff refuses it only if the gradient is too
/// large, else its gradient graph verifies, keeps the forward values, gives each argument a gradient of the
/// argument's shape, the interpreter evaluates the Jacobian (if not too large) and the compiled gradient
/// function gives its numbers.
void checkTensorGraph(const bp::Graph &graph) {
  if (llvm::Error err = graph.verify()) {
    llvm::errs() << "property violated: a built graph verifies: " << llvm::toString(std::move(err)) << '\n';
    std::abort();
  }
  std::vector<double> in;
  for (bp::NodeId id : graph.arguments()) {
    const bp::Node &node = graph.node(id);
    if (node.type.isScalar())
      in.push_back(node.value);
    else if (node.hasValue)
      in.insert(in.end(), node.data.begin(), node.data.end());
    else
      in.resize(in.size() + static_cast<size_t>(bp::elementCount(node.type.shape)), 1.0);
  }
  bp::Values forwardValues = bp::evaluateGraph(graph, in);
  bool compiles = graph.size() <= MaxCompiledNodes && in.size() <= MaxCompiledElements;
  if (compiles) {
    auto model = bp::CompiledModel::create(graph, bp::CompiledModel::ForwardOnly, 2);
    if (!model) {
      llvm::errs() << "property violated: a tensor graph's forward function compiles: "
                   << llvm::toString(model.takeError()) << '\n';
      std::abort();
    }
    std::vector<size_t> offsets = graph.outputOffsets();
    std::vector<double> out(offsets.back());
    (*model)->forward(in.data(), out.data());
    for (size_t o = 0; o < graph.outputs().size(); ++o) {
      llvm::ArrayRef<double> expected = forwardValues.tensor(graph.outputs()[o].node);
      for (size_t i = 0; i < expected.size(); ++i)
        require(sameValue(expected[i], out[offsets[o] + i]),
                "compiled tensor output #" + std::to_string(o) + " equals the interpreter's", expected[i],
                out[offsets[o] + i]);
    }
  }

  auto gradient = bp::buildGradientGraph(graph);
  if (!gradient) {
    std::string message = llvm::toString(gradient.takeError());
    require(message.find("gradient too large") != std::string::npos,
            "autodiff refuses a tensor graph only for its size", 0, 0);
    return;
  }
  if (llvm::Error err = gradient->graph.verify()) {
    llvm::errs() << "property violated: a gradient graph verifies: " << llvm::toString(std::move(err)) << '\n';
    std::abort();
  }
  bp::Values values = bp::evaluateGraph(gradient->graph, in);
  for (bp::NodeId id = 0; id < graph.size(); ++id) {
    llvm::ArrayRef<double> before = forwardValues.tensor(id), after = values.tensor(id);
    for (size_t i = 0; i < before.size(); ++i)
      require(sameValue(before[i], after[i]), "the gradient graph keeps forward node %" + std::to_string(id),
              before[i], after[i]);
  }
  std::vector<bp::NodeId> arguments = graph.arguments();
  for (const bp::ReverseSweep &sweep : gradient->sweeps)
    for (size_t a = 0; a < arguments.size(); ++a)
      require(gradient->graph.node(sweep.gradient[a]).type.shape == graph.node(arguments[a]).type.shape,
              "a gradient has its argument's shape", 0, 0);
  if (graph.outputOffsets().back() * in.size() > MaxJacobianEntries)
    return;
  bp::Jacobian expected = bp::evaluateGradient(*gradient, in);
  if (!compiles)
    return;
  auto model = bp::CompiledModel::create(graph, bp::CompiledModel::ForwardAndGradient, 2);
  if (!model) {
    llvm::errs() << "property violated: a tensor graph's gradient function compiles: "
                 << llvm::toString(model.takeError()) << '\n';
    std::abort();
  }
  std::vector<double> out(expected.out.size()), grad(expected.grad.size());
  (*model)->gradient(in.data(), out.data(), grad.data());
  for (size_t i = 0; i < out.size(); ++i)
    require(sameValue(expected.out[i], out[i]), "compiled tensor gradient function's output #" + std::to_string(i) +
                                                    " equals the interpreter's", expected.out[i], out[i]);
  for (size_t i = 0; i < grad.size(); ++i)
    require(sameValue(expected.grad[i], grad[i]), "compiled Jacobian entry #" + std::to_string(i) +
                                                      " equals the interpreter's", expected.grad[i], grad[i]);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto file = bp::makeSourceFile("fuzz.bp", std::string(reinterpret_cast<const char *>(data), size));
  if (!file) {
    std::string rendered = llvm::toString(file.takeError());
    return 0;
  }
  std::string parsed = bp::test::dumpParse(*file, bp::ParseMode::Default);
  if (parsed != bp::test::dumpParse(*file, bp::ParseMode::AntlrOnly)) {
    llvm::errs() << "property violated: the statement reader and ANTLR's parser read the script alike; the "
                    "reader's parse:\n"
                 << parsed;
    std::abort();
  }
  auto graph = bp::compileScript(*file);
  if (!graph) {
    std::string rendered = llvm::toString(graph.takeError());
    return 0;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  graph->print(os);
  graph->printDot(os);
  // Differentiating millions of nodes is correct but slow; the fuzzer's time is better spent elsewhere.
  if (graph->size() > 100000)
    return 0;
  if (graph->firstTensorNode()) {
    checkTensorGraph(*graph);
    return 0;
  }
  auto gradient = bp::buildGradientGraph(*graph);
  if (!gradient) {
    llvm::consumeError(gradient.takeError());
    return 0;
  }
  std::vector<double> in;
  for (bp::NodeId id : graph->arguments())
    in.push_back(graph->node(id).value);
  bp::Values values = bp::evaluateGraph(gradient->graph, in);

  bp::Values forwardValues = bp::evaluateGraph(*graph, in);
  for (bp::NodeId id = 0; id < graph->size(); ++id)
    require(sameValue(forwardValues[id], values[id]), "the gradient graph keeps forward node %" + std::to_string(id),
            forwardValues[id], values[id]);

  std::vector<bp::NodeId> roots = gradientRoots(*gradient);
  std::vector<bp::NodeId> simplifiedRoots = roots;
  bp::Graph simplified = bp::simplifyGraph(gradient->graph, simplifiedRoots);
  bp::Values simplifiedValues = bp::evaluateGraph(simplified, in);
  for (size_t i = 0; i < roots.size(); ++i)
    require(sameValue(values[roots[i]], simplifiedValues[simplifiedRoots[i]]),
            "simplification keeps result #" + std::to_string(i), values[roots[i]], simplifiedValues[simplifiedRoots[i]]);

  if (gradient->graph.size() <= MaxCompiledNodes)
    checkCompiledCode(*graph, in, values, roots);
  return 0;
}
