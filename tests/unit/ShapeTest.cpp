//===- ShapeTest.cpp - Shape rules and tensor printing --------------------===//
#include "bp/NumberFormat.h"
#include "bp/Shape.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <numeric>

using namespace bp;

namespace {

/// The shape, or the error's message prefixed with "error: ".
template <typename T> std::string outcome(llvm::Expected<T> result) {
  if (!result)
    return "error: " + llvm::toString(result.takeError());
  if constexpr (std::is_same_v<T, Shape>)
    return formatShape(*result);
  else
    return std::to_string(*result);
}

} // namespace

TEST(Shape, BroadcastsTheWayNumPyDoes) {
  EXPECT_EQ(outcome(broadcastShapes({}, {2, 3}, "add")), "[2,3]");
  EXPECT_EQ(outcome(broadcastShapes({2, 3}, {3}, "add")), "[2,3]");
  EXPECT_EQ(outcome(broadcastShapes({2, 1}, {1, 3}, "add")), "[2,3]");
  EXPECT_EQ(outcome(broadcastShapes({4, 1, 3}, {2, 1}, "add")), "[4,2,3]");
  EXPECT_EQ(outcome(broadcastShapes({2, 3}, {4}, "add")),
            "error: cannot add [2,3] and [4]: dimensions 3 and 4 differ and neither is 1");
  EXPECT_EQ(outcome(broadcastShapes({2, 3}, {3, 3}, "compare")),
            "error: cannot compare [2,3] and [3,3]: dimensions 2 and 3 differ and neither is 1");
}

TEST(Shape, MatmulFollowsTheSpec) {
  EXPECT_EQ(outcome(matmulShape({1, 3}, {3, 2})), "[1,2]");
  EXPECT_EQ(outcome(matmulShape({3}, {3, 2})), "[2]");
  EXPECT_EQ(outcome(matmulShape({2, 3}, {3})), "[2]");
  EXPECT_EQ(outcome(matmulShape({3}, {3})), "[]");
  EXPECT_EQ(outcome(matmulShape({1, 3}, {2, 2})), "error: cannot multiply [1,3] by [2,2]: inner dimensions 3 and 2 differ");
  EXPECT_THAT(outcome(matmulShape({}, {2, 2})), testing::HasSubstr("not scalars (use '*')"));
  EXPECT_THAT(outcome(matmulShape({2, 2, 2}, {2, 2})), testing::HasSubstr("not tensors of rank 3"));
}

