//===- NumberFormatTest.cpp - Shortest round-trip printing, like Python's repr ---===//
#include "bp/NumberFormat.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using bp::formatNumber;

TEST(NumberFormat, MatchesPythonReprWithoutTrailingPointZero) {
  // Expected strings are Python's repr(x), with "X.0" written as "X".
  EXPECT_EQ(formatNumber(-7.0), "-7");
  EXPECT_EQ(formatNumber(7.0), "7");
  EXPECT_EQ(formatNumber(-6.0113999999999965), "-6.0113999999999965");
  EXPECT_EQ(formatNumber(0.1), "0.1");
  EXPECT_EQ(formatNumber(0.9525741268224334), "0.9525741268224334");
  EXPECT_EQ(formatNumber(1e-5), "1e-05");
  EXPECT_EQ(formatNumber(0.0001), "0.0001");
  EXPECT_EQ(formatNumber(100000.0), "100000");
  EXPECT_EQ(formatNumber(1e16), "1e+16");
  EXPECT_EQ(formatNumber(9999999999999998.0), "9999999999999998");
  EXPECT_EQ(formatNumber(1.5e300), "1.5e+300");
  EXPECT_EQ(formatNumber(5e-324), "5e-324");
  EXPECT_EQ(formatNumber(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(formatNumber(123.456), "123.456");
  EXPECT_EQ(formatNumber(-0.0), "-0");
  EXPECT_EQ(formatNumber(0.0), "0");
  EXPECT_EQ(formatNumber(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(formatNumber(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(formatNumber(std::nan("")), "nan");
}

TEST(NumberFormat, EveryPrintedNumberReadsBackBitForBit) {
  std::mt19937_64 random(12345);
  for (int i = 0; i < 100000; ++i) {
    uint64_t bits = random();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    if (!std::isfinite(value))
      continue;
    double back;
    ASSERT_TRUE(bp::parseNumber(formatNumber(value), back)) << formatNumber(value);
    ASSERT_EQ(std::memcmp(&value, &back, sizeof value), 0) << formatNumber(value);
  }
}

TEST(NumberFormat, ParseNumberRejectsWhatIsNotOneNumber) {
  double value;
  EXPECT_TRUE(bp::parseNumber("-2.5e3", value));
  EXPECT_EQ(value, -2500);
  EXPECT_FALSE(bp::parseNumber("", value));
  EXPECT_FALSE(bp::parseNumber("3x", value));
  EXPECT_FALSE(bp::parseNumber(" 3", value));
  EXPECT_FALSE(bp::parseNumber("0x10", value));
  EXPECT_FALSE(bp::parseNumber("1e999", value));
}
