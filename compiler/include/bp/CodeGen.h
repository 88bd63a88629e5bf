//===- CodeGen.h - Lowering graphs to LLVM IR -------------------*- C++ -*-===//
//
// One LLVM module per script with two functions over plain double arrays (the C ABI of runtime/bp_model.h):
//   void PREFIX_forward(const double *in, double *out);
//   void PREFIX_gradient(const double *in, double *out, double *grad);
// where asked (bpc build --emit-fn), derivative functions of other graphs:
//   void PREFIX_jvp(const double *in, const double *tangent_in, double *out, double *tangent_out);
//   void PREFIX_vjp(const double *in, const double *seed_out, double *out, double *grad_in);
//   void PREFIX_hessian(const double *in, double *out, double *hess);
//   void PREFIX_hvp(const double *in, const double *v, double *out, double *hv);
// and, for training, one more (TrainStep.cpp):
//   double PREFIX_train_step(double *in, double *state, const double *rows, long nrows);
// Each is one graph emitted by one mechanism (ArrayFunction): its leaves read from some arrays, its results
// stored to others.
// Floating point is emitted as written: no fast-math flags, no FMA contraction, so results are bit-identical
// to plain double arithmetic in the same order.
//
//===----------------------------------------------------------------------===//
#ifndef BP_CODEGEN_H
#define BP_CODEGEN_H

#include "bp/Autodiff.h"
#include "bp/Graph.h"
#include "bp/Optimizer.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Target/TargetMachine.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace bp {

/// What an op's lowering rule (Lowering.cpp) uses to emit its instructions.
class IRLowering {
public:
  IRLowering(llvm::IRBuilder<> &builder, llvm::Module &module) : builder(builder), module(module) {}

  llvm::IRBuilder<> &builder;

  llvm::Value *constant(double value);
  /// A call to an LLVM intrinsic over doubles (llvm.exp.f64, ...): lowered to libm or to an instruction.
  llvm::Value *intrinsic(llvm::Intrinsic::ID id, llvm::ArrayRef<llvm::Value *> operands);
  /// A call to the libm function `name` taking and returning doubles.
  llvm::Value *libm(const char *name, llvm::ArrayRef<llvm::Value *> operands);

private:
  llvm::Module &module;
};

/// The instructions that compute `op` (not a leaf) on `operands`, as its forward rule does on doubles.
llvm::Value *lowerOp(IRLowering &ir, OpKind op, llvm::ArrayRef<llvm::Value *> operands);

/// Builds the module holding PREFIX_forward and, when `gradient` is given, PREFIX_gradient (without it, the
/// module computes only the outputs and nothing is differentiated). Each argument and output takes
/// elementCount(shape) doubles of `in`/`out`, row-major; `grad` is row-major over [output elements][argument
/// elements], a tensor output's rows filled by a loop over its elements that runs its reverse sweep once per row;
/// a gradient graph built with a selection has only its rows and columns (GradientGraph::rowOffsets, columnOffsets).
std::unique_ptr<llvm::Module> generateModule(const Graph &forward, const GradientGraph *gradient,
                                             const std::string &prefix, llvm::LLVMContext &context);

/// Where a node's elements are in one of a generated function's arrays: `offset` doubles into parameter #array,
/// row-major.
struct ArrayPlace {
  NodeId node;
  unsigned array;
  size_t offset;
};

/// A generated function over arrays of doubles, `void name(const double *a, ..., double *b, ...)`: its
/// parameters' names (the first `readOnly` are read, the others written), the leaves it reads (every one the
/// results need: the graph's arguments, and leaves such as a tangent or a seed) and the results it stores.
struct ArrayFunction {
  std::vector<std::string> arrays;
  unsigned readOnly = 1;
  std::vector<ArrayPlace> reads, writes;
};

/// `graph`'s arguments as laid out in `in` (Graph::argumentOffsets) in array #array, and its outputs as laid out
/// in `out` (Graph::outputOffsets).
std::vector<ArrayPlace> argumentPlaces(const Graph &graph, unsigned array);
std::vector<ArrayPlace> outputPlaces(const Graph &graph, unsigned array);

