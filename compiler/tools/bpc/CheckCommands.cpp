//===- CheckCommands.cpp - bpc check, graph and emit-llvm -----------------===//
#include "Commands.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Target.h"

#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {

int checkCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  return ExitSuccess;
}

int graphCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (!options.grad) {
    options.dot ? graph->printDot(llvm::outs()) : graph->print(llvm::outs());
    return ExitSuccess;
  }
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  auto gradient = buildGradientGraph(*graph, *selection);
  if (!gradient)
    return reportError(gradient.takeError());
  // The gradient graph's results: the outputs, then d output / d argument for every (selected) output and
  // argument.
  Graph &printed = gradient->graph;
  std::vector<NodeId> arguments = graph->arguments();
  for (const ReverseSweep &sweep : gradient->sweeps)
    for (size_t i = 0; i < selection->arguments.size(); ++i)
      printed.addOutput("d" + graph->outputs()[sweep.output].name + "/d" +
                            graph->node(arguments[selection->arguments[i]]).name,
                        sweep.gradient[i], {});
  options.dot ? printed.printDot(llvm::outs()) : printed.print(llvm::outs());
  return ExitSuccess;
}

int emitLLVMCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  auto functions = emittedFunctions(*graph, options, *selection);
  if (!functions)
    return reportError(llvm::toString(functions.takeError()), ExitUsage);
  auto machine = createTargetMachine("", options.optLevel);
  if (!machine)
    return reportError(machine.takeError());
  llvm::LLVMContext context;
  bool compiledGradient = false;
  auto generated = generateFunctions(*graph, *functions, *selection, prefixFromPath(options.file), context,
                                     compiledGradient);
  if (!generated)
    return reportError(generated.takeError());
  std::unique_ptr<llvm::Module> module = std::move(*generated);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  optimizeModule(*module, machine->get(), options.optLevel);
  module->print(llvm::outs(), nullptr);
  return ExitSuccess;
}

} // namespace bpc
