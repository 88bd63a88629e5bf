//===- TrainStep.cpp - bpc train's step as one generated function ----------===//
//
// PREFIX_train_step does what `bpc train` did around the gradient function, in the order it did it: per row,
// bind the row's numbers in a copy of `in`, call the objective's gradient function (an internal function of
// the module, which LLVM inlines into the loop; it computes only the trained variables' entries), add the
// objective and those entries; then the means, and the optimizer's update, which is Optimizer.h's UpdateRules
// emitted as IR. A row is bound by a copy per run of columns that bind consecutive elements, and the update
// loops over each run of consecutive trained elements, so the code's size follows the number of inputs and
// variables, not of elements.
//
// Where the script allows it (Batch.h), a step of exactly spec.batch rows (every step of `bpc train --data`) calls
// instead the gradient function of the batched graph, whose sums over the rows are the row loop's, bit for bit;
// a step of any other number of rows takes the row loop.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"

#include "bp/Batch.h"

#include "llvm/IR/Verifier.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <optional>

using namespace bp;

namespace {

/// UpdateRules' arithmetic as LLVM IR (no fast-math flags: each operation rounds as the C++ one does).
struct IRArithmetic {
  using Value = llvm::Value *;
  IRLowering &ir;

  Value constant(double c) { return ir.constant(c); }
  Value add(Value x, Value y) { return ir.builder.CreateFAdd(x, y); }
  Value sub(Value x, Value y) { return ir.builder.CreateFSub(x, y); }
  Value mul(Value x, Value y) { return ir.builder.CreateFMul(x, y); }
  Value div(Value x, Value y) { return ir.builder.CreateFDiv(x, y); }
  Value sqrt(Value x) { return ir.intrinsic(llvm::Intrinsic::sqrt, {x}); }
  Value pow(Value x, Value y) { return ir.intrinsic(llvm::Intrinsic::pow, {x, y}); }
};

/// `length` consecutive doubles: from `from` in one array to `to` in another.
struct Run {
  size_t from, to, length;
};

/// Pairs (from[i], i) grouped into runs where both sides are consecutive.
std::vector<Run> runsOf(llvm::ArrayRef<size_t> from) {
  std::vector<Run> runs;
  for (size_t i = 0; i < from.size(); ++i) {
    if (!runs.empty() && runs.back().from + runs.back().length == from[i])
      ++runs.back().length;
    else
      runs.push_back({from[i], i, 1});
  }
  return runs;
}

/// The batched gradient function of a step of spec.batch rows (Batch.h), and where its `in` takes each value.
struct BatchedStep {
  llvm::Function *gradient;
  std::vector<Run> unbound; // from `in` to the batched `in`: the arguments no row binds
  struct Column {
    size_t column, to, length, stride; // `length` columns from `column` on go to `to` + row * stride on
  };
  std::vector<Column> columns;
  size_t size; // doubles of the batched `in`
};

/// The layout of the batched `in` of `batched` against the per-row `in` of `graph`.
BatchedStep batchedLayout(const Graph &graph, const BatchedObjective &batched, const TrainStepSpec &spec) {
  BatchedStep step{nullptr, {}, {}, 0};
  std::vector<size_t> offsets = graph.argumentOffsets(), wide = batched.graph.argumentOffsets();
  step.size = wide.back();
  for (size_t a = 0; a + 1 < offsets.size(); ++a)
    for (size_t e = offsets[a]; !batched.batched[a] && e < offsets[a + 1]; ++e) {
      size_t place = wide[a] + e - offsets[a];
      if (!step.unbound.empty() && step.unbound.back().from + step.unbound.back().length == e &&
          step.unbound.back().to + step.unbound.back().length == place)
        ++step.unbound.back().length;
      else
        step.unbound.push_back({e, place, 1});
    }
  for (size_t c = 0; c < spec.rowTargets.size(); ++c) {
    size_t target = spec.rowTargets[c];
    size_t a = static_cast<size_t>(std::upper_bound(offsets.begin(), offsets.end(), target) - offsets.begin()) - 1;
    size_t place = wide[a] + target - offsets[a], stride = offsets[a + 1] - offsets[a];
    BatchedStep::Column *last = step.columns.empty() ? nullptr : &step.columns.back();
    if (last && last->column + last->length == c && last->to + last->length == place && place > wide[a])
      ++last->length;
    else
      step.columns.push_back({c, place, 1, stride});
  }
  return step;
}

class TrainStepEmitter {
public:
  static constexpr uint64_t WorkspaceStackBytes = 64 * 1024; // as the other functions' workspaces

