//===- TensorLowering.cpp - Tensor ops as loop nests ----------------------===//
//
// Each tensor op becomes a loop nest over its result, never unrolled per element, so the size of the code (and
// the time to compile it) does not depend on the sizes of the tensors. Every loop visits its elements in the
// interpreter's order and adds terms as it does (Interpreter.cpp): elementwise ops apply the scalar lowering
// rows (Lowering.cpp) to each element, reading broadcast operands with stride 0; `@` keeps tiles of 4 x 8
// result elements in registers (vectors of 8 doubles) across the k loop, each element's sum starting from +0
// and adding A[i,k] * B[k,j] in k order, so nothing is reassociated (MatMulLowering); sum adds in index order
// from +0, and mean divides that sum once. The internal ops of gradient graphs: sum_to adds the operand's
// elements in its row-major order into result elements set to +0 first, broadcast_to is elementwise (the operand
// read with stride 0 where it stretches), reshape and index_grad copy (index_grad into zeros), transpose swaps
// the two indices. A literal index reads a run of its operand in place, or, where slices make it strided, copies
// in a loop nest; a run-time index selects NaN where the index is not valid, from an address clamped into the
// operand.
// max, min, argmax and argmax_mask carry the best term and its index through one loop per run; softmax,
// log_softmax and logsumexp make three passes over a run (its maximum, the sum of exp from +0, then the
// results), with the interpreter's operations in its order.
//
//===----------------------------------------------------------------------===//
#include "TensorLowering.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cmath>
#include <limits>

using namespace bp;
using llvm::Value;

namespace {

using Carried = llvm::SmallVector<Value *, 1>;

class LoopEmitter {
public:
  explicit LoopEmitter(IRLowering &ir) : ir(ir), builder(ir.builder) {}

  /// `for (i = 0; i < count; ++i) carried = body(i, carried)` (count >= 1), tested at the bottom: one block with a
  /// phi for `i` and each carried value, and a back edge. Returns the carried values after the loop.
  Carried loop(int64_t count, llvm::ArrayRef<Value *> initial,
               llvm::function_ref<Carried(Value *i, llvm::ArrayRef<Value *> carried)> body) {
    return loop(builder.getInt64(count), initial, body);
  }

  /// The same with a count computed at run time (an i64, at least 1).
  Carried loop(Value *count, llvm::ArrayRef<Value *> initial,
               llvm::function_ref<Carried(Value *i, llvm::ArrayRef<Value *> carried)> body) {
    llvm::BasicBlock *preheader = builder.GetInsertBlock();
    llvm::Function *function = preheader->getParent();
    auto *header = llvm::BasicBlock::Create(builder.getContext(), "loop", function);
    builder.CreateBr(header);
    builder.SetInsertPoint(header);
    llvm::PHINode *i = builder.CreatePHI(builder.getInt64Ty(), 2, "i");
    i->addIncoming(builder.getInt64(0), preheader);
    llvm::SmallVector<llvm::PHINode *, 1> phis;
    Carried current;
    for (Value *value : initial) {
      phis.push_back(builder.CreatePHI(value->getType(), 2));
      phis.back()->addIncoming(value, preheader);
      current.push_back(phis.back());
    }
    Carried next = body(i, current);
    llvm::BasicBlock *latch = builder.GetInsertBlock();
    Value *incremented = builder.CreateAdd(i, builder.getInt64(1), "i.next", /*HasNUW=*/true, /*HasNSW=*/true);
    i->addIncoming(incremented, latch);
    for (size_t c = 0; c < phis.size(); ++c)
      phis[c]->addIncoming(next[c], latch);
    auto *exit = llvm::BasicBlock::Create(builder.getContext(), "loop.end", function); // after the body's blocks
    builder.CreateCondBr(builder.CreateICmpULT(incremented, count), header, exit);
    builder.SetInsertPoint(exit);
    return next;
  }

  /// body(index) for every index of `shape` in row-major order: one loop per dimension.
  void loopNest(llvm::ArrayRef<int64_t> shape, llvm::function_ref<void(llvm::ArrayRef<Value *> index)> body) {
    llvm::SmallVector<Value *, MaxRank> index;
    nest(shape, index, body);
  }

