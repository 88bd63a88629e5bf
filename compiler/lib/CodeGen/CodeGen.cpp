//===- CodeGen.cpp - Graphs to LLVM IR, optimization, target machines -----===//
//
// Emits each graph as one function: load the arguments, apply each op's lowering rule (Lowering.cpp) in node
// order, store the results. A graph of scalars is straight-line code. A tensor node is a buffer of doubles and
// its op a loop nest over its result (TensorLowering.cpp); the scalar ops inside the loops are the same rules.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"
#include "TensorLowering.h"
#include "bp/Simplify.h"

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/IR/PassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <mutex>
#include <optional>

using namespace bp;

namespace {

/// One output's rows of the gradient function's `grad` (or of any function's array of rows, Signature::rows):
/// its gradient per argument (Graph::arguments order), stored at row `row` (the output's first element in `out`),
/// row-major [output elements][argument elements].
/// A tensor output (`seed` set) has a row per element: a loop over them sets the seed one-hot and evaluates the
/// sweep's `seeded` nodes (GradientGraph::seededNodes) for each row.
struct JacobianRows {
  size_t row;
  NodeId seed;
  std::vector<NodeId> seeded;
  std::vector<NodeId> entries;
};

/// What an emitted function takes and does: the arrays of an ArrayFunction (its leaves read from them, its
/// results stored to them), and, for a gradient function, the Jacobian's rows, stored to array `rowsArray`
/// (each row `rowSize` doubles).
struct Signature {
  const ArrayFunction &arrays;
  const std::vector<JacobianRows> *rows = nullptr;
  unsigned rowsArray = 0;
  size_t rowSize = 0;
};

/// Emits one graph as `void name(const double *in, ..., double *out, ...)` (Signature): loads the leaves,
/// applies each needed node's lowering rule in node order, and stores the results and the gradient entries (to
/// the rows' array, row-major). Every node is computed once, but the nodes that depend on a tensor output's seed:
/// they make the body of that output's loop over its rows ("segments": 0, what is computed once, then one per
/// loop).
///
/// Tensors: each tensor node has a Location, fixed before any code is emitted: a leaf's elements in the array it
/// is read from, a constant's private global, a literal index's run of its operand's elements (no copy), a
/// result's elements in the array it is stored to (computed there; a second store of it is a copy; never the
/// rows' array, whose place moves with the row), or else its own buffer in the
/// workspace, one block of doubles for the whole function: an alloca up to WorkspaceStackBytes, else malloc'd
/// and freed around the body, so functions stay reentrant. A tensor's location is the same in every part, so
/// tensors never go through the frame; scalar results of tensor ops (sum(x)) are values like any other.
///
/// A large graph is cut into parts of at most PartSize nodes and PartStores result stores, each an internal
/// noinline function; values that one part computes and a later part uses travel through a stack array (the
/// "frame"). Code generation time grows faster than linearly with the size of one basic block (register
/// allocation, and the instruction schedulers' dependences between stores), so parts keep the compile time of
/// big scripts, and of scripts with many results, linear, at the price of a load and a store per value that
/// crosses a cut. A call ends a scheduling region too, but a reverse sweep has long runs without one: with parts
/// of 2,000 nodes, the back end spent 7 s of `llc -O2` on the gradient of bench's 9,231-node 2-32-32-1 MLP (the
/// post-RA scheduler 3.6 s of it), with 250, 1.7 s; run time stayed within noise (gradient 0.88x of gcc's C
/// against 0.84x; mlp-64 0.91x against 0.97x).
class FunctionEmitter {
public:
  static constexpr size_t PartSize = 250;
  static constexpr size_t PartStores = 250;
  static constexpr uint64_t WorkspaceStackBytes = 64 * 1024;

  FunctionEmitter(llvm::Module &module, const Graph &graph, const Signature &signature)
      : module(module), graph(graph), builder(module.getContext()), ir(builder, module), signature(signature),
        rowsArray(signature.rows ? signature.rowsArray : NoArray), source(graph.size()), stores(graph.size()),
        slot(graph.size(), -1), values(graph.size(), nullptr), locations(graph.size()) {
    for (const ArrayPlace &read : signature.arrays.reads)
      source[read.node] = {Location::Array, static_cast<int64_t>(read.offset), InvalidNode, read.array};
  }

  void emit(const std::string &name);

private:
  static constexpr unsigned NoArray = ~0u;
  struct Store {
    unsigned pointer; // the array: a parameter of the function (rowsArray: in a loop, the row's first element)
    size_t index;     // the first element
    uint32_t segment; // where it is stored: 0, or in the loop of segment #segment
  };
  /// Where a tensor node's elements are: `offset` doubles into `base`.
  struct Location {
    enum Base { None, Array, Global, Workspace } base = None;
    int64_t offset = 0;
    NodeId global = InvalidNode; // Global: the constant node whose data it holds
    unsigned array = NoArray;    // Array: the parameter
  };
  /// A unit of emission: node `id`'s stores [firstStore, endStore), and its value first if `computes`. A node
  /// stored more than PartStores times (a constant 0 filling a Jacobian) takes several steps.
  struct Step {
    NodeId id;
    bool computes;
    size_t firstStore, endStore;
  };