  TrainStepEmitter(llvm::Module &module, const Graph &graph, const TrainStepSpec &spec)
      : module(module), spec(spec), builder(module.getContext()), ir(builder, module),
        argumentCount(graph.argumentOffsets().back()), elements(trainedElements(graph, spec)) {}

  void emit(const std::string &name, llvm::Function *gradient, const std::optional<BatchedStep> &batched);

private:
  llvm::Value *element(llvm::Value *base, llvm::Value *index) {
    return builder.CreateInBoundsGEP(builder.getDoubleTy(), base, index);
  }
  llvm::Value *element(llvm::Value *base, size_t index) { return element(base, builder.getInt64(index)); }
  llvm::Value *load(llvm::Value *base, llvm::Value *index) {
    return builder.CreateLoad(builder.getDoubleTy(), element(base, index));
  }
  void store(llvm::Value *value, llvm::Value *base, llvm::Value *index) {
    builder.CreateStore(value, element(base, index));
  }
  llvm::Value *isFinite(llvm::Value *x) { // |x| < inf: false for infinities and NaN
    return builder.CreateFCmpOLT(ir.intrinsic(llvm::Intrinsic::fabs, {x}),
                                 ir.constant(std::numeric_limits<double>::infinity()));
  }
  /// `for (i = 0; i < count; ++i) body(i)`: no iteration where count < 1.
  void loop(llvm::Value *count, llvm::function_ref<void(llvm::Value *i)> body);
  /// body(run.from + i, run.to + i) for each i < run.length.
  void loopOver(const Run &run, llvm::function_ref<void(llvm::Value *from, llvm::Value *to)> body);
  /// The optimizer's update of the trained elements of `in` by the mean gradient `mean`.
  void emitUpdate(llvm::Value *in, llvm::Value *state, llvm::Value *mean);
  /// The sums of a step of exactly spec.batch rows by the batched gradient function, its `in` at `wide`.
  void emitBatched(const BatchedStep &batched, llvm::Value *in, llvm::Value *rows, llvm::Value *wide,
                   llvm::Value *lossSlot, llvm::Value *sums);

