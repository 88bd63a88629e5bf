//===- BuildCommand.cpp - bpc build: a native object and a C header -------===//
//
// Writes the object and the header through OutputFile.h: both are put in place only once both are complete, so
// a failed build leaves existing files untouched; neither may be the script itself. With --train-step, the
// object also holds PREFIX_train_step, `bpc train`'s step for the options given.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "OutputFile.h"

#include "bp/CodeGen.h"
#include "bp/DataSet.h"
#include "bp/Target.h"

#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {
namespace {

std::string defaultOutputPath(const Options &options) {
  const char *extension = options.emit == "asm" ? ".s" : options.emit == "llvm" ? ".ll" : ".o";
  return llvm::sys::path::stem(options.file).str() + extension;
}

} // namespace

int buildCommand(const Options &options) {
  std::string prefix = options.name.empty() ? prefixFromPath(options.file) : options.name;
  if (!isCIdentifier(prefix))
    return reportError("--name '" + prefix + "' is not a valid C identifier", ExitUsage);

  std::string outputPath = options.output.empty() ? defaultOutputPath(options) : options.output;
  std::string headerPath = options.header;
  if (headerPath.empty()) {
    llvm::SmallString<256> path(outputPath);
    llvm::sys::path::replace_extension(path, ".h");
    headerPath = path.str().str();
  }
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (llvm::Error err = checkCHeaderNames(*graph, prefix))
    return reportError(std::move(err));
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  // Compared as files, not as names: "x.o" and "./x.o", links, and the script under another name.
  for (const std::string *path : {&outputPath, &headerPath})
    if (sameFile(*path, options.file))
      return reportError("'" + *path + "' is the script '" + options.file + "'; bpc build does not overwrite it",
                         ExitUsage);
  if (sameFile(headerPath, outputPath))
    return reportError("the header '" + headerPath + "' and the output '" + outputPath + "' are the same file",
                       ExitUsage);

  std::optional<TrainStepSpec> trainStep;
  if (options.trainStep) {
    if (!options.ignoreColumns.empty() && options.data.empty())
      return reportError("--ignore-columns needs --data", ExitUsage);
    int exitCode = ExitSuccess;
    std::optional<DataSet> data; // read for its columns
    trainStep = trainStepSpec(*graph, options, data, exitCode);
    if (!trainStep)
      return exitCode;
  }

  auto machine = createTargetMachine(options.target, options.optLevel);
  if (!machine)
    return reportError(machine.takeError());

  std::optional<GradientGraph> gradient = gradientToCompile(*graph, prefix, *selection);
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = generateModule(*graph, gradient ? &*gradient : nullptr, prefix, context);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  if (trainStep)
    if (llvm::Error err = addTrainStep(*module, *graph, *trainStep, prefix))
      return reportError(std::move(err));
  optimizeModule(*module, machine->get(), options.optLevel);

  auto output = PendingFile::create(outputPath);
  if (!output)
    return reportError(output.takeError());
  auto header = PendingFile::create(headerPath);
  if (!header)
    return reportError(header.takeError());

  if (options.emit == "llvm") {
    module->print(output->stream(), nullptr);
  } else {
    auto type = options.emit == "asm" ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
    if (llvm::Error err = emitMachineCode(*module, **machine, type, output->stream()))
      return reportError(std::move(err));
  }
  header->stream() << generateCHeader(*graph, prefix, llvm::sys::path::filename(options.file).str(),
                                   trainStep ? &*trainStep : nullptr, gradient.has_value(),
                                   options.selectsGradient() ? &*selection : nullptr);

  if (llvm::Error err = PendingFile::commitAll({&*output, &*header}))
    return reportError(std::move(err));
  return ExitSuccess;
}

} // namespace bpc
