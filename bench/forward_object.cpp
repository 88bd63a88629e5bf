//===- forward_object.cpp - The forward function of a script as an object file ---===//
//
// bp_bench_forward_object SCRIPT.bp OUT.o PREFIX [-O N]
//
// What `bpc build` does (same library calls, host target, -O2 by default), for PREFIX_forward alone: `bpc build`
// also compiles the gradient function, and the Jacobian of an n x n tensor output is past bp's gradient size
// limit (MaxGradientSize) from n = 64 on, so matmul.py builds its products with this tool.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"
#include "bp/Model.h"
#include "bp/Target.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>

int main(int argc, char **argv) {
  auto fail = [](llvm::Error error) {
    llvm::errs() << "bp_bench_forward_object: " << llvm::toString(std::move(error)) << '\n';
    return 1;
  };
  if (argc != 4 && !(argc == 6 && !std::strcmp(argv[4], "-O"))) {
    llvm::errs() << "usage: " << argv[0] << " SCRIPT.bp OUT.o PREFIX [-O N]\n";
    return 2;
  }
  unsigned optLevel = argc == 6 ? static_cast<unsigned>(std::atoi(argv[5])) : 2;
  auto graph = bp::compileScriptFile(argv[1]);
  if (!graph)
    return fail(graph.takeError());
  auto machine = bp::createTargetMachine("", optLevel);
  if (!machine)
    return fail(machine.takeError());
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = bp::generateModule(*graph, nullptr, argv[3], context);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  bp::optimizeModule(*module, machine->get(), optLevel);
  std::error_code error;
  llvm::raw_fd_ostream out(argv[2], error, llvm::sys::fs::OF_None);
  if (error)
    return fail(llvm::createStringError(error, "cannot write '%s'", argv[2]));
  if (llvm::Error err = bp::emitMachineCode(*module, **machine, llvm::CodeGenFileType::ObjectFile, out))
    return fail(std::move(err));
  return 0;
}