  llvm::Module &module;
  const TrainStepSpec &spec;
  llvm::IRBuilder<> builder;
  IRLowering ir;
  size_t argumentCount;        // doubles of `in`
  std::vector<size_t> elements; // the trained elements' places in `in`
};

void TrainStepEmitter::loop(llvm::Value *count, llvm::function_ref<void(llvm::Value *i)> body) {
  llvm::LLVMContext &context = module.getContext();
  llvm::BasicBlock *before = builder.GetInsertBlock();
  llvm::Function *function = before->getParent();
  auto *header = llvm::BasicBlock::Create(context, "loop", function);
  auto *exit = llvm::BasicBlock::Create(context, "loop.end", function);
  builder.CreateCondBr(builder.CreateICmpSGT(count, builder.getInt64(0)), header, exit);
  builder.SetInsertPoint(header);
  llvm::PHINode *i = builder.CreatePHI(builder.getInt64Ty(), 2, "i");
  i->addIncoming(builder.getInt64(0), before);
  body(i);
  llvm::Value *next = builder.CreateAdd(i, builder.getInt64(1), "i.next", /*HasNUW=*/true, /*HasNSW=*/true);
  i->addIncoming(next, builder.GetInsertBlock());
  builder.CreateCondBr(builder.CreateICmpSLT(next, count), header, exit);
  exit->moveAfter(builder.GetInsertBlock());
  builder.SetInsertPoint(exit);
}

void TrainStepEmitter::loopOver(const Run &run, llvm::function_ref<void(llvm::Value *from, llvm::Value *to)> body) {
  loop(builder.getInt64(run.length), [&](llvm::Value *i) {
    body(builder.CreateAdd(i, builder.getInt64(run.from), "", true, true),
         builder.CreateAdd(i, builder.getInt64(run.to), "", true, true));
  });
}

void TrainStepEmitter::emitUpdate(llvm::Value *in, llvm::Value *state, llvm::Value *mean) {
  IRArithmetic a{ir};
  size_t count = elements.size();
  std::pair<llvm::Value *, llvm::Value *> corrections;
  if (spec.optimizer == OptimizerKind::Adam) { // the step count, after the moments
    llvm::Value *steps = element(state, 2 * count);
    llvm::Value *t = builder.CreateFAdd(builder.CreateLoad(builder.getDoubleTy(), steps), ir.constant(1), "t");
    builder.CreateStore(t, steps);
    corrections = UpdateRules::adamCorrections(a, t);
  }
  llvm::Value *squares = element(state, count); // adam's second moments
  for (const Run &run : runsOf(elements)) {
    loopOver(run, [&](llvm::Value *at, llvm::Value *e) {
      llvm::Value *value = load(in, at), *gradient = load(mean, e), *updated = nullptr;
      switch (spec.optimizer) {
      case OptimizerKind::SGD:
        updated = UpdateRules::sgd(a, spec.rate, value, gradient);
        break;
      case OptimizerKind::Momentum: {
        llvm::Value *velocity = load(state, e);
        updated = UpdateRules::momentum(a, spec.rate, value, gradient, velocity);
        store(velocity, state, e);
        break;
      }
      case OptimizerKind::Adam: {
        llvm::Value *moment = load(state, e), *square = load(squares, e);
        updated = UpdateRules::adam(a, spec.rate, corrections, value, gradient, moment, square);
        store(moment, state, e);
        store(square, squares, e);
        break;
      }
      }
      store(updated, in, at);
    });
  }
}

void TrainStepEmitter::emitBatched(const BatchedStep &batched, llvm::Value *in, llvm::Value *rows, llvm::Value *wide,
                                   llvm::Value *lossSlot, llvm::Value *sums) {
  for (const Run &run : batched.unbound)
    builder.CreateMemCpy(element(wide, run.to), llvm::MaybeAlign(8), element(in, run.from), llvm::MaybeAlign(8),
                         run.length * sizeof(double));
  size_t columns = spec.rowTargets.size();
  loop(builder.getInt64(static_cast<int64_t>(spec.batch)), [&](llvm::Value *r) {
    llvm::Value *row = builder.CreateInBoundsGEP(builder.getDoubleTy(), rows,
                                                 builder.CreateMul(r, builder.getInt64(columns), "", true, true));
    for (const BatchedStep::Column &column : batched.columns) {
      llvm::Value *to = builder.CreateAdd(builder.CreateMul(r, builder.getInt64(column.stride), "", true, true),
                                          builder.getInt64(column.to), "", true, true);
      builder.CreateMemCpy(element(wide, to), llvm::MaybeAlign(8), element(row, column.column), llvm::MaybeAlign(8),
                           column.length * sizeof(double));
    }
  });
  builder.CreateCall(batched.gradient, {wide, lossSlot, sums});
}

void TrainStepEmitter::emit(const std::string &name, llvm::Function *gradient,
                            const std::optional<BatchedStep> &batched) {
  llvm::LLVMContext &context = module.getContext();
  // `long` is 32 bits on Windows and on 32-bit targets.
  llvm::Triple triple(module.getTargetTriple().empty() ? llvm::sys::getDefaultTargetTriple()
                                                       : module.getTargetTriple());
  llvm::Type *longType = triple.isOSWindows() || !triple.isArch64Bit() ? builder.getInt32Ty() : builder.getInt64Ty();
  llvm::Type *ptr = builder.getPtrTy();
  auto *type = llvm::FunctionType::get(builder.getDoubleTy(), {ptr, ptr, ptr, longType}, false);
  auto *function = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module);
  function->setDoesNotThrow();
  const char *argNames[] = {"in", "state", "rows", "nrows"};
  for (unsigned i = 0; i < function->arg_size(); ++i)
    function->getArg(i)->setName(argNames[i]);
  for (unsigned i = 0; i < 3; ++i) {
    function->addParamAttr(i, llvm::Attribute::NoCapture);
    function->addParamAttr(i, llvm::Attribute::NoAlias);
  }
  function->addParamAttr(2, llvm::Attribute::ReadOnly);
  llvm::Value *in = function->getArg(0), *state = function->getArg(1), *rows = function->getArg(2);
  builder.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", function));
  llvm::Value *rowCount = builder.CreateSExt(function->getArg(3), builder.getInt64Ty(), "n");