/// Adds `function` of `graph` to `module` as `name`: the graph simplified (Simplify.h) for its results, every
/// node computed once, in node order, as PREFIX_forward is (which is one: in, out).
llvm::Function *emitArrayFunction(llvm::Module &module, const Graph &graph, const ArrayFunction &function,
                                  const std::string &name);

/// Adds `void name(const double *in, const double *tangent_in, double *out, double *tangent_out)`: the
/// outputs, and J t along tangent_in (laid out like in) to tangent_out (laid out like out), from `tangents`, the
/// tangent graph of `forward`, evaluated once (evaluateTangents).
llvm::Function *emitJvpFunction(llvm::Module &module, const Graph &forward, const TangentGraph &tangents,
                                const std::string &name);

/// Adds `void name(const double *in, const double *seed_out, double *out, double *grad_in)`: the outputs, and
/// SEED^T J of `gradient`'s selected outputs, seeds read from seed_out (laid out like out), by its selected
/// arguments (GradientGraph::columnOffsets), summed over the outputs in order. A tensor output's sweep is
/// evaluated once with its seed leaf read from seed_out; a scalar output's gradient is multiplied by its seed.
llvm::Function *emitVjpFunction(llvm::Module &module, const Graph &forward, const GradientGraph &gradient,
                                const std::string &name);

/// Adds `void name(const double *in, double *out, double *hess)`: `forward`'s outputs, and the Hessian that
/// `hessian` (buildHessianGraph of `forward`) gives as evaluateGradient's grad, a row-major square over the
/// chosen arguments' elements.
llvm::Function *emitHessianFunction(llvm::Module &module, const Graph &forward, const GradientGraph &hessian,
                                    const std::string &name);

/// Adds `void name(const double *in, const double *v, double *out, double *hv)`: `forward`'s outputs, and H v,
/// the Hessian of `hvp`'s output by its chosen arguments times v, by forward mode over reverse mode (the tangent
/// graph of the gradient, evaluated once, as evaluateHessianVector does); v and hv are laid out like a row of
/// emitHessianFunction's hess (the chosen arguments' elements end to end).
llvm::Function *emitHvpFunction(llvm::Module &module, const Graph &forward, const HessianVectorGraph &hvp,
                                const std::string &name);

/// Derivative functions beside PREFIX_forward and PREFIX_gradient (bpc build's --emit-fn, bp::Model's
/// CompileOptions::functions): PREFIX_jvp, PREFIX_vjp, and PREFIX_hessian and PREFIX_hvp of scalar output
/// #hessianOutput (Graph::outputs).
struct DerivativeFunctionSet {
  bool jvp = false, vjp = false, hessian = false, hvp = false;
  size_t hessianOutput = 0;
};

/// Builds the graphs of the functions `functions` names and adds them to `module` as PREFIX_jvp ... (PREFIX_vjp
/// from `gradient` where given, else from a gradient graph of `selection` built here; the Hessian's arguments
/// are `selection`'s). Fails with the error of a graph that cannot be built.
llvm::Error addDerivativeFunctions(llvm::Module &module, const Graph &graph, const DerivativeFunctionSet &functions,
                                   const GradientSelection &selection, const GradientGraph *gradient,
                                   const std::string &prefix);

/// Adds to `module` the gradient function `name` (void name(const double *in, double *out, double *grad)) of
/// `gradient`, the gradient graph of `forward`, as generateModule does for PREFIX_gradient.
llvm::Function *emitGradientFunction(llvm::Module &module, const Graph &forward, const GradientGraph &gradient,
                                     const std::string &name);

/// One training step of `bpc train`, as a function: what it trains, and how.
struct TrainStepSpec {
  size_t objective = 0; // the output trained (Graph::outputs() index), a number
  bool maximize = false;
  OptimizerKind optimizer = OptimizerKind::SGD;
  double rate = 0.01;
  std::vector<size_t> variables;       // the trained arguments (Graph::arguments() indices), every element of each
  std::vector<size_t> rowTargets;      // per number of a row: its place in `in` (DataSet::targets); none without data
  std::vector<std::string> rowColumns; // per number of a row: its column's name ("x[3]"), for the C header
  /// The rows of a step (bpc train's --batch), or 0: a step of exactly this many rows runs the batched
  /// gradient (Batch.h) where the script allows it, with the same results; any other count row by row.
  size_t batch = 0;
};

