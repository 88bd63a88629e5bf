//===- Random.h - Reproducible random numbers for initializers --*- C++ -*-===//
//
// `normal(MEAN, STD)` and `uniform(LOW, HIGH)` initializers draw from one generator per script, seeded by
// `--seed S` (default 0). The numbers must be the same on every platform and with every compiler, which the
// std:: distributions do not promise (their algorithms are unspecified) and libm's log does not either (its
// last bit differs between C libraries). So everything here is written out with IEEE basic operations only:
//   - the bits: xoshiro256** (Blackman and Vigna), its state filled from S by splitmix64;
//   - uniform(low, high): low + (high - low) * u, with u = (top 53 bits) * 2^-53 in [0, 1);
//   - normal(mean, std): Marsaglia's polar method, with its own logarithm (below) and IEEE sqrt; each accepted
//     pair gives two numbers, used in order.
// Values are drawn in declaration order, each tensor's elements in row-major order.
//
//===----------------------------------------------------------------------===//
#ifndef BP_RANDOM_H
#define BP_RANDOM_H

#include <cstdint>

namespace bp {

class RandomStream {
public:
  explicit RandomStream(uint64_t seed);

  /// The next 64 random bits.
  uint64_t next();
  /// A number in [low, high) (or [high, low) when high < low).
  double uniform(double low, double high);
  /// A normally distributed number with this mean and standard deviation.
  double normal(double mean, double std);

private:
  uint64_t state[4];
  bool hasSpare = false;
  double spare = 0; // the second number of the last polar-method pair, standard normal
};

/// splitmix64: the generator that fills xoshiro's state, exposed for tests. Advances `state`.
uint64_t splitMix64(uint64_t &state);

/// The natural logarithm of a positive finite x, from IEEE basic operations only (so the same bits everywhere),
/// accurate to about one unit in the last place. Used by the polar method; exposed for tests.
double portableLog(double x);

} // namespace bp

#endif // BP_RANDOM_H