  bool isLeaf(NodeId id) const { return graph.node(id).operands.empty(); }
  bool isTensor(NodeId id) const { return !graph.node(id).type.isScalar(); }
  llvm::Value *element(llvm::Value *base, size_t index) {
    return builder.CreateConstInBoundsGEP1_64(builder.getDoubleTy(), base, index);
  }
  llvm::Value *valueOf(NodeId id, llvm::Function *function, llvm::Value *frame);
  /// Emits `steps` into `function`; stores to grad go to `grad` (the function's, or a row of it in a loop).
  void emitSteps(llvm::Function *function, llvm::Value *frame, llvm::Value *grad, llvm::ArrayRef<Step> steps);
  /// Each segment's steps: every operation it computes or stores in node order, then the leaves it stores.
  std::vector<std::vector<Step>> stepsBySegment(const std::vector<bool> &needed,
                                                const std::vector<uint32_t> &segmentOf, size_t segments) const;
  /// Emits a tensor output's loop over its rows in the function being emitted: before it, its seed's elements
  /// are set to 0; each iteration sets element `e` to 1, calls body(row) with `row` its first element of grad,
  /// and sets it back to 0.
  void emitRows(llvm::Function *function, const JacobianRows &rows, llvm::function_ref<void(llvm::Value *row)> body);
  /// Forgets the values made since touched.size() was `mark` (in a loop's body: they do not dominate what follows).
  void forgetValuesSince(size_t mark);
  /// Sets every needed tensor node's location; returns the workspace's size in doubles.
  int64_t placeTensors(const std::vector<bool> &needed);
  llvm::Value *pointerTo(const Location &location, llvm::Function *function);
  /// Allocates the workspace in the function's entry (for `size` doubles); freeWorkspace before its return.
  void allocateWorkspace(int64_t size);
  void freeWorkspace(int64_t size);
  void clearValues();
  /// Where each part begins in `steps`, then steps.size().
  std::vector<size_t> cutIntoParts(const std::vector<Step> &steps) const;