  /// sum of index[d] * strides[d] (an element's position), with `start` added.
  Value *position(llvm::ArrayRef<Value *> index, llvm::ArrayRef<int64_t> strides, Value *start = nullptr) {
    Value *sum = start;
    for (size_t d = 0; d < index.size(); ++d) {
      if (strides[d] == 0)
        continue;
      Value *term = strides[d] == 1 ? index[d] : builder.CreateMul(index[d], builder.getInt64(strides[d]), "", true, true);
      sum = sum ? builder.CreateAdd(sum, term, "", true, true) : term;
    }
    return sum ? sum : builder.getInt64(0);
  }
  Value *position(Value *index, int64_t stride, Value *start = nullptr) {
    return position(llvm::ArrayRef<Value *>(index), llvm::ArrayRef<int64_t>(stride), start);
  }

  Value *address(Value *base, Value *position) {
    return builder.CreateInBoundsGEP(builder.getDoubleTy(), base, position);
  }
  Value *load(Value *base, Value *position) { return builder.CreateLoad(builder.getDoubleTy(), address(base, position)); }
  void store(Value *value, Value *base, Value *position) { builder.CreateStore(value, address(base, position)); }

  IRLowering &ir;
  llvm::IRBuilder<> &builder;

private:
  void nest(llvm::ArrayRef<int64_t> shape, llvm::SmallVectorImpl<Value *> &index,
            llvm::function_ref<void(llvm::ArrayRef<Value *>)> body) {
    if (index.size() == shape.size())
      return body(index);
    loop(shape[index.size()], {}, [&](Value *i, llvm::ArrayRef<Value *>) {
      index.push_back(i);
      nest(shape, index, body);
      index.pop_back();
      return Carried{};
    });
  }
};

/// An elementwise op over a tensor result: each operand read with its broadcast strides (0 along a dimension
/// it stretches), a scalar operand used as it is. Without broadcasting, one loop over every element.
Value *lowerElementwise(LoopEmitter &loops, const Graph &graph, const Node &node, llvm::ArrayRef<Value *> operands,
                        Value *result) {
  Shape shape = node.type.shape;
  bool broadcasts = llvm::any_of(node.operands, [&](NodeId operand) {
    const Shape &own = graph.node(operand).type.shape;
    return !own.empty() && own != shape;
  });
  if (!broadcasts)
    shape = {elementCount(shape)};
  size_t rank = shape.size();
  llvm::SmallVector<Shape, MaxArity> strides; // per operand, one per (looped) result dimension
  for (NodeId operand : node.operands) {
    llvm::ArrayRef<int64_t> operandShape = graph.node(operand).type.shape;
    if (!broadcasts) {
      strides.push_back({operandShape.empty() ? 0 : 1});
      continue;
    }
    strides.push_back(broadcastStrides(operandShape, rank));
  }
  Shape resultStrides = rowMajorStrides(shape);
  loops.loopNest(shape, [&](llvm::ArrayRef<Value *> index) {
    llvm::SmallVector<Value *, MaxArity> elements;
    for (size_t i = 0; i < operands.size(); ++i)
      elements.push_back(graph.node(node.operands[i]).type.isScalar()
                             ? operands[i]
                             : loops.load(operands[i], loops.position(index, strides[i])));
    loops.store(lowerOp(loops.ir, node.op, elements), result, loops.position(index, resultStrides));
  });
  return result;
}

/// `@`'s register tiles: TileRows x TileColumns elements of the result, kept in registers (a vector of
/// TileColumns doubles per row) while the k loop runs over a chunk of ChunkLength products. Rows left over
/// below the last whole tile (and a vector on the left) take tiles of one row and RowTileColumns columns, so
/// that they too have several vectors of sums in flight.
constexpr int64_t TileRows = 4, TileColumns = 8, RowTileColumns = 32, ChunkLength = 256;
constexpr const char *PanelName = "matmul.panel";

/// [m,k] @ [k,n] (a vector as one row or one column) into a result set to +0, chunk by chunk along k: for
/// each chunk of up to ChunkLength values of p, every tile of the result loads its elements, adds
/// A[i,p] * B[p,j] for the chunk's p in order, and stores them; so each element still adds its products in k
/// order from +0. Within a chunk, the columns of B under a column of whole tiles are first copied to a
/// contiguous panel, which the k loop of each of those tiles reads at unit stride.
class MatMulLowering {
public:
  MatMulLowering(LoopEmitter &loops, Value *a, Value *bm, Value *result, int64_t m, int64_t k, int64_t n)
      : loops(loops), b(loops.builder), a(a), bm(bm), result(result), m(m), k(k), n(n) {}

