//===- BuildCommand.cpp - bpc build: a native object and a C header -------===//
//
// Writes the object and the header through OutputFile.h: both are put in place only once both are complete, so
// a failed build leaves existing files untouched; neither may be the script itself. With --train-step, the
// object also holds PREFIX_train_step, `bpc train`'s step for the options given. --emit-fn chooses the derivative
// functions beside PREFIX_forward (here for emit-llvm too): PREFIX_gradient, PREFIX_jvp, PREFIX_vjp, PREFIX_hessian
// and PREFIX_hvp. --shared links the object into a shared object with the C compiler driver ($CC, else cc), with
// functions that describe the model (CodeGen.h, addMetadataFunctions) and bp_prefix(), so that a loader needs no
// header; --metadata puts the same functions but bp_prefix() in a plain object. A large script is compiled in
// parts on -j threads (CodeGen.h, compileObjects), whose objects the system linker combines into one (ld -r; a
// shared object links them directly).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "OutputFile.h"

#include "bp/CodeGen.h"
#include "bp/DataSet.h"
#include "bp/Shape.h"
#include "bp/Target.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;

namespace bpc {
namespace {

std::string defaultOutputPath(const Options &options) {
  const char *extension = options.shared          ? ".so"
                          : options.emit == "asm"  ? ".s"
                          : options.emit == "llvm" ? ".ll"
                                                   : ".o";
  return llvm::sys::path::stem(options.file).str() + extension;
}

/// The output PREFIX_hessian and PREFIX_hvp differentiate (`function` names the first asked for in errors): the
/// one --of chooses, or else the script's only scalar output. Any other case is a usage error.
llvm::Expected<size_t> hessianOutput(const Graph &graph, const Options &options, const GradientSelection &selection,
                                     const std::string &function) {
  const auto &outputs = graph.outputs();
  auto isScalar = [&](size_t o) { return graph.node(outputs[o].node).type.isScalar(); };
  std::vector<size_t> candidates = selection.outputs;
  if (options.of.empty())
    llvm::erase_if(candidates, [&](size_t o) { return !isScalar(o); });
  std::string names;
  for (size_t o : candidates)
    names += (names.empty() ? "" : ", ") + outputs[o].name;
  auto error = [&](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "--emit-fn " + function + ": " + message);
  };
  if (candidates.size() == 1 && isScalar(candidates[0]))
    return candidates[0];
  if (candidates.size() == 1)
    return error("output '" + names + "' has shape " + formatShape(graph.node(outputs[candidates[0]].node).type.shape) +
                 "; a Hessian needs a scalar output");
  if (!options.of.empty())
    return error("--of chooses " + std::to_string(candidates.size()) + " outputs (" + names +
                 "); a Hessian is of one scalar output");
  if (candidates.empty())
    return error("the script has no scalar output; a Hessian needs one");
  return error("the script has " + std::to_string(candidates.size()) + " scalar outputs (" + names +
               "); choose one with --of");
}

/// The functions in the object, for PREFIX_functions(): "forward,gradient,jvp".
std::string functionList(const EmittedFunctions &functions, bool compiledGradient, bool trainStep) {
  std::string list = "forward";
  for (auto [present, name] : {std::pair{compiledGradient, "gradient"}, {functions.jvp, "jvp"}, {functions.vjp, "vjp"},
                               {functions.hessian, "hessian"}, {functions.hvp, "hvp"}, {trainStep, "train_step"}})
    if (present)
      list += std::string(",") + name;
  return list;
}

/// Links the object files `objects` into the shared object `library` with the C compiler driver: $CC (words
/// split at spaces, as make does), else cc. libm comes with it, for the model's calls to exp, log and the like.
llvm::Error linkSharedObject(llvm::ArrayRef<std::string> objects, const std::string &library) {
  const char *cc = std::getenv("CC");
  llvm::SmallVector<llvm::StringRef, 4> words;
  llvm::StringRef(cc && *cc ? cc : "cc").split(words, ' ', -1, false);
  std::vector<llvm::StringRef> arguments(words.begin(), words.end());
  llvm::append_range(arguments, std::initializer_list<llvm::StringRef>{"-shared", "-o", library});
  arguments.insert(arguments.end(), objects.begin(), objects.end());
  arguments.push_back("-lm");
  std::string command = llvm::join(arguments, " ");
  auto error = [&](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message + "; the command was: " + command);
  };
  if (arguments.empty())
    return error("CC is empty: no C compiler to link the shared object");
  auto program = llvm::sys::findProgramByName(arguments[0]);
  if (!program || !llvm::sys::fs::can_execute(*program))
    return error("no C compiler to link the shared object: '" + arguments[0].str() + "' is not found (set CC)");
  return runLinker(*program, arguments);
}