TEST(Shape, ReductionsAxesAndIndices) {
  EXPECT_EQ(outcome(reductionShape({2, 3}, std::nullopt)), "[]");
  EXPECT_EQ(outcome(reductionShape({2, 3}, 0)), "[3]");
  EXPECT_EQ(outcome(reductionShape({2, 3}, -1)), "[2]");
  EXPECT_EQ(outcome(reductionShape({2, 3}, 2)),
            "error: axis 2 is out of range for [2,3] (axes 0 to 1, or -1 to -2 from the end)");
  EXPECT_EQ(outcome(reductionShape({}, 0)), "error: axis 0 is out of range for [], a scalar");
  EXPECT_EQ(outcome(transposeShape({2, 3})), "[3,2]");
  EXPECT_EQ(outcome(transposeShape({3})), "error: transpose takes a matrix, not [3]");
  EXPECT_EQ(outcome(normalizeIndex(-1, 3, 0)), "2");
  EXPECT_EQ(outcome(normalizeIndex(3, 3, 1)), "error: index 3 is out of range for dimension 1 of size 3");
  EXPECT_EQ(outcome(normalizeIndex(-4, 3, 0)), "error: index -4 is out of range for dimension 0 of size 3");
  EXPECT_EQ(rowMajorStrides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(elementCount({2, 3, 4}), 24);
  EXPECT_EQ(elementCount({}), 1);
}

TEST(Shape, TensorsPrintAsNestedListsOnOneLine) {
  EXPECT_EQ(formatTensor({0.9308615796566531, 0.9002495108803148}, {1, 2}),
            "[[0.9308615796566531, 0.9002495108803148]]");
  EXPECT_EQ(formatTensor({0.5, -0.3, 0.1, 0.8, -0.6, 0.2}, {3, 2}), "[[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]");
  EXPECT_EQ(formatTensor({7}, {}), "7");
  EXPECT_EQ(formatTensor({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), "[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]");
  EXPECT_EQ(formatTensor({NAN, -0.0}, {2}), "[nan, -0]");
}

TEST(Shape, LargeTensorsAreSummarizedLikeNumPy) {
  std::vector<double> values(2000);
  std::iota(values.begin(), values.end(), 0.0);
  EXPECT_EQ(formatTensor(values, {2000}, true), "[0, 1, 2, ..., 1997, 1998, 1999]");
  EXPECT_EQ(formatTensor(values, {2000}, false).size(), formatTensor(values, {2000}).size());
  EXPECT_EQ(formatTensor(values, {100, 20}, true),
            "[[0, 1, 2, ..., 17, 18, 19], [20, 21, 22, ..., 37, 38, 39], [40, 41, 42, ..., 57, 58, 59], ..., "
            "[1940, 1941, 1942, ..., 1957, 1958, 1959], [1960, 1961, 1962, ..., 1977, 1978, 1979], "
            "[1980, 1981, 1982, ..., 1997, 1998, 1999]]");
  // At the threshold (1000 elements) nothing is summarized, as in NumPy.
  values.resize(1000);
  EXPECT_THAT(formatTensor(values, {1000}, true), testing::Not(testing::HasSubstr("...")));
}

TEST(Shape, SlicesClampAsNumPyDoesAndKeepTheirDimension) {
  auto slice = [](std::optional<int64_t> lo, std::optional<int64_t> hi, int64_t size) -> std::string {
    auto bounds = normalizeSlice(lo, hi, size, 1);
    if (!bounds)
      return "error: " + llvm::toString(bounds.takeError());
    return std::to_string(bounds->first) + ":" + std::to_string(bounds->second);
  };
  EXPECT_EQ(slice(1, 3, 4), "1:3");
  EXPECT_EQ(slice(std::nullopt, std::nullopt, 4), "0:4");
  EXPECT_EQ(slice(-2, std::nullopt, 4), "2:4");
  EXPECT_EQ(slice(std::nullopt, -1, 4), "0:3");
  EXPECT_EQ(slice(-10, 99, 4), "0:4");
  EXPECT_EQ(slice(3, 1, 4), "error: slice 3:1 is empty for dimension 1 of size 4");
  EXPECT_EQ(slice(4, std::nullopt, 4), "error: slice 4: is empty for dimension 1 of size 4");
  EXPECT_EQ(slice(std::nullopt, -4, 4), "error: slice :-4 is empty for dimension 1 of size 4");
  // Triples {kind, begin, end}: kind 0 drops its dimension, kind 1 keeps it.
  EXPECT_EQ(outcome(indexShape({3, 4}, {IndexSlice, 1, 3})), "[2,4]");
  EXPECT_EQ(outcome(indexShape({3, 4}, {IndexSlice, 0, 3, IndexInteger, 2, 3})), "[3]");
  EXPECT_EQ(outcome(indexShape({3, 4}, {IndexInteger, 1, 3})),
            "error: index attrs must be {kind, begin, end} triples");
  EXPECT_EQ(outcome(indexShape({3, 4}, {IndexSlice, 2, 2})),
            "error: index attrs 2 to 2 do not lie in dimension 0 of size 3");
  // What x[1:3, 0] of a [3,4] reads: from element 4, 4 apart; x[1:3] and x[1, 1:3] are one run each.
  EXPECT_EQ(indexStart({3, 4}, {IndexSlice, 1, 3, IndexInteger, 0, 1}), 4);
  EXPECT_EQ(indexStrides({3, 4}, {IndexSlice, 1, 3, IndexInteger, 0, 1}), (Shape{4}));
  EXPECT_EQ(indexStrides({3, 4, 5}, {IndexInteger, 1, 2, IndexSlice, 0, 2}), (Shape{5, 1}));
  EXPECT_FALSE(indexIsContiguous({3, 4}, {IndexSlice, 1, 3, IndexInteger, 0, 1}));
  EXPECT_FALSE(indexIsContiguous({3, 4}, {IndexSlice, 0, 3, IndexSlice, 1, 4}));
  EXPECT_TRUE(indexIsContiguous({3, 4}, {IndexSlice, 1, 3}));
  EXPECT_TRUE(indexIsContiguous({3, 4}, {IndexInteger, 1, 2, IndexSlice, 1, 3}));
  EXPECT_TRUE(indexIsContiguous({3, 4}, {IndexSlice, 2, 3, IndexSlice, 1, 3}));
}

TEST(Shape, RunTimeIndicesAreIntegersInRange) {
  EXPECT_EQ(outcome(dynamicIndexShape({2, 3, 4}, 1)), "[2,4]");
  EXPECT_EQ(outcome(dynamicIndexShape({}, 0)), "error: cannot index [] along axis 0: it is a scalar");
  EXPECT_EQ(dynamicIndexPosition(2, 3), 2);
  EXPECT_EQ(dynamicIndexPosition(-3, 3), 0);
  EXPECT_EQ(dynamicIndexPosition(-0.0, 3), 0);
  for (double invalid : {3.0, -4.0, 0.5, -0.5, double(NAN), double(INFINITY), -1e300, 0x1p63})
    EXPECT_EQ(dynamicIndexPosition(invalid, 3), std::nullopt) << invalid;
}