  void lower() {
    b.CreateMemSet(result, b.getInt8(0), uint64_t(m) * uint64_t(n) * sizeof(double), llvm::MaybeAlign(8));
    int64_t wholeRows = m / TileRows * TileRows, wholeColumns = n / TileColumns * TileColumns;
    int64_t wideColumns = n / RowTileColumns * RowTileColumns;
    llvm::AllocaInst *panel = wholeRows && wholeColumns ? functionPanel() : nullptr;
    if (panel)
      b.CreateLifetimeStart(panel);
    int64_t chunks = (k + ChunkLength - 1) / ChunkLength;
    loops.loop(chunks, {}, [&](Value *chunk, llvm::ArrayRef<Value *>) {
      Value *p0 = b.CreateMul(chunk, b.getInt64(ChunkLength), "", true, true);
      Value *length = b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, b.getInt64(ChunkLength),
                                              b.CreateSub(b.getInt64(k), p0, "", true, true));
      if (panel)
        loops.loop(wholeColumns / TileColumns, {}, [&](Value *tileColumn, llvm::ArrayRef<Value *>) {
          Value *j = b.CreateMul(tileColumn, b.getInt64(TileColumns), "", true, true);
          pack(inPlace(p0, j), panel, length);
          tiles(0, wholeRows, TileRows, j, TileColumns, p0, length, {panel, TileColumns});
          return Carried{};
        });
      tilesInPlace(0, wholeRows, TileRows, wholeColumns, n, 1, p0, length);
      tilesInPlace(wholeRows, m, 1, 0, wideColumns, RowTileColumns, p0, length);
      tilesInPlace(wholeRows, m, 1, wideColumns, wholeColumns, TileColumns, p0, length);
      tilesInPlace(wholeRows, m, 1, wholeColumns, n, 1, p0, length);
      return Carried{};
    });
    if (panel)
      b.CreateLifetimeEnd(panel);
  }

private:
  /// The panel of the function being emitted (ChunkLength x TileColumns doubles on the stack), one that every
  /// product in it shares (created by the first), so that the stack does not grow with the number of products.
  llvm::AllocaInst *functionPanel() {
    llvm::BasicBlock &entry = b.GetInsertBlock()->getParent()->getEntryBlock();
    for (llvm::Instruction &instruction : entry)
      if (auto *alloca = llvm::dyn_cast<llvm::AllocaInst>(&instruction); alloca && alloca->getName() == PanelName)
        return alloca;
    llvm::IRBuilder<> atEntry(&entry, entry.begin());
    llvm::AllocaInst *panel =
        atEntry.CreateAlloca(llvm::ArrayType::get(b.getDoubleTy(), ChunkLength * TileColumns), nullptr, PanelName);
    panel->setAlignment(llvm::Align(64));
    return panel;
  }

  /// Where a tile reads its chunk of B: row p of the chunk (TileColumns or one column) at start + p * stride.
  struct Source {
    Value *start;
    int64_t stride;
  };

  /// B's chunk from row p0, column j, where it is.
  Source inPlace(Value *p0, Value *j) { return {loops.address(bm, loops.position({p0, j}, {n, 1})), n}; }

  /// The tiles of `rows` x `width` elements with rows from `rowBegin` to `rowEnd` and columns from
  /// `columnBegin` to `columnEnd`, reading B where it is.
  void tilesInPlace(int64_t rowBegin, int64_t rowEnd, int64_t rows, int64_t columnBegin, int64_t columnEnd,
                    int64_t width, Value *p0, Value *length) {
    if (rowBegin >= rowEnd || columnBegin >= columnEnd)
      return;
    loops.loop((columnEnd - columnBegin) / width, {}, [&](Value *tileColumn, llvm::ArrayRef<Value *>) {
      Value *j = loops.position(tileColumn, width, b.getInt64(columnBegin));
      tiles(rowBegin, rowEnd, rows, j, width, p0, length, inPlace(p0, j));
      return Carried{};
    });
  }