using Objects = std::vector<std::unique_ptr<llvm::MemoryBuffer>>;

/// Object files written to temporary files, removed with it.
class TemporaryObjects {
public:
  llvm::Error write(const Objects &objects) {
    for (const auto &object : objects) {
      llvm::SmallString<128> path;
      int fd = -1;
      if (std::error_code ec = llvm::sys::fs::createTemporaryFile("bpc-part", "o", fd, path))
        return llvm::createStringError(ec, "cannot create a temporary object file: " + ec.message());
      paths.push_back(path.str().str());
      removers.push_back(std::make_unique<llvm::FileRemover>(path));
      llvm::raw_fd_ostream stream(fd, /*shouldClose=*/true);
      stream << object->getBuffer();
      stream.close();
      if (std::error_code ec = stream.error()) {
        stream.clear_error();
        return llvm::createStringError(ec, "cannot write '" + path + "': " + ec.message());
      }
    }
    return llvm::Error::success();
  }
  const std::vector<std::string> &files() const { return paths; }

private:
  std::vector<std::string> paths;
  std::vector<std::unique_ptr<llvm::FileRemover>> removers;
};

/// Writes to `os` what `link` makes of `objects` (written to temporary files) in a temporary file `extension`.
llvm::Error writeLinked(const Objects &objects, const char *extension, llvm::raw_ostream &os,
                        llvm::function_ref<llvm::Error(llvm::ArrayRef<std::string>, const std::string &)> link) {
  TemporaryObjects inputs;
  if (llvm::Error err = inputs.write(objects))
    return err;
  llvm::SmallString<128> linked;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("bpc-linked", extension, linked))
    return llvm::createStringError(ec, "cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeLinked(linked);
  if (llvm::Error err = link(inputs.files(), linked.str().str()))
    return err;
  auto bytes = llvm::MemoryBuffer::getFile(linked);
  if (!bytes)
    return llvm::createStringError(bytes.getError(), "cannot read the linked '" + linked + "': " +
                                                         bytes.getError().message());
  os << (*bytes)->getBuffer();
  return llvm::Error::success();
}

/// The objects of `module` (optimized here): in parts on -j threads where it is large (CodeGen.h, compileObjects)
/// and they can be combined (a shared object links them all; a plain object needs `linker`, found here, to
/// combine them into one); else one, compiled on this thread (assembly: always, as one text).
llvm::Expected<Objects> compileModule(llvm::Module &module, llvm::TargetMachine &machine, const Options &options,
                                      std::vector<std::string> &linker) {
  auto type = options.emit == "asm" ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  // Assembly is one text: one thread.
  CodeGenPlan plan = planCodeGen(module, type == llvm::CodeGenFileType::AssemblyFile ? 1 : options.threads,
                                 options.optLevel);
  if (plan.parts > 1 && !options.shared) {
    const char *why = nullptr;
    if (!isHostTarget(machine))
      why = "objects for another machine are compiled as one";
    else if (linker = relocatableLinker(); linker.empty())
      why = "no linker found to combine objects (ld, $LD, cc or $CC); compiling on one thread";
    if (why) {
      if (options.threads > 1)
        llvm::errs() << "bpc: note: -j " << options.threads << ": " << why << '\n';
      plan.parts = 1;
    }
  }
  return compileObjects(
      module, machine, plan, [&] { return createTargetMachine(options.target, options.optLevel); },
      [&](llvm::Module &part, llvm::TargetMachine &partMachine) { return emitToBuffer(part, partMachine, type); });
}

} // namespace

llvm::Expected<EmittedFunctions> emittedFunctions(const Graph &graph, const Options &options,
                                                  const GradientSelection &selection) {
  EmittedFunctions functions;
  if (options.emitFunctions.empty())
    return functions;
  auto asked = [&](const char *name) { return llvm::is_contained(options.emitFunctions, name); };
  functions = {asked("gradient"), asked("jvp"), asked("vjp"), asked("hessian"), asked("hvp")};
  if (!functions.hessian && !functions.hvp)
    return functions;
  auto output = hessianOutput(graph, options, selection, functions.hessian ? "hessian" : "hvp");
  if (!output)
    return output.takeError();
  functions.hessianOutput = *output;
  return functions;
}