  llvm::Module &module;
  const Graph &graph;
  llvm::IRBuilder<> builder;
  IRLowering ir;
  const Signature &signature;
  unsigned rowsArray;                      // the array of the Jacobian's rows, or NoArray
  std::vector<Location> source;            // per leaf read from an array: where (base None: not read)
  std::vector<std::vector<Store>> stores;  // per node: where it is stored as a result
  std::vector<int> slot;                   // per node: its frame slot, or -1 if it never crosses a cut
  std::vector<llvm::Value *> values;       // per node: its value in the function being emitted
  std::vector<NodeId> touched;             // nodes with an entry in `values`
  std::vector<Location> locations;         // per tensor node
  std::vector<llvm::GlobalVariable *> globals; // per constant tensor node, once emitted
  llvm::Value *workspace = nullptr;        // in the function being emitted
};

llvm::Value *FunctionEmitter::valueOf(NodeId id, llvm::Function *function, llvm::Value *frame) {
  if (values[id])
    return values[id];
  const Node &node = graph.node(id);
  llvm::Value *value;
  if (isTensor(id)) {
    value = pointerTo(locations[id], function);
  } else if (node.op == OpKind::Const) {
    value = ir.constant(node.value);
  } else if (source[id].base == Location::Array) {
    value = builder.CreateLoad(builder.getDoubleTy(), element(function->getArg(source[id].array), source[id].offset),
                               node.name);
  } else {
    assert(slot[id] >= 0 && frame && "a value from an earlier part must have a frame slot");
    value = builder.CreateLoad(builder.getDoubleTy(), element(frame, slot[id]), node.name);
  }
  values[id] = value;
  touched.push_back(id);
  return value;
}

void FunctionEmitter::emitSteps(llvm::Function *function, llvm::Value *frame, llvm::Value *grad,
                                llvm::ArrayRef<Step> steps) {
  llvm::SmallVector<llvm::Value *, 2> operands;
  for (const Step &step : steps) {
    if (step.computes) {
      const Node &node = graph.node(step.id);
      operands.clear();
      for (NodeId operand : node.operands)
        operands.push_back(valueOf(operand, function, frame));
      llvm::Value *value;
      if (isTensor(step.id) || isTensorOp(node.op)) {
        llvm::Value *result = isTensor(step.id) ? valueOf(step.id, function, frame) : nullptr;
        value = lowerTensorOp(ir, graph, step.id, operands, result);
      } else {
        value = lowerOp(ir, node.op, operands);
      }
      if (!node.name.empty() && !isTensor(step.id) && !llvm::isa<llvm::Constant>(value))
        value->setName(node.name);
      values[step.id] = value;
      touched.push_back(step.id);
      if (slot[step.id] >= 0)
        builder.CreateStore(value, element(frame, slot[step.id]));
    }
    llvm::Value *value = valueOf(step.id, function, frame);
    for (size_t i = step.firstStore; i < step.endStore; ++i) {
      const Store &store = stores[step.id][i];
      llvm::Value *base = store.pointer == rowsArray ? grad : function->getArg(store.pointer);
      if (!isTensor(step.id)) {
        builder.CreateStore(value, element(base, store.index));
        continue;
      }
      const Location &location = locations[step.id];
      if (location.base == Location::Array && location.array == store.pointer && store.pointer != rowsArray &&
          location.offset == int64_t(store.index))
        continue; // computed in place
      uint64_t bytes = uint64_t(elementCount(graph.node(step.id).type.shape)) * sizeof(double);
      builder.CreateMemCpy(element(base, store.index), llvm::MaybeAlign(8), value, llvm::MaybeAlign(8), bytes);
    }
  }
}

void FunctionEmitter::clearValues() { forgetValuesSince(0); }

void FunctionEmitter::forgetValuesSince(size_t mark) {
  for (size_t i = mark; i < touched.size(); ++i)
    values[touched[i]] = nullptr;
  touched.resize(mark);
}

std::vector<std::vector<FunctionEmitter::Step>>
FunctionEmitter::stepsBySegment(const std::vector<bool> &needed, const std::vector<uint32_t> &segmentOf,
                                size_t segments) const {
  std::vector<std::vector<Step>> steps(segments);
  auto addSteps = [&](NodeId id, uint32_t segment, size_t first, size_t end) { // stores [first, end) of id
    steps[segment].push_back({id, segmentOf[id] == segment && !isLeaf(id), first, std::min(end, first + PartStores)});
    for (first += PartStores; first < end; first += PartStores)
      steps[segment].push_back({id, false, first, std::min(end, first + PartStores)});
  };
  // Per node: a step in its own segment if it computes there but stores nothing there (it is computed once,
  // before the loops that store it), then its steps in each segment that stores it (stores[id] is sorted by
  // segment).
  auto addNode = [&](NodeId id) {
    const std::vector<Store> &list = stores[id];
    bool computes = needed[id] && !isLeaf(id);
    if (computes && llvm::none_of(list, [&](const Store &store) { return store.segment == segmentOf[id]; }))
      addSteps(id, segmentOf[id], 0, 0);
    for (size_t first = 0, end; first < list.size(); first = end) {
      for (end = first; end < list.size() && list[end].segment == list[first].segment;)
        ++end;
      addSteps(id, list[first].segment, first, end);
    }
  };
  for (NodeId id = 0; id < graph.size(); ++id)
    if (!isLeaf(id))
      addNode(id);
  for (NodeId id = 0; id < graph.size(); ++id)
    if (isLeaf(id))
      addNode(id);
  return steps;
}

void FunctionEmitter::emitRows(llvm::Function *function, const JacobianRows &rows,
                               llvm::function_ref<void(llvm::Value *row)> body) {
  llvm::Value *seed = pointerTo(locations[rows.seed], function); // not kept in `values`: parts take their own
  int64_t count = elementCount(graph.node(rows.seed).type.shape);
  builder.CreateMemSet(seed, builder.getInt8(0), uint64_t(count) * sizeof(double), llvm::MaybeAlign(8));
  emitLoop(ir, count, [&](llvm::Value *e) {
    llvm::Value *one = builder.CreateInBoundsGEP(builder.getDoubleTy(), seed, e);
    builder.CreateStore(ir.constant(1), one);
    llvm::Value *index = builder.CreateMul(builder.CreateAdd(e, builder.getInt64(rows.row), "", true, true),
                                           builder.getInt64(signature.rowSize), "", true, true);
    body(builder.CreateInBoundsGEP(builder.getDoubleTy(), function->getArg(rowsArray), index, "row"));
    builder.CreateStore(ir.constant(0), one);
  });
}

std::vector<size_t> FunctionEmitter::cutIntoParts(const std::vector<Step> &steps) const {
  std::vector<size_t> begins = {0};
  size_t nodeCount = 0, storeCount = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    size_t stepStores = steps[i].endStore - steps[i].firstStore;
    if (i > begins.back() && (nodeCount == PartSize || storeCount + stepStores > PartStores)) {
      begins.push_back(i);
      nodeCount = storeCount = 0;
    }
    nodeCount += steps[i].computes;
    storeCount += stepStores;
  }
  begins.push_back(steps.size());
  return begins;
}

