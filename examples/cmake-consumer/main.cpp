//===- main.cpp - Running a script with bp's C++ API: outputs and gradients ===//
//
// bp_run SCRIPT.bp: the script's outputs at its own input values and every output's gradient, as
// `bpc run SCRIPT.bp --grad` prints them.
//
//===----------------------------------------------------------------------===//
#include "bp/Frontend.h"
#include "bp/JIT.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <vector>

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: bp_run SCRIPT.bp\n";
    return 2;
  }
  auto fail = [](llvm::Error error) {
    llvm::logAllUnhandledErrors(std::move(error), llvm::errs());
    return 1;
  };

  // Parse and check the script, then compile its forward and gradient functions in this process.
  auto file = bp::loadSourceFile(argv[1]);
  if (!file)
    return fail(file.takeError());
  auto graph = bp::compileScript(*file);
  if (!graph)
    return fail(graph.takeError());
  auto model = bp::CompiledModel::create(*graph, bp::CompiledModel::ForwardAndGradient);
  if (!model)
    return fail(model.takeError());

  // One call: the outputs, and one gradient row per output element over every argument element.
  std::vector<size_t> outs = graph->outputOffsets(), args = graph->argumentOffsets();
  std::vector<double> in = graph->argumentDefaults(), out(outs.back()), grad(outs.back() * args.back());
  (*model)->gradient(in.data(), out.data(), grad.data());

  std::vector<bp::NodeId> arguments = graph->arguments();
  for (size_t o = 0; o < graph->outputs().size(); ++o) {
    const bp::Graph::Output &output = graph->outputs()[o];
    llvm::ArrayRef<double> values(out.data() + outs[o], outs[o + 1] - outs[o]);
    llvm::outs() << output.name << " = "
                 << bp::formatTensor(values, graph->node(output.node).type.shape) << '\n';
    for (size_t row = outs[o]; row < outs[o + 1]; ++row) {
      for (size_t a = 0; a < arguments.size(); ++a) {
        const bp::Node &argument = graph->node(arguments[a]);
        llvm::ArrayRef<double> entries(grad.data() + row * args.back() + args[a], args[a + 1] - args[a]);
        std::string element = values.size() == 1 ? "" : "[" + std::to_string(row - outs[o]) + "]";
        llvm::outs() << 'd' << output.name << element << "/d" << argument.name << " = "
                     << bp::formatTensor(entries, argument.type.shape) << '\n';
      }
    }
  }
  return 0;
}
