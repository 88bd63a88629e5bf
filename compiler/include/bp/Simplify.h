//===- Simplify.h - Graph-level optimization before LLVM --------*- C++ -*-===//
//
// Shrinks a graph before it is lowered: dead nodes go (nothing is computed that no result needs), common
// subexpressions are merged, operations on constants are folded with the op table's own forward rules, and
// identities are applied where IEEE arithmetic makes them exact. Every result stays bit-identical.
// Tensors: every node keeps its shape (an identity that would change it, as a broadcast does, is not applied),
// nodes merge only with the same attrs and constants only with the same shape and elements, and only scalar
// operations are folded. Checked builds verify the simplified graph's shapes (Graph::verify).
//
//===----------------------------------------------------------------------===//
#ifndef BP_SIMPLIFY_H
#define BP_SIMPLIFY_H

#include "bp/Graph.h"

#include <vector>

namespace bp {

/// A simplified copy of `graph` computing the same values for `roots`, which are rewritten to their ids in the
/// copy. Every input and param is kept, in the same order, so the copy has the same arguments.
///
/// The identities used: x * 1 = 1 * x = x, x / 1 = x, x - 0 = x, x + (-0) = (-0) + x = x, -(-x) = x, x ^ 1 = x,
/// and dmul(x, c) = x * c, dmul(c, x) = c * x for a finite nonzero constant c; with_partial(x, arg, partial) = x
/// (a def's stated derivative matters only to a graph that is differentiated again, which a simplified one is
/// not: its partials are computed only where a gradient uses them).
/// Not used: x + 0 = x (false for x = -0), x * 0 = 0 (false for NaN, infinities and negative x), reordering.
/// A constant may be a tensor with every element equal; the identity holds only where x has the result's shape.
Graph simplifyGraph(const Graph &graph, std::vector<NodeId> &roots);

} // namespace bp

#endif // BP_SIMPLIFY_H
