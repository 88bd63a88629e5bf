//===- main.cpp - Running a script with bp's C++ API: outputs and gradients ===//
//
// bp_run SCRIPT.bp: the script's outputs at its own input values and every output's gradient, as
// `bpc run SCRIPT.bp --grad` prints them. bp::Model::compileFile is the whole pipeline (parse, check, the
// gradient graph, JIT compilation); the model knows its arguments' and outputs' names, shapes and places.
//
//===----------------------------------------------------------------------===//
#include "bp/Model.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <vector>

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: bp_run SCRIPT.bp\n";
    return 2;
  }
  auto model = bp::Model::compileFile(argv[1]);
  if (!model) { // every diagnostic, file:line:col with the line and a caret
    llvm::logAllUnhandledErrors(model.takeError(), llvm::errs());
    return 1;
  }

  // One call: the outputs, and a gradient row per output element, a column per argument element.
  std::vector<double> in = model->defaults(), out(model->outSize()), grad(model->gradSize());
  if (llvm::Error error = model->gradient(in, out, grad)) { // sizes checked
    llvm::logAllUnhandledErrors(std::move(error), llvm::errs());
    return 1;
  }

  for (const bp::OutputInfo &output : model->outputs())
    llvm::outs() << output.name << " = "
                 << bp::formatTensor(llvm::ArrayRef(out.data() + output.offset, output.size), output.shape) << '\n';
  for (const bp::OutputInfo &output : model->outputs()) {
    for (size_t element = 0; element < output.size; ++element) {
      size_t row = *output.gradRow + element;
      for (const bp::ArgumentInfo &argument : model->arguments()) {
        llvm::ArrayRef<double> entries(grad.data() + row * model->gradColumns() + *argument.gradColumn,
                                       argument.size);
        std::string index = output.size == 1 ? "" : "[" + std::to_string(element) + "]";
        llvm::outs() << 'd' << output.name << index << "/d" << argument.name << " = "
                     << bp::formatTensor(entries, argument.shape) << '\n';
      }
    }
  }
  return 0;
}