void FunctionEmitter::emit(const std::string &name) {
  llvm::LLVMContext &context = module.getContext();
  const std::vector<std::string> &arrays = signature.arrays.arrays;
  unsigned arrayCount = static_cast<unsigned>(arrays.size());
  llvm::SmallVector<llvm::Type *, 4> params(arrayCount, builder.getPtrTy());
  auto *type = llvm::FunctionType::get(builder.getVoidTy(), params, false);
  auto *function = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module);
  function->setDoesNotThrow();
  for (unsigned i = 0; i < arrayCount; ++i) {
    function->getArg(i)->setName(arrays[i]);
    function->addParamAttr(i, llvm::Attribute::NoCapture);
    if (i < signature.arrays.readOnly)
      function->addParamAttr(i, llvm::Attribute::ReadOnly);
  }
  builder.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", function));

  // Which nodes some result needs, where each result goes, and which segment computes each node: the loop of
  // a tensor output's rows computes its seeded nodes, segment 0 everything else.
  std::vector<bool> needed(graph.size(), false);
  std::vector<uint32_t> segmentOf(graph.size(), 0);
  std::vector<const JacobianRows *> loops = {nullptr}; // per segment: the rows it loops over
  for (const ArrayPlace &result : signature.arrays.writes) {
    needed[result.node] = true;
    stores[result.node].push_back({result.array, result.offset, 0});
  }
  for (const JacobianRows &rows : signature.rows ? llvm::ArrayRef(*signature.rows) : llvm::ArrayRef<JacobianRows>()) {
    uint32_t segment = 0;
    if (rows.seed != InvalidNode) {
      segment = static_cast<uint32_t>(loops.size());
      loops.push_back(&rows);
      needed[rows.seed] = true; // its loop sets it, even where no gradient depends on it
      for (NodeId id : rows.seeded)
        segmentOf[id] = segment;
    }
    // An entry's first element in the row (in a loop) or in grad.
    size_t start = rows.seed != InvalidNode ? 0 : rows.row * signature.rowSize;
    for (NodeId id : rows.entries) {
      needed[id] = true;
      stores[id].push_back({rowsArray, start, segment});
      start += static_cast<size_t>(elementCount(graph.node(id).type.shape));
    }
  }
  for (std::vector<Store> &list : stores)
    std::stable_sort(list.begin(), list.end(), [](const Store &a, const Store &b) { return a.segment < b.segment; });
  for (NodeId id = graph.size(); id-- > 0;)
    if (needed[id])
      for (NodeId operand : graph.node(id).operands)
        needed[operand] = true;
  std::vector<std::vector<Step>> steps = stepsBySegment(needed, segmentOf, loops.size());

  int64_t workspaceSize = placeTensors(needed);
  allocateWorkspace(workspaceSize);
  // Each segment cut into parts: its steps from begins[segment][p] to begins[segment][p + 1].
  std::vector<std::vector<size_t>> begins;
  bool cut = false;
  for (const std::vector<Step> &segmentSteps : steps) {
    begins.push_back(cutIntoParts(segmentSteps));
    cut = cut || begins.back().size() > 2;
  }
  if (!cut) {
    llvm::Value *grad = signature.rows ? function->getArg(rowsArray) : nullptr;
    emitSteps(function, nullptr, grad, steps[0]);
    for (size_t segment = 1; segment < loops.size(); ++segment)
      emitRows(function, *loops[segment], [&](llvm::Value *row) {
        size_t mark = touched.size();
        emitSteps(function, nullptr, row, steps[segment]);
        forgetValuesSince(mark);
      });
  } else {
    // One function per part; a value used in a later part than its own gets a frame slot.
    std::vector<uint32_t> partOf(graph.size(), 0); // per node: the part that computes it
    int frameSize = 0;
    auto useIn = [&](NodeId id, uint32_t part) {
      if (!isLeaf(id) && !isTensor(id) && partOf[id] != part && slot[id] < 0)
        slot[id] = frameSize++;
    };
    uint32_t part = 0; // numbered across segments
    for (size_t segment = 0; segment < steps.size(); ++segment) {
      for (size_t p = 0; p + 1 < begins[segment].size(); ++p, ++part) {
        for (size_t i = begins[segment][p]; i < begins[segment][p + 1]; ++i) {
          const Step &step = steps[segment][i];
          if (!step.computes) {
            useIn(step.id, part); // the stores of a value computed in an earlier part
            continue;
          }
          partOf[step.id] = part;
          for (NodeId operand : graph.node(step.id).operands)
            useIn(operand, part);
        }
      }
    }
    llvm::Value *frame = builder.CreateAlloca(llvm::ArrayType::get(builder.getDoubleTy(), frameSize), nullptr, "frame");
    // The function's arrays (in a loop, the row in place of the rows' array), the frame, and the workspace where
    // there is one.
    llvm::SmallVector<llvm::Type *, 6> partParams(arrayCount + (workspace ? 2 : 1), builder.getPtrTy());
    auto *partType = llvm::FunctionType::get(builder.getVoidTy(), partParams, false);
    llvm::Value *mainWorkspace = workspace;
    part = 0;
    // Emits the parts of `segment` as functions, and a call of each where the builder is (grad: `grad`).
    auto emitParts = [&](size_t segment, llvm::Value *grad) {
      llvm::BasicBlock *caller = builder.GetInsertBlock();
      for (size_t p = 0; p + 1 < begins[segment].size(); ++p, ++part) {
        auto *partFunction = llvm::Function::Create(partType, llvm::Function::InternalLinkage,
                                                    name + ".part" + std::to_string(part), module);
        partFunction->setDoesNotThrow();
        partFunction->addFnAttr(llvm::Attribute::NoInline);
        builder.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", partFunction));
        if (mainWorkspace)
          workspace = partFunction->getArg(arrayCount + 1);
        emitSteps(partFunction, partFunction->getArg(arrayCount),
                  signature.rows ? partFunction->getArg(rowsArray) : nullptr,
                  llvm::ArrayRef<Step>(steps[segment]).slice(begins[segment][p], begins[segment][p + 1] - begins[segment][p]));
        builder.CreateRetVoid();
        clearValues();
        builder.SetInsertPoint(caller);
        workspace = mainWorkspace;
        llvm::SmallVector<llvm::Value *, 6> partArgs;
        for (unsigned i = 0; i < arrayCount; ++i)
          partArgs.push_back(i == rowsArray ? grad : function->getArg(i));
        partArgs.push_back(frame);
        if (workspace)
          partArgs.push_back(workspace);
        builder.CreateCall(partType, partFunction, partArgs);
      }
    };
    emitParts(0, signature.rows ? function->getArg(rowsArray) : nullptr);
    for (size_t segment = 1; segment < loops.size(); ++segment)
      emitRows(function, *loops[segment], [&](llvm::Value *row) { emitParts(segment, row); });
  }
  freeWorkspace(workspaceSize);
  builder.CreateRetVoid();
  clearValues();
  assert(!llvm::verifyModule(module, &llvm::errs()) && "generated module is malformed");
}