  // The workspace: the copy of `in` each row is bound in, the gradient function's `out` and `grad` (the
  // trained elements' entries), and their sums (then their means).
  size_t count = elements.size();
  uint64_t doubles = argumentCount + 1 + 2 * count + (batched ? batched->size : 0), bytes = doubles * sizeof(double);
  llvm::Value *workspace;
  if (bytes <= WorkspaceStackBytes) {
    auto *alloca = builder.CreateAlloca(llvm::ArrayType::get(builder.getDoubleTy(), doubles), nullptr, "workspace");
    alloca->setAlignment(llvm::Align(16));
    workspace = alloca;
  } else {
    llvm::FunctionCallee malloc = module.getOrInsertFunction(
        "malloc", llvm::FunctionType::get(ptr, {builder.getInt64Ty()}, false));
    workspace = builder.CreateCall(malloc, {builder.getInt64(bytes)}, "workspace");
  }
  llvm::Value *bound = workspace, *out = element(workspace, argumentCount);
  llvm::Value *grad = element(workspace, argumentCount + 1), *sums = element(workspace, argumentCount + 1 + count);
  llvm::Value *lossSlot = builder.CreateAlloca(builder.getDoubleTy(), nullptr, "loss.sum");
  llvm::Value *finiteSlot = builder.CreateAlloca(builder.getInt1Ty(), nullptr, "finite");
  if (count)
    builder.CreateMemSet(sums, builder.getInt8(0), count * sizeof(double), llvm::MaybeAlign(8));
  builder.CreateStore(ir.constant(0), lossSlot);

  // A step of spec.batch rows runs the batched gradient function, which sums the same numbers in the same order.
  llvm::BasicBlock *summed = nullptr;
  if (batched) {
    auto *wholeBatch = llvm::BasicBlock::Create(context, "batched", function);
    auto *rowByRow = llvm::BasicBlock::Create(context, "rows", function);
    summed = llvm::BasicBlock::Create(context, "summed", function);
    builder.CreateCondBr(builder.CreateICmpEQ(rowCount, builder.getInt64(static_cast<int64_t>(spec.batch))),
                         wholeBatch, rowByRow);
    builder.SetInsertPoint(wholeBatch);
    emitBatched(*batched, in, rows, element(workspace, argumentCount + 1 + 2 * count), lossSlot, sums);
    builder.CreateBr(summed);
    builder.SetInsertPoint(rowByRow);
  }
  builder.CreateMemCpy(bound, llvm::MaybeAlign(8), in, llvm::MaybeAlign(8), argumentCount * sizeof(double));

  // Each row: bind it, take the gradient, add the objective and the trained elements' entries.
  size_t columns = spec.rowTargets.size();
  std::vector<Run> columnRuns = runsOf(spec.rowTargets);
  loop(rowCount, [&](llvm::Value *r) {
    llvm::Value *row = builder.CreateInBoundsGEP(builder.getDoubleTy(), rows,
                                                 builder.CreateMul(r, builder.getInt64(columns), "", true, true));
    for (const Run &run : columnRuns) // from: the place in `in`; to: the column
      builder.CreateMemCpy(element(bound, run.from), llvm::MaybeAlign(8), element(row, run.to), llvm::MaybeAlign(8),
                           run.length * sizeof(double));
    builder.CreateCall(gradient, {bound, out, grad});
    builder.CreateStore(builder.CreateFAdd(builder.CreateLoad(builder.getDoubleTy(), lossSlot),
                                           builder.CreateLoad(builder.getDoubleTy(), out)),
                        lossSlot);
    loop(builder.getInt64(count),
         [&](llvm::Value *e) { store(builder.CreateFAdd(load(sums, e), load(grad, e)), sums, e); });
  });

  if (summed) {
    builder.CreateBr(summed);
    summed->moveAfter(builder.GetInsertBlock());
    builder.SetInsertPoint(summed);
  }

