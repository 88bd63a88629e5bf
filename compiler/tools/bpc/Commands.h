//===- Commands.h - bpc's subcommands ---------------------------*- C++ -*-===//
//
// Each subcommand is one function that takes its parsed options and returns the process's exit status:
// 0 success, 1 a diagnostic (bad script, bad value, failed check), 2 a usage error.
//
//===----------------------------------------------------------------------===//
#ifndef BPC_COMMANDS_H
#define BPC_COMMANDS_H

#include "bp/Autodiff.h"
#include "bp/Graph.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace bp {
struct CompileOptions;
struct DataSet;
struct EmittedFunctions;
struct TrainStepSpec;
} // namespace bp

namespace bpc {

enum ExitCode { ExitSuccess = 0, ExitFailure = 1, ExitUsage = 2 };

struct Options {
  std::string file;
  std::vector<std::string> sets; // --set NAME=VALUE, in the order given
  unsigned optLevel = 2;         // -O0 .. -O3
  unsigned threads = 0;          // run, gradcheck, build, train -j: threads for a large module (0: every core)
  bool dot = false;              // graph --dot
  bool values = false;           // graph --values: every node's value (with --grad, its adjoint too)
  std::string svg;               // graph --svg FILE: the DOT drawn by Graphviz's dot
  bool grad = false;             // graph --grad, run --grad
  bool json = false;             // run --json
  bool perRow = false;           // run --per-row: each row of --data, not the mean
  std::vector<std::string> vjps; // run --vjp OUT=SEED, in the order given
  std::vector<std::string> jvps; // run --jvp X=TANGENT,..., in the order given
  std::string hessian;           // run --hessian OUT: its Hessian by the arguments (--wrt)
  std::vector<std::string> hvps; // run --hvp OUT X=V,...: per --hvp OUT then its directions, in the order given
  double tolerance = 1e-6;       // gradcheck --tolerance
  size_t samples = 0;            // gradcheck --samples (0: every entry)
  std::string output;            // build -o
  std::string header;            // build --header
  std::string name;              // build --name: the C function prefix
  std::string target;            // build --target: an LLVM triple; empty for this machine
  std::string emit = "obj";      // build --emit: obj, asm or llvm
  std::vector<std::string> emitFunctions; // build, emit-llvm --emit-fn: gradient, jvp, vjp, hessian, hvp
  bool shared = false;           // build --shared: a shared object with the metadata functions and bp_prefix
  bool metadata = false;         // build --metadata: the metadata functions in a plain object
  bool trainStep = false;        // build --train-step: also PREFIX_train_step, with the train options below
  std::string objective;         // train (and build --train-step) --minimize/--maximize OUTPUT
  bool maximize = false;
  double rate = 0.01;            // train --rate
  size_t steps = 1;              // train --steps
  size_t epochs = 0;             // train --epochs (0: --steps counts the steps)
  std::string valid;             // train --valid FILE.csv: held-out rows
  size_t evalEvery = 0;          // train --eval-every K (0: every epoch with --epochs, else every tenth of the run)
  std::string vars;              // train --vars a,b,...
  bool varsGiven = false;
  std::string data;              // train and run --data FILE.csv
  std::vector<std::string> columns;       // --columns: the inputs a header-less data file's columns bind
  std::vector<std::string> ignoreColumns; // --ignore-columns: header columns to skip
  std::string optimizer = "sgd"; // train --optimizer
  size_t batch = 0;              // train --batch (0: every row)
  uint64_t seed = 0;             // run, gradcheck and train --seed: normal()/uniform() initializers; gradcheck:
                                 // the entries --samples draws; train: shuffling
  bool seedGiven = false;
  std::string save;              // train --save OUT.bp
  bool quiet = false;            // train --quiet
  bool strict = false;           // run, gradcheck --strict: exit 1 where a result is not finite
  bool traceNonFinite = false;   // run, train, gradcheck --trace-nonfinite: every non-finite node, in order
  std::vector<std::string> of;   // run, explain, gradcheck, build --of: the outputs to differentiate
  std::vector<std::string> wrt;  // ... --wrt: the inputs and params to differentiate by
  bool noCache = false;          // run, gradcheck, train --no-cache: compile, neither load nor store objects
  uint64_t cacheSize = 256;      // ... --cache-size: MiB the compile cache keeps at most
  std::string engine = "auto";   // run --engine: auto, interpreter or jit
  std::string cacheAction;       // cache info|clear