int64_t FunctionEmitter::placeTensors(const std::vector<bool> &needed) {
  int64_t size = 0;
  for (NodeId id = 0; id < graph.size(); ++id) {
    if (!needed[id] || !isTensor(id))
      continue;
    const Node &node = graph.node(id);
    Location &location = locations[id];
    if (source[id].base == Location::Array) {
      location = source[id];
    } else if (node.op == OpKind::Const) {
      location = {Location::Global, 0, id};
    } else if (node.op == OpKind::Index && indexReadsInPlace(graph, id)) {
      location = locations[node.operands[0]];
      location.offset += indexStart(graph, id);
    } else if (auto out = llvm::find_if(stores[id], [&](const Store &store) { return store.pointer != rowsArray; });
               out != stores[id].end()) {
      location = {Location::Array, static_cast<int64_t>(out->index), InvalidNode, out->pointer};
    } else {
      location = {Location::Workspace, size};
      size += elementCount(node.type.shape);
    }
  }
  return size;
}

llvm::Value *FunctionEmitter::pointerTo(const Location &location, llvm::Function *function) {
  llvm::Value *base = nullptr;
  switch (location.base) {
  case Location::Array:
    base = function->getArg(location.array);
    break;
  case Location::Workspace:
    base = workspace;
    break;
  case Location::Global: {
    if (globals.empty())
      globals.resize(graph.size(), nullptr);
    llvm::GlobalVariable *&global = globals[location.global];
    if (!global) {
      llvm::Constant *data = llvm::ConstantDataArray::get(module.getContext(), llvm::ArrayRef(graph.node(location.global).data));
      global = new llvm::GlobalVariable(module, data->getType(), /*isConstant=*/true,
                                        llvm::GlobalValue::PrivateLinkage, data, "tensor");
      global->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
      global->setAlignment(llvm::Align(8));
    }
    base = global;
    break;
  }
  case Location::None:
    llvm_unreachable("every needed tensor node is placed before emission");
  }
  return location.offset ? element(base, static_cast<size_t>(location.offset)) : base;
}

void FunctionEmitter::allocateWorkspace(int64_t size) {
  if (size == 0)
    return;
  uint64_t bytes = uint64_t(size) * sizeof(double);
  if (bytes <= WorkspaceStackBytes) {
    auto *alloca = builder.CreateAlloca(llvm::ArrayType::get(builder.getDoubleTy(), uint64_t(size)), nullptr,
                                        "workspace");
    alloca->setAlignment(llvm::Align(16));
    workspace = alloca;
    return;
  }
  llvm::FunctionCallee malloc = module.getOrInsertFunction(
      "malloc", llvm::FunctionType::get(builder.getPtrTy(), {builder.getInt64Ty()}, false));
  workspace = builder.CreateCall(malloc, {builder.getInt64(bytes)}, "workspace");
}

void FunctionEmitter::freeWorkspace(int64_t size) {
  if (size == 0 || uint64_t(size) * sizeof(double) <= WorkspaceStackBytes)
    return;
  llvm::FunctionCallee free = module.getOrInsertFunction(
      "free", llvm::FunctionType::get(builder.getVoidTy(), {builder.getPtrTy()}, false));
  builder.CreateCall(free, {workspace});
}

