//===- TestHelpers.h - Compiling scripts from strings in unit tests -------===//
#ifndef BP_TEST_HELPERS_H
#define BP_TEST_HELPERS_H

#include "bp/Diagnostics.h"
#include "bp/Frontend.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <string>

namespace bp::test {

/// The same double bit for bit, or NaN in both. IEEE 754 (and LLVM's semantics) leave the sign and payload of
/// a NaN result open, so which NaN comes out of `a * b` with two NaN operands may differ between compilers.
inline bool sameValue(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

/// Compiles `text` as a script (random initializers seeded by `seed`); fails the test with the diagnostics if
/// it does not compile.
inline Graph compileOrFail(const std::string &text, uint64_t seed = 0) {
  auto file = makeSourceFile("test.bp", text);
  if (!file) {
    ADD_FAILURE() << llvm::toString(file.takeError());
    return Graph();
  }
  auto graph = compileScript(*file, seed);
  if (!graph) {
    ADD_FAILURE() << llvm::toString(graph.takeError());
    return Graph();
  }
  return std::move(*graph);
}

/// The rendered diagnostics for a script that must fail to compile ("" if it compiled).
inline std::string diagnosticsFor(const std::string &text) {
  auto file = makeSourceFile("test.bp", text);
  if (!file)
    return llvm::toString(file.takeError());
  auto graph = compileScript(*file);
  if (graph)
    return "";
  return llvm::toString(graph.takeError());
}

} // namespace bp::test

#endif // BP_TEST_HELPERS_H
