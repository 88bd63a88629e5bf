//===- RandomTest.cpp - Initializer randomness: reproducible and well distributed ---===//
#include "bp/Random.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace bp;

TEST(Random, SplitMix64MatchesItsReferenceOutput) {
  // The reference implementation (Vigna, splitmix64.c) from state 0 gives these first outputs.
  uint64_t state = 0;
  EXPECT_EQ(splitMix64(state), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitMix64(state), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(splitMix64(state), 0x06C45D188009454Full);
}

TEST(Random, PortableLogIsWithinAnUlpOfLibm) {
  std::mt19937_64 bits(1);
  std::uniform_real_distribution<double> exponent(-1070, 1020);
  for (int i = 0; i < 200000; ++i) {
    double x = std::ldexp(1 + (bits() >> 11) * 0x1.0p-53, static_cast<int>(exponent(bits)));
    double expected = std::log(x), actual = portableLog(x);
    EXPECT_LE(std::fabs(actual - expected), 2 * std::fabs(std::nextafter(expected, 0) - expected) + 1e-300)
        << "log(" << x << ")";
  }
  EXPECT_EQ(portableLog(1), 0);
  EXPECT_NEAR(portableLog(0.5), -0.6931471805599453, 1e-16);
  EXPECT_NEAR(portableLog(0x1.0p-1074), -744.4400719213812, 1e-12); // the smallest subnormal
}

TEST(Random, SameSeedSameNumbersOtherSeedOthers) {
  RandomStream a(0), b(0), c(1);
  for (int i = 0; i < 100; ++i) {
    double x = a.normal(0, 1);
    EXPECT_EQ(x, b.normal(0, 1));
    EXPECT_NE(x, c.normal(0, 1));
  }
}

TEST(Random, UniformStaysInItsRangeWithTheRightMean) {
  RandomStream stream(7);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = stream.uniform(-2, 3);
    ASSERT_GE(x, -2);
    ASSERT_LT(x, 3);
    sum += x;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.02); // standard error 5 / sqrt(12 n) = 0.0032
}

TEST(Random, NormalHasItsMeanAndDeviation) {
  RandomStream stream(42);
  const int n = 200000;
  double sum = 0, squares = 0, beyondTwo = 0;
  for (int i = 0; i < n; ++i) {
    double x = stream.normal(1.5, 0.5);
    sum += x;
    squares += (x - 1.5) * (x - 1.5);
    beyondTwo += std::fabs(x - 1.5) > 1.0;
  }
  EXPECT_NEAR(sum / n, 1.5, 0.005);              // standard error 0.5 / sqrt(n) = 0.0011
  EXPECT_NEAR(std::sqrt(squares / n), 0.5, 0.005);
  EXPECT_NEAR(beyondTwo / n, 0.0455, 0.003);      // P(|Z| > 2) = 0.0455
}

TEST(Random, SeedZeroGivesThePublishedNumbers) {
  // Scripts initialized with normal()/uniform() get these exact numbers with --seed 0 on every machine; a change
  // here changes every user's initial values, so it must be deliberate (and documented).
  RandomStream normals(0);
  EXPECT_EQ(normals.normal(0, 1), 0x1.323a82a4bc9e5p-1);
  EXPECT_EQ(normals.normal(0, 1), 0x1.76a54f2c0effap+0);
  EXPECT_EQ(normals.normal(0, 1), -0x1.ca445408b789cp-1);
  EXPECT_EQ(normals.normal(0, 1), -0x1.81270d2ddbad6p-3);
  RandomStream uniforms(0);
  EXPECT_EQ(uniforms.uniform(0, 1), 0x1.33d8be6d96ebep-1);
  EXPECT_EQ(uniforms.uniform(0, 1), 0x1.7edc3ef092ac8p-1);
}