/// Simplifies `graph` for what `function` and `rows` read and store (their nodes renumbered to the copy's, and
/// each tensor output's seeded nodes found there), and emits it as `name`; `rows`, if given, go to array
/// `rowsArray`, each row `rowSize` doubles.
llvm::Function *emitSimplified(llvm::Module &module, const Graph &graph, ArrayFunction function,
                               std::vector<JacobianRows> *rows, unsigned rowsArray, size_t rowSize,
                               const std::string &name) {
  // The roots: the results, the Jacobian's entries, the seeds of tensor outputs (kept by the simplifier, so that
  // each sweep's nodes that depend on its seed can be found again), then the leaves read.
  auto forEachRoot = [&](llvm::function_ref<void(NodeId &)> visit) {
    for (ArrayPlace &place : function.writes)
      visit(place.node);
    for (JacobianRows &jacobian : rows ? llvm::MutableArrayRef(*rows) : llvm::MutableArrayRef<JacobianRows>())
      llvm::for_each(jacobian.entries, visit);
    for (JacobianRows &jacobian : rows ? llvm::MutableArrayRef(*rows) : llvm::MutableArrayRef<JacobianRows>())
      if (jacobian.seed != InvalidNode)
        visit(jacobian.seed);
    for (ArrayPlace &place : function.reads)
      visit(place.node);
  };
  std::vector<NodeId> roots;
  forEachRoot([&](NodeId &id) { roots.push_back(id); });
  Graph simplified = simplifyGraph(graph, roots); // renumbers the roots
  size_t next = 0;
  forEachRoot([&](NodeId &id) { id = roots[next++]; });
  for (JacobianRows &jacobian : rows ? llvm::MutableArrayRef(*rows) : llvm::MutableArrayRef<JacobianRows>())
    if (jacobian.seed != InvalidNode)
      jacobian.seeded = simplified.dependents(jacobian.seed, static_cast<NodeId>(simplified.size()));
  FunctionEmitter(module, simplified, {function, rows, rowsArray, rowSize}).emit(name);
  return module.getFunction(name);
}

/// Emits `gradient` as `void name(const double *in, double *out, double *grad)`: `outputs` to out, the
/// Jacobian's rows (GradientGraph::rowOffsets, columnOffsets) to grad.
llvm::Function *emitJacobianFunction(llvm::Module &module, const GradientGraph &gradient,
                                     std::vector<ArrayPlace> outputs, const std::string &name) {
  std::vector<size_t> rowOffsets = gradient.rowOffsets();
  std::vector<JacobianRows> rows;
  for (size_t s = 0; s < gradient.sweeps.size(); ++s)
    rows.push_back({rowOffsets[s], gradient.sweeps[s].seed, {}, gradient.sweeps[s].gradient});
  ArrayFunction function{{"in", "out", "grad"}, 1, argumentPlaces(gradient.graph, 0), std::move(outputs)};
  return emitSimplified(module, gradient.graph, std::move(function), &rows, 2, gradient.columnOffsets().back(),
                        name);
}

} // namespace

std::vector<ArrayPlace> bp::argumentPlaces(const Graph &graph, unsigned array) {
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::vector<ArrayPlace> places;
  for (size_t a = 0; a < arguments.size(); ++a)
    places.push_back({arguments[a], array, offsets[a]});
  return places;
}

std::vector<ArrayPlace> bp::outputPlaces(const Graph &graph, unsigned array) {
  std::vector<size_t> offsets = graph.outputOffsets();
  std::vector<ArrayPlace> places;
  for (size_t o = 0; o < graph.outputs().size(); ++o)
    places.push_back({graph.outputs()[o].node, array, offsets[o]});
  return places;
}

llvm::Function *bp::emitArrayFunction(llvm::Module &module, const Graph &graph, const ArrayFunction &function,
                                      const std::string &name) {
  return emitSimplified(module, graph, function, nullptr, 0, 0, name);
}

std::unique_ptr<llvm::Module> bp::generateModule(const Graph &forward, const GradientGraph *gradient,
                                                 const std::string &prefix, llvm::LLVMContext &context) {
  auto module = std::make_unique<llvm::Module>(prefix, context);
  if (forward.sourceFile())
    module->setSourceFileName(forward.sourceFile()->name());
  emitArrayFunction(*module, forward, {{"in", "out"}, 1, argumentPlaces(forward, 0), outputPlaces(forward, 1)},
                    prefix + "_forward");
  if (gradient)
    emitGradientFunction(*module, forward, *gradient, prefix + "_gradient");
  return module;
}

llvm::Function *bp::emitGradientFunction(llvm::Module &module, const Graph &, const GradientGraph &gradient,
                                         const std::string &name) {
  return emitJacobianFunction(module, gradient, outputPlaces(gradient.graph, 1), name);
}

/// A function of `tangents` (a tangent graph whose forward nodes are `forward`'s) named by `arrays`: the
/// arguments read from array 0, the tangent leaves from array 1 (the chosen arguments' elements end to end), the
/// outputs stored to array 2; what it stores to array 3 is the caller's.
static ArrayFunction tangentFunction(const Graph &forward, const TangentGraph &tangents,
                                     std::vector<std::string> arrays) {
  ArrayFunction function{std::move(arrays), 2, argumentPlaces(forward, 0), outputPlaces(forward, 2)};
  std::vector<size_t> columns = GradientSelection{{}, tangents.arguments}.columnOffsets(forward);
  for (size_t a = 0; a < tangents.tangents.size(); ++a)
    function.reads.push_back({tangents.tangents[a], 1, columns[a]});
  return function;
}

llvm::Function *bp::emitJvpFunction(llvm::Module &module, const Graph &forward, const TangentGraph &tangents,
                                    const std::string &name) {
  ArrayFunction function = tangentFunction(forward, tangents, {"in", "tangent_in", "out", "tangent_out"});
  std::vector<size_t> out = forward.outputOffsets();
  for (size_t o = 0; o < tangents.outputTangents.size(); ++o)
    function.writes.push_back({tangents.outputTangents[o], 3, out[o]});
  return emitArrayFunction(module, tangents.graph, function, name);
}

