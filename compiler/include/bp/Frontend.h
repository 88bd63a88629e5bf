//===- Frontend.h - From a script to its checked IR graph -------*- C++ -*-===//
#ifndef BP_FRONTEND_H
#define BP_FRONTEND_H

#include "bp/AST.h"
#include "bp/Diagnostics.h"
#include "bp/Graph.h"

#include <optional>
#include <string_view>

namespace bp {

/// Scripts whose defs expand to more nodes than this are refused (defs are inlined at every call, so a few
/// lines can describe an exponential number of nodes).
constexpr size_t MaxGraphNodes = 4'000'000;

/// Scripts whose values (every element of every node, tensors included) add up to more numbers than this are
/// refused: 800 MB of doubles, so that a few declarations cannot ask the interpreter for unbounded memory.
constexpr size_t MaxGraphElements = 100'000'000;

/// Checks a parsed script (names, arity, recursion, outputs) and builds its graph, inlining every def.
/// Every semantic error is reported in `diags`; the graph is returned only when there were none. `normal` and
/// `uniform` initializers draw from one RandomStream(seed), in declaration order, each tensor row-major.
std::optional<Graph> buildGraph(const Script &script, DiagnosticEngine &diags, uint64_t seed = 0);

/// The whole front end: parse, check and build. On failure the error holds every diagnostic for the file.
llvm::Expected<Graph> compileScript(const SourceFileRef &file, uint64_t seed = 0);

} // namespace bp

#endif // BP_FRONTEND_H