/// The trained elements of `spec`: positions in `in` (Graph::argumentOffsets), variable by variable.
std::vector<size_t> trainedElements(const Graph &graph, const TrainStepSpec &spec);

/// Adds `double PREFIX_train_step(double *in, double *state, const double *rows, long nrows)` to `module` (whose
/// target triple, if set, decides the width of `long`): for each of the nrows rows (`rows` row-major, each
/// spec.rowTargets.size() numbers) it binds the row in a private copy of `in`, evaluates the gradient of the
/// objective there and adds the trained elements' entries, and the objective, in row order from +0; it divides
/// both by nrows, negates the gradient to maximize, and moves the trained elements of `in` by the optimizer's
/// update (UpdateRules), whose state (optimizerStateSize doubles, zero before the first step) is `state`. It
/// returns the mean objective before the update. If the mean objective or a mean gradient is not finite (or
/// nrows < 1), nothing is changed and the result is not finite: the mean objective, or NaN where it is finite.
/// Fails with the gradient graph's diagnostic when it is too large (Autodiff.h).
llvm::Error addTrainStep(llvm::Module &module, const Graph &graph, const TrainStepSpec &spec,
                         const std::string &prefix);

/// Adds the functions that describe the compiled functions' arrays (bpc build --shared, --metadata), for a loader
/// without the C header; an index out of range gives NULL, or -1:
///   long PREFIX_num_args(void), PREFIX_num_outputs(void)     inputs and params; outputs
///   long PREFIX_in_size(void), PREFIX_out_size(void)         doubles in in[] and out[]
///   const char *PREFIX_arg_name(long i)                      argument #i (every input, then every param)
///   int PREFIX_arg_kind(long i)                              0 an input, 1 a param
///   long PREFIX_arg_rank(long i), PREFIX_arg_offset(long i)  its rank (0: a scalar); where it starts in in[]
///   const long *PREFIX_arg_shape(long i)                     its rank() dimensions
///   const char *PREFIX_out_name(long o), long PREFIX_out_rank(long o), PREFIX_out_offset(long o),
///   const long *PREFIX_out_shape(long o)                     the same for output #o and out[]
///   const double *PREFIX_defaults(void)                      in[] with the script's values (PREFIX_DEFAULTS)
///   const char *PREFIX_functions(void)                       `functions`: "forward,gradient,jvp"
///   long PREFIX_grad_rows(void), PREFIX_grad_cols(void)      grad[]'s layout (`selection`'s rows and columns)
///   long PREFIX_out_grad_row(long o), PREFIX_arg_grad_col(long i)  their first row / column; -1 if not chosen
///   const char *PREFIX_bp_version(void)                      the bp that compiled it
/// and with `exportPrefix`, `const char *bp_prefix(void)` returning PREFIX (one model per shared object). `long`
/// takes the width of the module's target triple (set it first).
void addMetadataFunctions(llvm::Module &module, const Graph &graph, const std::string &prefix,
                          const GradientSelection &selection, const std::string &functions, bool exportPrefix);

/// Above this many instructions a module counts as large: optimizeModule leaves out the SLP vectorizer, and
/// compileObjects compiles a large module of straight-line code quickly at -O1 and -O2 (-O0's pipeline, the
/// fast instruction selector and register allocator; -O3 stays as asked).
constexpr unsigned LargeModuleInstructions = 50000;

/// Whether `module`, asked for at -O`level`, is compiled quickly: a large module (over LargeModuleInstructions)
/// of straight-line code (no loops: a scalar script's parts) at -O1 or -O2 gets no LLVM optimization beyond -O0's
/// and the back end's fast instruction selector and register allocator (CodeGenOptLevel::None). bp's own graph
/// simplification has already folded, merged and dropped what LLVM's passes would. `bpc build` of bench's
/// dag-10^5 took 22 s at -O2 (8 s LLVM's pipeline, 11 s instruction selection, register allocation and
/// scheduling), 3 s this way, for a gradient 1.09x as long (half of gcc -O2's time on the same straight-line C);
/// dag-10^4's gradient runs at 0.92x of gcc's time (0.80-0.89x at full -O2). A module with loops (tensor code)
/// keeps the full pipeline, whose vectorizer they need, and -O3 always does. No floating-point operation changes
/// at any level. `instructions`: as optimizeModule's.
bool compilesQuickly(const llvm::Module &module, unsigned level,
                     std::optional<unsigned> instructions = std::nullopt);