llvm::Function *bp::emitHvpFunction(llvm::Module &module, const Graph &forward, const HessianVectorGraph &hvp,
                                    const std::string &name) {
  const TangentGraph &tangents = hvp.tangentGraph; // its forward nodes are the gradient graph's, forward's first
  ArrayFunction function = tangentFunction(forward, tangents, {"in", "v", "out", "hv"});
  std::vector<size_t> columns = GradientSelection{{}, tangents.arguments}.columnOffsets(forward);
  for (size_t a = 0; a < hvp.products.size(); ++a)
    function.writes.push_back({hvp.products[a], 3, columns[a]});
  return emitArrayFunction(module, tangents.graph, function, name);
}

llvm::Function *bp::emitVjpFunction(llvm::Module &module, const Graph &forward, const GradientGraph &gradient,
                                    const std::string &name) {
  ArrayFunction function{{"in", "seed_out", "out", "grad_in"}, 2, argumentPlaces(forward, 0), outputPlaces(forward, 2)};
  Graph graph = gradient.graph; // and a seed leaf per scalar output, its products and the sums over the outputs
  std::vector<size_t> out = forward.outputOffsets(), columns = gradient.columnOffsets();
  std::vector<NodeId> sums(gradient.selection.arguments.size(), InvalidNode);
  for (const ReverseSweep &sweep : gradient.sweeps) {
    const Graph::Output &output = forward.outputs()[sweep.output];
    NodeId seed = sweep.seed;
    if (seed == InvalidNode) { // a scalar output's sweep starts from 1: its products are scaled
      seed = graph.addNode(OpKind::Input, {}, output.loc); // not addArgument's: not one of the arguments
      graph.node(seed).name = "d" + output.name;
    }
    function.reads.push_back({seed, 1, out[sweep.output]});
    for (size_t a = 0; a < sweep.gradient.size(); ++a) {
      NodeId product = sweep.gradient[a];
      if (sweep.seed == InvalidNode)
        product = llvm::cantFail(graph.addOp(OpKind::Mul, {seed, product}, output.loc));
      sums[a] = sums[a] == InvalidNode ? product
                                       : llvm::cantFail(graph.addOp(OpKind::Add, {sums[a], product}, output.loc));
    }
  }
  std::vector<NodeId> arguments = graph.arguments();
  for (size_t a = 0; a < sums.size(); ++a) {
    if (sums[a] == InvalidNode) { // no output chosen: 0
      const Shape &shape = graph.node(arguments[gradient.selection.arguments[a]]).type.shape;
      sums[a] = graph.addConstant(0);
      if (!shape.empty())
        sums[a] = llvm::cantFail(graph.addOp(OpKind::BroadcastTo, {sums[a]}, {}, shape));
    }
    function.writes.push_back({sums[a], 3, columns[a]});
  }
  return emitArrayFunction(module, graph, function, name);
}

llvm::Function *bp::emitHessianFunction(llvm::Module &module, const Graph &forward, const GradientGraph &hessian,
                                        const std::string &name) {
  return emitJacobianFunction(module, hessian, outputPlaces(forward, 1), name); // forward's nodes keep their ids
}

void bp::optimizeModule(llvm::Module &module, llvm::TargetMachine *machine, unsigned level,
                        std::optional<unsigned> instructions) {
  static const llvm::OptimizationLevel levels[] = {llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
                                                   llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // The SLP vectorizer packs independent scalar operations into vector instructions. On big scripts it
  // dominated compile time (6 s of 15 for a 100,000-node DAG) while straight-line code with libm calls between
  // operations gives it little to pack, so it runs only on modules up to LargeModuleInstructions.
  llvm::PipelineTuningOptions tuning;
  tuning.SLPVectorization = instructions.value_or(module.getInstructionCount()) <= LargeModuleInstructions;
  // Tensor loops are vectorized (and interleaved) but not unrolled further: unrolling copied every vector
  // loop body eight or sixteen times on a 256x256 matrix product, which doubled the back end's time against a
  // 4x4 one (compile time is to stay independent of tensor sizes). Scalar scripts have no loops.
  tuning.LoopUnrolling = false;
  llvm::PassBuilder passBuilder(machine, tuning);
  passBuilder.registerModuleAnalyses(mam);
  passBuilder.registerCGSCCAnalyses(cgam);
  passBuilder.registerFunctionAnalyses(fam);
  passBuilder.registerLoopAnalyses(lam);
  passBuilder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager passes = level == 0
                                       ? passBuilder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                                       : passBuilder.buildPerModuleDefaultPipeline(levels[std::min(level, 3u)]);
  passes.run(module, mam);
}

void bp::initializeTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers();
  });
}