llvm::Expected<std::unique_ptr<llvm::Module>> generateFunctions(const Graph &graph, const EmittedFunctions &functions,
                                                                const GradientSelection &selection,
                                                                const std::string &prefix, llvm::LLVMContext &context,
                                                                bool &compiledGradient) {
  std::optional<GradientGraph> gradient;
  if (functions.gradient)
    gradient = gradientToCompile(graph, prefix, selection);
  compiledGradient = gradient.has_value();
  std::unique_ptr<llvm::Module> module = generateModule(graph, gradient ? &*gradient : nullptr, prefix, context);
  DerivativeFunctionSet derivatives{functions.jvp, functions.vjp, functions.hessian, functions.hvp,
                                    functions.hessianOutput};
  if (llvm::Error err = addDerivativeFunctions(*module, graph, derivatives, selection, gradient ? &*gradient : nullptr,
                                               prefix))
    return err;
  return module;
}

int buildCommand(const Options &options) {
  std::string prefix = options.name.empty() ? prefixFromPath(options.file) : options.name;
  if (!isCIdentifier(prefix))
    return reportError("--name '" + prefix + "' is not a valid C identifier", ExitUsage);

  std::string outputPath = options.output.empty() ? defaultOutputPath(options) : options.output;
  // A shared object is for loaders without the header: it comes with one only when --header asks.
  bool writeHeader = !options.shared || !options.header.empty();
  std::string headerPath = options.header;
  if (headerPath.empty() && writeHeader) {
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
    if (!path->empty() && sameFile(*path, options.file))
      return reportError("'" + *path + "' is the script '" + options.file + "'; bpc build does not overwrite it",
                         ExitUsage);
  if (writeHeader && sameFile(headerPath, outputPath))
    return reportError("the header '" + headerPath + "' and the output '" + outputPath + "' are the same file",
                       ExitUsage);

  auto functions = emittedFunctions(*graph, options, *selection);
  if (!functions)
    return reportError(llvm::toString(functions.takeError()), ExitUsage);

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

  llvm::LLVMContext context;
  bool compiledGradient = false;
  auto generated = generateFunctions(*graph, *functions, *selection, prefix, context, compiledGradient);
  if (!generated)
    return reportError(generated.takeError());
  std::unique_ptr<llvm::Module> module = std::move(*generated);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  if (trainStep)
    if (llvm::Error err = addTrainStep(*module, *graph, *trainStep, prefix))
      return reportError(std::move(err));
  bool metadata = options.shared || options.metadata;
  if (metadata)
    addMetadataFunctions(*module, *graph, prefix, *selection,
                         functionList(*functions, compiledGradient, trainStep.has_value()), options.shared);

  auto output = PendingFile::create(outputPath);
  if (!output)
    return reportError(output.takeError());
  std::optional<PendingFile> header;
  if (writeHeader) {
    auto created = PendingFile::create(headerPath);
    if (!created)
      return reportError(created.takeError());
    header.emplace(std::move(*created));
  }

  if (options.emit == "llvm") { // one module, as one text
    optimizeModule(*module, machine->get(), options.optLevel);
    module->print(output->stream(), nullptr);
  } else {
    std::vector<std::string> linker;
    auto objects = compileModule(*module, **machine, options, linker);
    if (!objects)
      return reportError(objects.takeError());
    llvm::Error err = llvm::Error::success();
    if (options.shared)
      err = writeLinked(*objects, "so", output->stream(), linkSharedObject);
    else if (objects->size() == 1)
      output->stream() << objects->front()->getBuffer();
    else
      err = writeLinked(*objects, "o", output->stream(),
                        [&](llvm::ArrayRef<std::string> files, const std::string &combined) {
                          return linkRelocatable(linker, files, combined);
                        });
    if (err)
      return reportError(std::move(err));
  }
  HeaderMetadata described = !metadata        ? HeaderMetadata::None
                              : options.shared ? HeaderMetadata::WithPrefix
                                               : HeaderMetadata::Functions;
  if (header)
    header->stream() << generateCHeader(*graph, prefix, llvm::sys::path::filename(options.file).str(),
                                        trainStep ? &*trainStep : nullptr, compiledGradient,
                                        options.selectsGradient() ? &*selection : nullptr, *functions, described);

  std::vector<PendingFile *> files = {&*output};
  if (header)
    files.push_back(&*header);
  if (llvm::Error err = PendingFile::commitAll(files))
    return reportError(std::move(err));
  return ExitSuccess;
}

} // namespace bpc