  /// Copies `length` rows of TileColumns doubles from `source` to the panel.
  void pack(const Source &source, Value *panel, Value *length) {
    llvm::Type *type = vectorType(TileColumns);
    loops.loop(length, {}, [&](Value *p, llvm::ArrayRef<Value *>) {
      Value *from = loops.address(source.start, loops.position(p, source.stride));
      Value *row = b.CreateAlignedLoad(type, from, ElementAlign);
      b.CreateAlignedStore(row, loops.address(panel, loops.position(p, TileColumns)), ElementAlign);
      return Carried{};
    });
  }

  /// The tiles of `rows` x `width` elements with rows from `rowBegin` to `rowEnd` and columns from `j`, over
  /// the chunk of `length` products from p0.
  void tiles(int64_t rowBegin, int64_t rowEnd, int64_t rows, Value *j, int64_t width, Value *p0, Value *length,
             const Source &source) {
    if (rowBegin == rowEnd)
      return;
    llvm::Type *type = vectorType(width);
    loops.loop((rowEnd - rowBegin) / rows, {}, [&](Value *tileRow, llvm::ArrayRef<Value *>) {
      Value *i = loops.position(tileRow, rows, b.getInt64(rowBegin));
      llvm::SmallVector<Value *, TileRows> rowStarts, addresses;
      Carried partial;
      for (int64_t r = 0; r < rows; ++r) {
        Value *row = b.CreateAdd(i, b.getInt64(r), "", true, true);
        rowStarts.push_back(loops.position({row, p0}, {k, 1}));
        addresses.push_back(loops.address(result, loops.position({row, j}, {n, 1})));
        partial.push_back(b.CreateAlignedLoad(type, addresses.back(), ElementAlign));
      }
      Carried sums = loops.loop(length, partial, [&](Value *p, llvm::ArrayRef<Value *> sum) {
        Value *from = loops.address(source.start, loops.position(p, source.stride));
        Value *bRow = b.CreateAlignedLoad(type, from, ElementAlign);
        Carried next;
        for (int64_t r = 0; r < rows; ++r) {
          Value *element = loops.load(a, b.CreateAdd(rowStarts[r], p, "", true, true));
          if (width != 1)
            element = b.CreateVectorSplat(static_cast<unsigned>(width), element);
          next.push_back(b.CreateFAdd(sum[r], b.CreateFMul(element, bRow)));
        }
        return next;
      });
      for (int64_t r = 0; r < rows; ++r)
        b.CreateAlignedStore(sums[r], addresses[r], ElementAlign);
      return Carried{};
    });
  }

  llvm::Type *vectorType(int64_t width) {
    return width == 1 ? b.getDoubleTy() : llvm::FixedVectorType::get(b.getDoubleTy(), static_cast<unsigned>(width));
  }

  const llvm::Align ElementAlign{alignof(double)};
  LoopEmitter &loops;
  llvm::IRBuilder<> &b;
  Value *a, *bm, *result;
  int64_t m, k, n;
};

/// a @ b. A vector is a matrix of one row (on the left) or one column (on the right); [k] @ [k] is one sum.
Value *lowerMatMul(LoopEmitter &loops, const Graph &graph, const Node &node, llvm::ArrayRef<Value *> operands,
                   Value *result) {
  llvm::IRBuilder<> &b = loops.builder;
  Value *a = operands[0], *bm = operands[1];
  llvm::ArrayRef<int64_t> aShape = graph.node(node.operands[0]).type.shape;
  llvm::ArrayRef<int64_t> bShape = graph.node(node.operands[1]).type.shape;
  int64_t m = aShape.size() == 2 ? aShape[0] : 1, k = aShape.back(), n = bShape.size() == 2 ? bShape[1] : 1;
  if (!result)
    return loops.loop(k, {loops.ir.constant(0)}, [&](Value *p, llvm::ArrayRef<Value *> sum) {
      return Carried{b.CreateFAdd(sum[0], b.CreateFMul(loops.load(a, p), loops.load(bm, p)))};
    })[0];
  MatMulLowering(loops, a, bm, result, m, k, n).lower();
  return result;
}

/// An operand's element at `position` (an i64): a scalar operand is its value.
Value *elementOf(LoopEmitter &loops, const Node &operand, Value *value, Value *position) {
  return operand.type.isScalar() ? value : loops.load(value, position);
}