/// Runs LLVM's default pipeline at -O`level` (0 to 3) over the module; `instructions` (default: the module's own
/// count) decides whether it counts as large, so that each part of a module cut by compileObjects is optimized
/// as the whole would be.
void optimizeModule(llvm::Module &module, llvm::TargetMachine *machine, unsigned level,
                    std::optional<unsigned> instructions = std::nullopt);

/// Below this many instructions a module is optimized and compiled on one thread, as one module: cutting it
/// costs more than the second thread saves. The environment variable BP_PARALLEL_THRESHOLD, for tests only,
/// replaces it, and then cuts modules that compile quickly too (tests/parallel, ParallelCodeGenTest cut scripts
/// of a few nodes).
constexpr unsigned ParallelInstructions = 20000;

/// The number of threads `requested` means: itself, or where it is 0 every core (hardware_concurrency).
unsigned codeGenThreads(unsigned requested);

/// How compileObjects compiles a module, decided once (planCodeGen) and passed on.
struct CodeGenPlan {
  unsigned level;        // -O`level`
  unsigned instructions; // the module's LLVM instructions
  bool quick;            // compilesQuickly
  /// The modules it is cut into: 1 (not cut) below the threshold (ParallelInstructions) or where it compiles
  /// quickly (cutting bench's dag-10^5 in two cost 1.3 s of CPU, all that the second thread saved of its 2.9 s),
  /// else one per ParallelInstructions, at most the threads and at most one per defined function. The objects
  /// differ with it, so it is part of a compile cache key.
  unsigned parts;
};

/// The plan for compiling `module` at -O`level` on `threads` threads (0: every core).
CodeGenPlan planCodeGen(const llvm::Module &module, unsigned threads, unsigned level);

/// A target machine for one thread of compileObjects (target machines are not shared between threads).
using TargetMachineFactory = std::function<llvm::Expected<std::unique_ptr<llvm::TargetMachine>>()>;
/// Compiles an optimized module to an object with the target machine given.
using ObjectEmitter =
    std::function<llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>(llvm::Module &, llvm::TargetMachine &)>;

/// Optimizes `module` (its triple and data layout set) as `plan` (planCodeGen, for this module) says and compiles
/// it into `plan.parts` objects; a large module of straight-line code compiles quickly at -O1 and -O2
/// (LargeModuleInstructions).
/// One part: `module` itself, optimized and emitted on this thread with `machine`, as a single module always was.
/// More: `module` is cut into that many modules, its functions spread over them by instruction count (local
/// symbols made hidden globals, named after the module so that two scripts' objects never share one), written
/// once as bitcode, which each thread reads lazily (its part's function bodies alone) into an LLVMContext of its
/// own, optimizes and emits with a machine from `factory`; `module` is left without function bodies. Each function is optimized and
/// compiled as it would be in the whole (the parts of a large graph are noinline functions, and no
/// floating-point operation changes), so results are bit for bit those of one module. The objects come in part
/// order; the first error of a part is returned.
llvm::Expected<std::vector<std::unique_ptr<llvm::MemoryBuffer>>>
compileObjects(llvm::Module &module, llvm::TargetMachine &machine, const CodeGenPlan &plan,
               const TargetMachineFactory &factory, const ObjectEmitter &emit);

/// Registers every LLVM target bp can generate code for (once per process).
void initializeTargets();

/// A target machine for `triple` (empty: the host), set up for exact floating point.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const std::string &triple,
                                                                         unsigned optLevel);

/// A valid C identifier made from a file stem: "my-net.bp" gives "my_net".
std::string prefixFromPath(const std::string &path);

} // namespace bp

#endif // BP_CODEGEN_H
