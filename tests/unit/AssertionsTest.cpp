//===- AssertionsTest.cpp - Checked builds really check -------------------===//
//
// The sanitizer build (BP_SANITIZE=ON, which scripts/check.sh and CI run) keeps assertions on, so that
// verifyModule and every graph invariant run under the whole suite. This test fails if a build type's
// -DNDEBUG slips back in.
//
//===----------------------------------------------------------------------===//
#include "bp/Graph.h"

#include "gtest/gtest.h"

using namespace bp;

TEST(Assertions, AreOnInCheckedBuilds) {
#ifndef BP_ASSERTIONS_EXPECTED
  GTEST_SKIP() << "assertions are checked in the sanitizer build only";
#elif defined(NDEBUG)
  FAIL() << "the sanitizer build must keep assertions on, but NDEBUG is defined";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Graph graph;
  EXPECT_DEATH(graph.addNode(OpKind::Add, {}, {}), "wrong number of operands");
#endif
}