/// The ops along one axis (attrs {axis}) or over every element (takesAxis), run by run as the interpreter's
/// evaluateAlongAxis: sum, mean, max, min, argmax, argmax_mask and the softmax family.
class RunLowering {
public:
  RunLowering(LoopEmitter &loops, const Graph &graph, const Node &node, Value *x, Value *result)
      : loops(loops), b(loops.builder), node(node), operand(graph.node(node.operands[0])), x(x), result(result) {
    ReductionExtent extent = axisExtent(operand.type.shape, node.attrs);
    outer = extent.outer;
    length = extent.length;
    inner = extent.inner;
  }

  /// Each run, `first` the position of its first term (null for the one run of a scalar result). A reduction's
  /// run gives its value, stored to its result element; an op that keeps the shape stores its run itself.
  /// Returns the result, or the value of a scalar result.
  Value *lower() {
    if (!result)
      return run(nullptr);
    loops.loopNest({outer, inner}, [&](llvm::ArrayRef<Value *> index) {
      Value *value = run(loops.position(index, {length * inner, 1}));
      if (!keepsShape(node.op))
        loops.store(value, result, loops.position(index, {inner, 1}));
    });
    return result;
  }

private:
  Value *run(Value *first) {
    switch (node.op) {
    case OpKind::Sum:
    case OpKind::Mean:
      return sum(first);
    case OpKind::ReduceMax:
    case OpKind::ReduceMin:
      return firstExtreme(first, node.op == OpKind::ReduceMin).first;
    case OpKind::Argmax:
      return b.CreateSIToFP(firstExtreme(first, false).second, b.getDoubleTy());
    case OpKind::ArgmaxMask:
      return mask(first);
    case OpKind::Softmax:
    case OpKind::LogSoftmax:
    case OpKind::LogSumExp:
      return softmax(first);
    default:
      llvm_unreachable("not an op along an axis");
    }
  }

  /// The terms added in index order from +0; mean divides that sum by the number of terms.
  Value *sum(Value *first) {
    Value *total = loops.loop(length, {loops.ir.constant(0)}, [&](Value *j, llvm::ArrayRef<Value *> partial) {
      return Carried{b.CreateFAdd(partial[0], term(j, first))};
    })[0];
    return node.op == OpKind::Mean ? b.CreateFDiv(total, loops.ir.constant(static_cast<double>(length))) : total;
  }

  /// The position of term j of the run from `first`, and the term.
  Value *at(Value *j, Value *first) { return loops.position(j, inner, first); }
  Value *term(Value *j, Value *first) { return elementOf(loops, operand, x, at(j, first)); }

  /// The first maximum (or minimum) of the run and its index, an i64: a term replaces the best so far where it
  /// is greater (less) or NaN (FCMP_UGT, FCMP_ULT), and the best is not NaN.
  std::pair<Value *, Value *> firstExtreme(Value *first, bool minimum) {
    Value *start = loops.ir.constant(minimum ? INFINITY : -INFINITY);
    Carried best = loops.loop(length, {start, b.getInt64(0)}, [&](Value *j, llvm::ArrayRef<Value *> carried) {
      Value *value = term(j, first);
      Value *better =
          b.CreateAnd(b.CreateFCmp(minimum ? llvm::CmpInst::FCMP_ULT : llvm::CmpInst::FCMP_UGT, value, carried[0]),
                      b.CreateFCmp(llvm::CmpInst::FCMP_ORD, carried[0], carried[0]));
      return Carried{b.CreateSelect(better, value, carried[0]), b.CreateSelect(better, j, carried[1])};
    });
    return {best[0], best[1]};
  }

  /// 1 where argmax points, 0 elsewhere in the run; a scalar operand is its own argmax.
  Value *mask(Value *first) {
    if (!result)
      return loops.ir.constant(1);
    Value *index = firstExtreme(first, false).second;
    loops.loop(length, {}, [&](Value *j, llvm::ArrayRef<Value *>) {
      Value *one = b.CreateSelect(b.CreateICmpEQ(j, index), loops.ir.constant(1), loops.ir.constant(0));
      loops.store(one, result, at(j, first));
      return Carried{};
    });
    return nullptr;
  }