  /// Whether --of or --wrt chose part of the gradient.
  bool selectsGradient() const { return !of.empty() || !wrt.empty(); }
};

int checkCommand(const Options &options);
int graphCommand(const Options &options);
int emitLLVMCommand(const Options &options);
int runCommand(const Options &options);
int explainCommand(const Options &options);
int gradcheckCommand(const Options &options);
int buildCommand(const Options &options);
int trainCommand(const Options &options);
int cacheCommand(const Options &options);

/// Sets bp's default compile cache (CompileCache.h) for run, gradcheck and train from --no-cache and
/// --cache-size: CompileCache::defaultDirectory(), none with --no-cache or where no directory is known.
void configureCompileCache(const Options &options);

//===-- Shared by the subcommands (Driver.cpp) ----------------------------===//

/// Prints an error (a DiagnosticError in clang's form, anything else as "bpc: error: ...") and returns 1.
int reportError(llvm::Error error);

/// Prints "bpc: error: message" and returns `code`.
int reportError(const std::string &message, int code = ExitFailure);

/// Loads, parses and checks options.file (random initializers seeded by options.seed): bp::compileScriptFile.
llvm::Expected<bp::Graph> loadGraph(const Options &options);

/// How run, gradcheck and train JIT-compile the loaded graph with bp::Model::compile: at -O, with the gradient
/// of --of by --wrt when `gradient` is set, else the forward function alone.
bp::CompileOptions compileOptions(const Options &options, bool gradient);

/// The gradient graph (of `selection`) that build and emit-llvm compile beside the forward function; none where it is over
/// the size limit (a Jacobian of a large tensor output), after a warning at the output that takes it there:
/// then only PREFIX_forward is compiled.
std::optional<bp::GradientGraph> gradientToCompile(const bp::Graph &graph, const std::string &prefix,
                                                   const bp::GradientSelection &selection);

/// The functions --emit-fn asks for (build, emit-llvm; none given: PREFIX_gradient), with the output that
/// PREFIX_hessian and PREFIX_hvp differentiate: the one --of chooses, or the only scalar output; any other case
/// is an error (a usage error: exit 2).
llvm::Expected<bp::EmittedFunctions> emittedFunctions(const bp::Graph &graph, const Options &options,
                                                      const bp::GradientSelection &selection);
/// The module of build and emit-llvm: PREFIX_forward and the derivative functions of `functions`, PREFIX_gradient
/// where gradientToCompile gives it (then `compiledGradient` is set), or the error of a derivative graph.
llvm::Expected<std::unique_ptr<llvm::Module>> generateFunctions(const bp::Graph &graph,
                                                                const bp::EmittedFunctions &functions,
                                                                const bp::GradientSelection &selection,
                                                                const std::string &prefix, llvm::LLVMContext &context,
                                                                bool &compiledGradient);

/// The outputs and arguments that --of and --wrt choose, every one where an option is not given
/// (bp::selectGradient). An unknown name, one that is not an output (--of) or not an input or param (--wrt), and
/// a name given twice are errors whose message lists the valid names (usage errors: exit 2).
llvm::Expected<bp::GradientSelection> gradientSelection(const bp::Graph &graph, const Options &options);
/// The arguments' values, flat (Graph::argumentOffsets): defaults, overridden by --set (a number fills a
/// tensor; a nested list `[[1,2,3]]` gives one of exactly its shape). Inputs that `data` binds
/// (the columns of options.data) need no default and cannot be --set. Malformed --set options are usage
/// errors (exit 2); unknown names, names that are not inputs or params (aliases included) and inputs without
/// a value are diagnostics (exit 1). On failure the error has been printed and `exitCode` says which.
std::optional<std::vector<double>> bindArguments(const bp::Graph &graph, const Options &options, int &exitCode,
                                                 const bp::DataSet *data = nullptr);

/// A seed per output of run --vjp OUT=SEED: (the output's index, the seed's elements row-major, of the output's
/// shape: a number for a scalar output, a nested list of exactly its shape for a tensor one), in the order given.
/// Every error (malformed, an unknown output, a seed of another shape, an output given twice) is a usage error
/// (exit 2), printed; then `exitCode` says so.
std::optional<std::vector<std::pair<size_t, std::vector<double>>>> bindVjpSeeds(const bp::Graph &graph,
                                                                                const Options &options,
                                                                                int &exitCode);

/// The tangents of run --jvp X=TANGENT,Y=TANGENT (and the directions of --hvp OUT X=V,...): `lists`, each a
/// comma-separated list, flat in Graph::argumentOffsets layout: a number fills a tensor argument, a nested list
/// gives one of exactly its shape, and the arguments not named have tangent 0. Every error (malformed, not a
/// number, not an input or param, a tangent of another shape, a name given twice) is a usage error (exit 2) that
/// names `flag` ("--jvp") and shows `example` ("X=TANGENT, as in --jvp a=1,b=0") for a malformed pair, printed;
/// then `exitCode` says so.
std::optional<std::vector<double>> bindTangents(const bp::Graph &graph, llvm::ArrayRef<std::string> lists,
                                                const std::string &flag, const char *example, int &exitCode);

/// The training step of `train` and `build --train-step`, from --minimize/--maximize, --vars, --optimizer and
/// --rate, with the rows of --data (bound as --columns and --ignore-columns say, loaded into `data`); without
/// --data and --valid, a row binds the elements of the inputs --columns lists. On failure the error has been
/// printed and `exitCode` says which.
std::optional<bp::TrainStepSpec> trainStepSpec(const bp::Graph &graph, const Options &options,
                                               std::optional<bp::DataSet> &data, int &exitCode);

/// Every output's elements, flat (Graph::outputOffsets), from the interpreter, whose numbers are the ones
/// compiled code gives, bit for bit.
std::vector<double> interpretOutputs(const bp::Graph &graph, llvm::ArrayRef<double> in);

} // namespace bpc

#endif // BPC_COMMANDS_H
