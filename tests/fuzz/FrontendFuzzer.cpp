//===- FrontendFuzzer.cpp - libFuzzer target over the whole front end -----===//
//
// Feeds arbitrary bytes through everything a script goes through before code generation: source checks,
// lexing, parsing, semantic checks and graph construction, then the gradient graph, the interpreter, the text
// and DOT printers and the diagnostics printer. Anything but a clean return (a crash, an abort, a sanitizer
// report, an uncaught exception) is a bug.
//
// Built two ways: with -DBP_FUZZ=ON (clang, libFuzzer) as bp_fuzz_frontend, and always as
// bp_fuzz_replay, which runs the same function over files and folders (the regression corpus under ctest).
//
//===----------------------------------------------------------------------===//
#include "bp/Autodiff.h"
#include "bp/Diagnostics.h"
#include "bp/Frontend.h"
#include "bp/Interpreter.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto file = bp::makeSourceFile("fuzz.bp", std::string(reinterpret_cast<const char *>(data), size));
  if (!file) {
    std::string rendered = llvm::toString(file.takeError());
    return 0;
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
  auto gradient = bp::buildGradientGraph(*graph);
  if (!gradient) {
    llvm::consumeError(gradient.takeError());
    return 0;
  }
  std::vector<double> in;
  for (bp::NodeId id : graph->arguments())
    in.push_back(graph->node(id).value);
  std::vector<double> values = bp::evaluateGraph(gradient->graph, in);
  return values.size() == gradient->graph.size() ? 0 : 1;
}