  /// softmax, log_softmax or logsumexp: the run's maximum subtracted where finite (else 0), the exp of each
  /// term added from +0; softmax stores each exp, then divides it by the sum.
  Value *softmax(Value *first) {
    IRLowering &ir = loops.ir;
    Value *max = firstExtreme(first, false).first;
    Value *finite =
        b.CreateFCmp(llvm::CmpInst::FCMP_OLT, ir.intrinsic(llvm::Intrinsic::fabs, {max}), ir.constant(INFINITY));
    Value *shift = b.CreateSelect(finite, max, ir.constant(0));
    auto shifted = [&](Value *j) { return b.CreateFSub(term(j, first), shift); };
    bool stores = node.op == OpKind::Softmax && result;
    Value *sum = loops.loop(length, {ir.constant(0)}, [&](Value *j, llvm::ArrayRef<Value *> partial) {
      Value *exp = ir.intrinsic(llvm::Intrinsic::exp, {shifted(j)});
      if (stores)
        loops.store(exp, result, at(j, first));
      return Carried{b.CreateFAdd(partial[0], exp)};
    })[0];
    Value *logSum = ir.intrinsic(llvm::Intrinsic::log, {sum});
    if (node.op == OpKind::LogSumExp)
      return b.CreateFAdd(shift, logSum);
    auto element = [&](Value *j, Value *exp) {
      return node.op == OpKind::Softmax ? b.CreateFDiv(exp, sum) : b.CreateFSub(shifted(j), logSum);
    };
    if (!result) { // a scalar operand: its one term
      Value *zero = b.getInt64(0);
      return element(zero, node.op == OpKind::Softmax ? ir.intrinsic(llvm::Intrinsic::exp, {shifted(zero)}) : nullptr);
    }
    loops.loop(length, {}, [&](Value *j, llvm::ArrayRef<Value *>) {
      Value *position = at(j, first);
      loops.store(element(j, stores ? loops.load(result, position) : nullptr), result, position);
      return Carried{};
    });
    return nullptr;
  }

  LoopEmitter &loops;
  llvm::IRBuilder<> &b;
  const Node &node, &operand;
  Value *x, *result;
  int64_t outer, length, inner;
};

/// sum_to: every operand element, in the operand's row-major order, added to the result element it broadcasts
/// from, after every result element was set to +0. A scalar result is one sum from +0.
Value *lowerSumTo(LoopEmitter &loops, const Graph &graph, const Node &node, Value *x, Value *result) {
  llvm::IRBuilder<> &b = loops.builder;
  const Node &operand = graph.node(node.operands[0]);
  llvm::ArrayRef<int64_t> shape = operand.type.shape;
  if (!result) {
    if (operand.type.isScalar())
      return b.CreateFAdd(loops.ir.constant(0), x);
    return loops.loop(elementCount(shape), {loops.ir.constant(0)}, [&](Value *i, llvm::ArrayRef<Value *> sum) {
      return Carried{b.CreateFAdd(sum[0], loops.load(x, i))};
    })[0];
  }
  uint64_t bytes = uint64_t(elementCount(node.type.shape)) * sizeof(double);
  b.CreateMemSet(result, b.getInt8(0), bytes, llvm::MaybeAlign(8));
  Shape strides = broadcastStrides(node.type.shape, shape.size()), own = rowMajorStrides(shape);
  loops.loopNest(shape, [&](llvm::ArrayRef<Value *> index) {
    Value *at = loops.position(index, strides);
    loops.store(b.CreateFAdd(loops.load(result, at), loops.load(x, loops.position(index, own))), result, at);
  });
  return result;
}

/// `count` elements of `x` (a scalar operand: its one value) to `result` from element `start` on.
void copyElements(LoopEmitter &loops, const Node &operand, Value *x, Value *result, int64_t start) {
  llvm::IRBuilder<> &b = loops.builder;
  Value *to = loops.address(result, b.getInt64(start));
  if (operand.type.isScalar()) {
    b.CreateStore(x, to);
    return;
  }
  uint64_t bytes = uint64_t(elementCount(operand.type.shape)) * sizeof(double);
  b.CreateMemCpy(to, llvm::MaybeAlign(8), x, llvm::MaybeAlign(8), bytes);
}

