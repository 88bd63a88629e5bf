//===- Target.h - Native objects and C headers for compiled scripts -*- C++ -*-===//
//
// What `bpc build` produces: machine code for any target LLVM supports (an object file, or assembly), and a C
// header describing the ABI of runtime/bp_model.h for one script: prototypes, sizes and index constants.
//
//===----------------------------------------------------------------------===//
#ifndef BP_TARGET_H
#define BP_TARGET_H

#include "bp/Graph.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace bp {

struct GradientSelection;
struct TrainStepSpec;

/// Writes `module` (already set up for `machine`'s triple and data layout) as an object file or assembly.
llvm::Error emitMachineCode(llvm::Module &module, llvm::TargetMachine &machine, llvm::CodeGenFileType type,
                            llvm::raw_pwrite_stream &os);

/// `module` (set up as for emitMachineCode) as an object file or assembly in memory.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> emitToBuffer(llvm::Module &module, llvm::TargetMachine &machine,
                                                                 llvm::CodeGenFileType type);

/// The command that combines relocatable objects into one, for objects of this machine's own architecture and
/// format: $LD (words split at spaces, as make does) where set, else `ld` on PATH, each with -r; else the C
/// compiler driver ($CC, else cc) with -r -nostdlib; empty if none of them is found.
std::vector<std::string> relocatableLinker();

/// Runs the link command `arguments` (`program`: arguments[0], found): an error, naming the command, if it
/// cannot run or exits with a status other than 0.
llvm::Error runLinker(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> arguments);

/// Combines `objects` into the one relocatable object `output` with `linker` (relocatableLinker()).
llvm::Error linkRelocatable(llvm::ArrayRef<std::string> linker, llvm::ArrayRef<std::string> objects,
                            const std::string &output);

/// Whether `machine` makes objects the system linker combines: this machine's own architecture, OS and format.
bool isHostTarget(const llvm::TargetMachine &machine);

/// The functions bpc build compiles beside PREFIX_forward (--emit-fn): PREFIX_gradient (unless it is not asked
/// for), and where asked PREFIX_jvp, PREFIX_vjp, PREFIX_hessian and PREFIX_hvp, the latter two of output
/// #hessianOutput (Graph::outputs), a scalar.
struct EmittedFunctions {
  bool gradient = true, jvp = false, vjp = false, hessian = false, hvp = false;
  size_t hessianOutput = 0;
};

/// Whether the object holds the functions that describe the model (CodeGen.h, addMetadataFunctions), and
/// bp_prefix() too (a shared object): the header declares them.
enum class HeaderMetadata { None, Functions, WithPrefix };

/// The C header for a script compiled with functions PREFIX_forward and PREFIX_gradient, and with
/// PREFIX_train_step where `trainStep` describes it (CodeGen.h, addTrainStep); without `gradient`, a script
/// whose gradient was too large to build, PREFIX_forward alone (and the train step). Each argument and output
/// gets a macro PREFIX_IN_NAME / PREFIX_OUT_NAME (where it starts in in[] / out[]), and each tensor among them
/// PREFIX_IN_NAME_SIZE, _RANK and _SHAPE too. With `selection` (bpc build --of/--wrt), PREFIX_gradient's grad
/// holds its rows and columns alone: PREFIX_GRAD_NUM_OUT rows of PREFIX_GRAD_NUM_IN, and each selected output and
/// argument's PREFIX_GRAD_OUT_NAME / PREFIX_GRAD_IN_NAME (its first row / column). `functions` says which
/// derivative functions the object holds (`gradient` false: PREFIX_gradient was asked for but is too large): each
/// is documented with its arrays' layouts, PREFIX_vjp's grad_in over the selection's columns (as PREFIX_gradient's
/// rows), PREFIX_hessian's hess and PREFIX_hvp's v and hv with PREFIX_HESS_SIZE and PREFIX_HESS_IN_NAME.
/// `metadata` adds the prototypes of the metadata functions.
std::string generateCHeader(const Graph &graph, const std::string &prefix, const std::string &scriptName,
                            const TrainStepSpec *trainStep = nullptr, bool gradient = true,
                            const GradientSelection *selection = nullptr, const EmittedFunctions &functions = {},
                            HeaderMetadata metadata = HeaderMetadata::None);

/// An error if two of the header's macros would have one name: a tensor W's PREFIX_IN_W_SIZE and an input
/// named W_SIZE.
llvm::Error checkCHeaderNames(const Graph &graph, const std::string &prefix);

/// True if `name` can be used as a C identifier (and so as a function prefix).
bool isCIdentifier(const std::string &name);

} // namespace bp

#endif // BP_TARGET_H
