//===- Shape.h - Static shapes and the shape rules of tensor ops -*- C++ -*-===//
//
// Every value in a bp graph has a static shape: [] for a scalar, [n] for a vector, [m,n] for a matrix, up to
// rank 4. These functions are the shape rules the IR applies when it builds an op: each returns the result's
// shape, or an error whose message names the operands' shapes, for the front end to report at the token:
//
//   error: cannot multiply [1,3] by [2,2]: inner dimensions 3 and 2 differ
//
//===----------------------------------------------------------------------===//
#ifndef BP_SHAPE_H
#define BP_SHAPE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bp {

using Shape = std::vector<int64_t>;

/// The largest rank a declaration may have.
constexpr size_t MaxRank = 4;

/// "[1,3]", or "[]" for a scalar: how shapes appear in messages and in `bpc graph`.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// How element #index (row-major) of a value named `name` of `shape` is written: `W[1,0]`; a scalar's name alone.
std::string elementName(const std::string &name, llvm::ArrayRef<int64_t> shape, int64_t index);

/// The number of elements: 1 for a scalar.
int64_t elementCount(llvm::ArrayRef<int64_t> shape);

/// NumPy's broadcasting: shapes are aligned at their last dimension; each pair of dimensions must be equal or
/// one of them 1, and the result takes the larger; a missing dimension counts as 1. `verb` names the operation
/// in the message ("add", "compare"): "cannot add [2,3] and [4]: dimensions 3 and 4 differ and neither is 1".
llvm::Expected<Shape> broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b, const char *verb);

/// `a @ b`: [m,k] @ [k,n] -> [m,n], [k] @ [k,n] -> [n], [m,k] @ [k] -> [m], [k] @ [k] -> [].
llvm::Expected<Shape> matmulShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// An axis as written (negative counts from the end) as a position in a shape of this rank, or an error.
llvm::Expected<size_t> normalizeAxis(int64_t axis, llvm::ArrayRef<int64_t> shape);

/// A reduction (sum, mean, max, min, logsumexp, argmax) over every element (no axis: a scalar) or over one axis (removed).
llvm::Expected<Shape> reductionShape(llvm::ArrayRef<int64_t> shape, std::optional<int64_t> axis);

/// An op along one axis that keeps its operand's shape (softmax, log_softmax): that shape, once the axis (if
/// any) is checked.
llvm::Expected<Shape> alongAxisShape(llvm::ArrayRef<int64_t> shape, std::optional<int64_t> axis);

/// transpose(x): rank 2 only, [m,n] -> [n,m].
llvm::Expected<Shape> transposeShape(llvm::ArrayRef<int64_t> shape);

/// A literal index into a dimension of `size` (negative counts from the end) as a position, or an error that
/// names the dimension.
llvm::Expected<int64_t> normalizeIndex(int64_t index, int64_t size, size_t dimension);

/// A reduction's view of its operand: `outer` independent groups, each of `length` terms `inner` elements apart
/// (row-major). Over every element (no axis): one group of all elements, adjacent.
struct ReductionExtent {
  int64_t outer, length, inner;
};
ReductionExtent reductionExtent(llvm::ArrayRef<int64_t> shape, std::optional<size_t> axis);
/// The same for an op whose attrs are {axis} (counted from 0) or none (every element): reductions, argmax and
/// the softmax family.
ReductionExtent axisExtent(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs);

/// Row-major strides: the distance in elements between neighbours along each dimension.
Shape rowMajorStrides(llvm::ArrayRef<int64_t> shape);

/// The strides of a value of `shape` read as broadcast to a shape of `rank` dimensions: 0 along a dimension of
/// size 1 or missing.
Shape broadcastStrides(llvm::ArrayRef<int64_t> shape, size_t rank);

/// The kinds of Index's attrs, a {kind, begin, end} triple per leading dimension indexed: one integer (begin,
/// end = begin + 1; the dimension dropped), or a slice (0 <= begin < end <= size; the dimension kept, of size
/// end - begin).
constexpr int64_t IndexInteger = 0, IndexSlice = 1;

/// A slice `lo:hi` with literal bounds (either left out) of a dimension of `size`, as NumPy takes it: a negative
/// bound counts from the end, then both are clamped to [0, size]. Returns {begin, end}, or an error that names
/// the dimension when the slice is empty (bp has no tensors without elements).
llvm::Expected<std::pair<int64_t, int64_t>> normalizeSlice(std::optional<int64_t> lo, std::optional<int64_t> hi,
                                                           int64_t size, size_t dimension);

/// Index of a source of `shape` with these attrs (triples as above, bounds counted from 0): the integer-indexed
/// dimensions dropped, the sliced ones of their slice's size, the dimensions not indexed kept.
llvm::Expected<Shape> indexShape(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs);

/// Where Index with these attrs starts reading a source of `shape`, row-major: the element at every begin.
int64_t indexStart(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs);

/// Per dimension of Index's result, the distance in the source between neighbours along it: Index reads
/// result element r from the source at indexStart + sum of r[d] * indexStrides[d].
Shape indexStrides(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs);

/// Whether what Index reads is one contiguous run of the source (so it can be read in place): no slice but the
/// first that leaves a dimension longer than 1 may be followed by a dimension it does not take whole.
bool indexIsContiguous(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs);

/// DynamicIndex and its gradient: a source of `shape` indexed at run time along `axis`, which is dropped.
llvm::Expected<Shape> dynamicIndexShape(llvm::ArrayRef<int64_t> shape, int64_t axis);

/// A run-time index into a dimension of `size`: its position when it is an integer with -size <= index < size
/// (negative counts from the end); nullopt for a fraction, NaN, an infinity or a number out of range.
std::optional<int64_t> dynamicIndexPosition(double index, int64_t size);

} // namespace bp

#endif // BP_SHAPE_H