/// Index's elements of `source` (of `shape`) and the elements of `indexed`, row-major, matched one by one in a
/// loop nest over the indexed shape: copied from the source (`gather`) or into it.
void moveIndexed(LoopEmitter &loops, llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs,
                 llvm::ArrayRef<int64_t> indexedShape, Value *source, Value *indexed, bool gather) {
  Shape strides = indexStrides(shape, attrs), own = rowMajorStrides(indexedShape);
  int64_t start = indexStart(shape, attrs);
  Value *first = start ? loops.builder.getInt64(start) : nullptr;
  loops.loopNest(indexedShape, [&](llvm::ArrayRef<Value *> index) {
    Value *at = loops.position(index, strides, first), *element = loops.position(index, own);
    if (gather)
      loops.store(loops.load(source, at), indexed, element);
    else
      loops.store(loops.load(indexed, element), source, at);
  });
}

/// dynamic_index and dynamic_index_grad: the index is checked once (an integer with -size <= index < size) and,
/// where it is not valid, replaced by 0 before it becomes a position, so that every address stays inside the
/// source; the elements read there become NaN (dynamic_index), the elements stored there +0, as the zeros
/// around them (dynamic_index_grad). With one index per row (a vector index), each row of the source and of the
/// slab is done the same way with its own index.
Value *lowerDynamicIndex(LoopEmitter &loops, const Graph &graph, const Node &node, llvm::ArrayRef<Value *> operands,
                         Value *result) {
  llvm::IRBuilder<> &b = loops.builder;
  IRLowering &ir = loops.ir;
  bool gather = node.op == OpKind::DynamicIndex;
  const Node &operand = graph.node(node.operands[0]);
  llvm::ArrayRef<int64_t> source = gather ? operand.type.shape : node.type.shape;
  bool perRow = !graph.node(node.operands[1]).type.isScalar();
  int64_t rows = perRow ? source.front() : 1, axis = node.attrs[0] - (perRow ? 1 : 0);
  auto [outer, length, inner] = reductionExtent(perRow ? source.drop_front() : source, static_cast<size_t>(axis));
  // The slab of one index: from `from` (the source's or the slab's elements) to `to`, `index` a double.
  auto move = [&](Value *index, Value *from, Value *to) -> Value * {
    Value *extent = ir.constant(static_cast<double>(length));
    Value *inRange = b.CreateAnd(b.CreateFCmpOGE(index, b.CreateFNeg(extent)), b.CreateFCmpOLT(index, extent));
    Value *valid = b.CreateAnd(inRange, b.CreateFCmpOEQ(ir.intrinsic(llvm::Intrinsic::floor, {index}), index));
    Value *whole = b.CreateFPToSI(b.CreateSelect(valid, index, ir.constant(0)), b.getInt64Ty());
    Value *fromEnd = b.CreateAdd(whole, b.getInt64(length));
    Value *position = b.CreateSelect(b.CreateICmpSLT(whole, b.getInt64(0)), fromEnd, whole);
    Value *nan = ir.constant(std::numeric_limits<double>::quiet_NaN());
    if (!to) // one element of a vector
      return b.CreateSelect(valid, loops.load(from, position), nan);
    Value *slabStart = inner == 1 ? position : b.CreateMul(position, b.getInt64(inner), "", true, true);
    loops.loopNest({outer, inner}, [&](llvm::ArrayRef<Value *> at) {
      Value *inSource = loops.position(at, {length * inner, 1}, slabStart), *inSlab = loops.position(at, {inner, 1});
      if (gather)
        loops.store(b.CreateSelect(valid, loops.load(from, inSource), nan), to, inSlab);
      else
        loops.store(b.CreateSelect(valid, elementOf(loops, operand, from, inSlab), ir.constant(0)), to, inSource);
    });
    return to;
  };
  if (!gather)
    b.CreateMemSet(result, b.getInt8(0), uint64_t(elementCount(node.type.shape)) * sizeof(double), llvm::MaybeAlign(8));
  if (!perRow)
    return move(operands[1], operands[0], result);
  int64_t sourceRow = outer * length * inner, slabRow = outer * inner;
  int64_t fromRow = gather ? sourceRow : slabRow, toRow = gather ? slabRow : sourceRow;
  loops.loopNest({rows}, [&](llvm::ArrayRef<Value *> r) {
    move(loops.load(operands[1], r[0]), loops.address(operands[0], loops.position(r[0], fromRow)),
         loops.address(result, loops.position(r[0], toRow)));
  });
  return result;
}