/// Why bp's code cannot be compiled for `arch`, or null if it can. Generated code computes in doubles and calls
/// libm (exp, log, pow, sin, ...); targets without a C library, or whose LLVM backend cannot lower these, are
/// refused before LLVM would abort.
static const char *unsupportedTargetReason(llvm::Triple::ArchType arch) {
  switch (arch) {
  case llvm::Triple::amdgcn:
  case llvm::Triple::r600:
  case llvm::Triple::nvptx:
  case llvm::Triple::nvptx64:
    return "GPU targets have no libm for exp, log and the other builtins to call";
  case llvm::Triple::bpfel:
  case llvm::Triple::bpfeb:
    return "BPF programs cannot call libm functions";
  case llvm::Triple::ve:
  case llvm::Triple::xtensa:
    return "LLVM's backend for it cannot lower sin and cos of one value (fsincos), which every gradient of sin "
           "or cos computes";
  case llvm::Triple::m68k:
    return "LLVM 19's experimental M68k backend crashes in instruction selection on functions of a few hundred "
           "operations";
  default:
    return nullptr;
  }
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> bp::createTargetMachine(const std::string &triple,
                                                                             unsigned optLevel) {
  initializeTargets();
  bool host = triple.empty();
  llvm::Triple parsed(host ? llvm::sys::getDefaultTargetTriple() : llvm::Triple::normalize(triple));
  // Also accept the target names `llc --version` lists ("x86-64", "ppc64le", ...) as an architecture.
  if (parsed.getArch() == llvm::Triple::UnknownArch)
    if (llvm::Triple::ArchType arch = llvm::Triple::getArchTypeForLLVMName(triple); arch != llvm::Triple::UnknownArch)
      parsed = llvm::Triple(llvm::Triple::getArchTypeName(arch), "unknown", "unknown");
  std::string normalized = parsed.str();
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(normalized, error);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown target '" + triple + "': " + error);
  if (const char *reason = unsupportedTargetReason(parsed.getArch()))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "target '" + triple + "' cannot run bp's code: " + reason);
  // LLVM crashes on an object format that is not the system's own (x86_64-linux-xcoff, wasm32-unknown-elf).
  llvm::Triple system(parsed.getArchName(), parsed.getVendorName(), parsed.getOSName());
  system.setEnvironment(parsed.getEnvironment());
  if (parsed.getObjectFormat() != system.getObjectFormat())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "target '" + triple + "' asks for " + llvm::Triple::getObjectFormatTypeName(parsed.getObjectFormat()) +
            " objects; bpc writes only the system's own format (" +
            llvm::Triple::getObjectFormatTypeName(system.getObjectFormat()) + " here): leave it out of the triple");
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Strict; // no FMA contraction: results match plain C
  // Another machine gets its target's default CPU (an empty name: not every target knows "generic").
  std::string cpu = host ? llvm::sys::getHostCPUName().str() : "";
  std::string features;
  if (host) {
    llvm::SubtargetFeatures hostFeatures;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      hostFeatures.AddFeature(feature.first(), feature.second);
    features = hostFeatures.getString();
  } else if (parsed.getArch() == llvm::Triple::loongarch64) {
    features = "+d"; // the FPU that its standard ABI (lp64d) needs, as clang assumes; else LLVM warns
  }
  static const llvm::CodeGenOptLevel levels[] = {llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
                                                 llvm::CodeGenOptLevel::Default,
                                                 llvm::CodeGenOptLevel::Aggressive};
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      normalized, cpu, features, options, llvm::Reloc::PIC_, std::nullopt, levels[std::min(optLevel, 3u)]));
  if (!machine)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot create a target machine for '" + normalized + "'");
  return machine;
}

std::string bp::prefixFromPath(const std::string &path) {
  std::string stem = llvm::sys::path::stem(path).str();
  std::string prefix;
  for (char c : stem)
    prefix += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (prefix.empty() || std::isdigit(static_cast<unsigned char>(prefix[0])))
    prefix = "bp_" + prefix;
  return prefix;
}

llvm::Error bp::addDerivativeFunctions(llvm::Module &module, const Graph &graph, const DerivativeFunctionSet &functions,
                                       const GradientSelection &selection, const GradientGraph *gradient,
                                       const std::string &prefix) {
  if (functions.jvp) {
    auto tangents = buildTangentGraph(graph);
    if (!tangents)
      return tangents.takeError();
    emitJvpFunction(module, graph, *tangents, prefix + "_jvp");
  }
  if (functions.vjp) {
    std::optional<GradientGraph> built;
    if (!gradient) {
      auto graphBuilt = buildGradientGraph(graph, selection);
      if (!graphBuilt)
        return graphBuilt.takeError();
      built = std::move(*graphBuilt);
    }
    emitVjpFunction(module, graph, gradient ? *gradient : *built, prefix + "_vjp");
  }
  if (functions.hessian) {
    auto hessian = buildHessianGraph(graph, functions.hessianOutput, selection.arguments);
    if (!hessian)
      return hessian.takeError();
    emitHessianFunction(module, graph, *hessian, prefix + "_hessian");
  }
  if (functions.hvp) {
    auto hvp = buildHessianVectorGraph(graph, functions.hessianOutput, selection.arguments);
    if (!hvp)
      return hvp.takeError();
    emitHvpFunction(module, graph, *hvp, prefix + "_hvp");
  }
  return llvm::Error::success();
}