  // The means (the gradient negated to maximize: optimizers minimize), and whether all are finite.
  llvm::Value *n = builder.CreateSIToFP(rowCount, builder.getDoubleTy());
  llvm::Value *loss = builder.CreateFDiv(builder.CreateLoad(builder.getDoubleTy(), lossSlot), n, "loss");
  builder.CreateStore(isFinite(loss), finiteSlot);
  llvm::Value *direction = ir.constant(spec.maximize ? -1.0 : 1.0);
  loop(builder.getInt64(count), [&](llvm::Value *e) {
    llvm::Value *mean = builder.CreateFMul(direction, builder.CreateFDiv(load(sums, e), n));
    store(mean, sums, e);
    builder.CreateStore(builder.CreateAnd(builder.CreateLoad(builder.getInt1Ty(), finiteSlot), isFinite(mean)),
                        finiteSlot);
  });
  llvm::BasicBlock *checked = builder.GetInsertBlock();
  auto *update = llvm::BasicBlock::Create(context, "update", function);
  auto *done = llvm::BasicBlock::Create(context, "done", function);
  // Nothing moves where a mean is not finite: the result is the mean objective, or NaN where it is finite.
  llvm::Value *nan = ir.constant(std::numeric_limits<double>::quiet_NaN());
  llvm::Value *failed = builder.CreateSelect(isFinite(loss), nan, loss);
  builder.CreateCondBr(builder.CreateLoad(builder.getInt1Ty(), finiteSlot), update, done);
  builder.SetInsertPoint(update);
  emitUpdate(in, state, sums);
  llvm::BasicBlock *updated = builder.GetInsertBlock();
  builder.CreateBr(done);
  done->moveAfter(updated);
  builder.SetInsertPoint(done);
  llvm::PHINode *result = builder.CreatePHI(builder.getDoubleTy(), 2, "result");
  result->addIncoming(failed, checked);
  result->addIncoming(loss, updated);
  if (bytes > WorkspaceStackBytes) {
    llvm::FunctionCallee free =
        module.getOrInsertFunction("free", llvm::FunctionType::get(builder.getVoidTy(), {ptr}, false));
    builder.CreateCall(free, {workspace});
  }
  builder.CreateRet(result);
}

/// The gradient function `name` of `objective`'s one output, internal to the module, computing only the trained
/// variables' entries, in spec.variables order: its `grad` holds the trained elements as trainedElements lists
/// them, and what only other arguments' entries need is not computed.
llvm::Expected<llvm::Function *> emitTrainedGradient(llvm::Module &module, const Graph &objective,
                                                      const TrainStepSpec &spec, const std::string &name) {
  auto gradientGraph = buildGradientGraph(objective);
  if (!gradientGraph)
    return gradientGraph.takeError();
  ReverseSweep &sweep = gradientGraph->sweeps.front();
  std::vector<NodeId> entries;
  for (size_t v : spec.variables)
    entries.push_back(sweep.gradient[v]);
  sweep.gradient = std::move(entries);
  llvm::Function *gradient = emitGradientFunction(module, objective, *gradientGraph, name);
  gradient->setLinkage(llvm::GlobalValue::InternalLinkage);
  return gradient;
}

} // namespace

std::vector<size_t> bp::trainedElements(const Graph &graph, const TrainStepSpec &spec) {
  std::vector<size_t> offsets = graph.argumentOffsets(), elements;
  for (size_t v : spec.variables)
    for (size_t i = offsets[v]; i < offsets[v + 1]; ++i)
      elements.push_back(i);
  return elements;
}

llvm::Error bp::addTrainStep(llvm::Module &module, const Graph &graph, const TrainStepSpec &spec,
                             const std::string &prefix) {
  assert(spec.objective < graph.outputs().size() && graph.node(graph.outputs()[spec.objective].node).type.isScalar() &&
         "the objective is an output that is a number");
  Graph objective = graph;
  objective.keepOnlyOutput(spec.objective);
  auto gradient = emitTrainedGradient(module, objective, spec, prefix + "_train_step.gradient");
  if (!gradient)
    return gradient.takeError();
  std::optional<BatchedStep> batched;
  if (std::optional<BatchedObjective> wide = batchObjective(objective, 0, spec.rowTargets, spec.variables,
                                                            static_cast<int64_t>(spec.batch))) {
    // Past the gradient size limit the rows go one by one, as without a batched graph.
    auto wideGradient = emitTrainedGradient(module, wide->graph, spec, prefix + "_train_step.batched");
    if (wideGradient) {
      batched = batchedLayout(graph, *wide, spec);
      batched->gradient = *wideGradient;
    } else {
      llvm::consumeError(wideGradient.takeError());
    }
  }
  TrainStepEmitter(module, graph, spec).emit(prefix + "_train_step", *gradient, batched);
  assert(!llvm::verifyModule(module, &llvm::errs()) && "generated module is malformed");
  return llvm::Error::success();
}