/// The ops of gradient graphs that move elements without arithmetic (but for broadcast_to's repeats).
Value *lowerDataMovement(LoopEmitter &loops, const Graph &graph, const Node &node, llvm::ArrayRef<Value *> operands,
                         Value *result) {
  const Node &operand = graph.node(node.operands[0]);
  Value *x = operands[0];
  if (!result) // a scalar result: of a scalar operand, or the one element of a tensor (reshape)
    return elementOf(loops, operand, x, loops.builder.getInt64(0));
  switch (node.op) {
  case OpKind::BroadcastTo:
    return lowerElementwise(loops, graph, node, operands, result);
  case OpKind::Reshape:
  case OpKind::WithPartial: // its value operand (Simplify drops it before code is generated)
    copyElements(loops, operand, x, result, 0);
    return result;
  case OpKind::Transpose: {
    int64_t m = operand.type.shape[0], n = operand.type.shape[1];
    loops.loopNest({m, n}, [&](llvm::ArrayRef<Value *> index) {
      loops.store(loops.load(x, loops.position(index, {n, 1})), result, loops.position(index, {1, m}));
    });
    return result;
  }
  case OpKind::IndexGrad: {
    auto attrs = llvm::ArrayRef<int64_t>(node.attrs).drop_front(1 + static_cast<size_t>(node.attrs[0]));
    uint64_t bytes = uint64_t(elementCount(node.type.shape)) * sizeof(double);
    loops.builder.CreateMemSet(result, loops.builder.getInt8(0), bytes, llvm::MaybeAlign(8));
    if (indexIsContiguous(node.type.shape, attrs))
      copyElements(loops, operand, x, result, indexStart(node.type.shape, attrs));
    else
      moveIndexed(loops, node.type.shape, attrs, operand.type.shape, result, x, /*gather=*/false);
    return result;
  }
  default:
    llvm_unreachable("not an op that moves elements");
  }
}

} // namespace

int64_t bp::indexStart(const Graph &graph, NodeId id) {
  const Node &node = graph.node(id);
  return indexStart(graph.node(node.operands[0]).type.shape, node.attrs);
}

bool bp::indexReadsInPlace(const Graph &graph, NodeId id) {
  const Node &node = graph.node(id);
  return indexIsContiguous(graph.node(node.operands[0]).type.shape, node.attrs);
}

Value *bp::lowerTensorOp(IRLowering &ir, const Graph &graph, NodeId id, llvm::ArrayRef<Value *> operands,
                         Value *result) {
  LoopEmitter loops(ir);
  const Node &node = graph.node(id);
  if (takesAxis(node.op))
    return RunLowering(loops, graph, node, operands[0], result).lower();
  switch (node.op) {
  case OpKind::MatMul:
    return lowerMatMul(loops, graph, node, operands, result);
  case OpKind::Index:
    if (!result)
      return loops.load(operands[0], ir.builder.getInt64(indexStart(graph, id)));
    // A run of the operand's elements is read in place, where the emitter placed it (no copy).
    if (!indexReadsInPlace(graph, id))
      moveIndexed(loops, graph.node(node.operands[0]).type.shape, node.attrs, node.type.shape, operands[0], result,
                  /*gather=*/true);
    return result;
  case OpKind::DynamicIndex:
  case OpKind::DynamicIndexGrad:
    return lowerDynamicIndex(loops, graph, node, operands, result);
  case OpKind::SumTo:
    return lowerSumTo(loops, graph, node, operands[0], result);
  case OpKind::BroadcastTo:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::IndexGrad:
  case OpKind::WithPartial:
    return lowerDataMovement(loops, graph, node, operands, result);
  default:
    assert(!isTensorOp(node.op) && result && "an elementwise op with a tensor result");
    return lowerElementwise(loops, graph, node, operands, result);
  }
}

void bp::emitLoop(IRLowering &ir, int64_t count, llvm::function_ref<void(Value *i)> body) {
  LoopEmitter(ir).loop(count, {}, [&](Value *i, llvm::ArrayRef<Value *>) {
    body(i);
    return Carried{};
  });
}
