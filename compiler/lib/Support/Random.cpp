//===- Random.cpp - Reproducible random numbers for initializers ----------===//
//
// The bp library is built with -ffp-contract=off (compiler/CMakeLists.txt): no fused multiply-add may change a
// result between machines that have one and machines that do not.
//
//===----------------------------------------------------------------------===//
#include "bp/Random.h"

#include <cassert>
#include <cmath>
#include <cstring>

using namespace bp;

uint64_t bp::splitMix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

RandomStream::RandomStream(uint64_t seed) {
  for (uint64_t &word : state)
    word = splitMix64(seed);
}

uint64_t RandomStream::next() {
  uint64_t result = rotateLeft(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotateLeft(state[3], 45);
  return result;
}

static double unitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

double RandomStream::uniform(double low, double high) { return low + (high - low) * unitInterval(next()); }

double RandomStream::normal(double mean, double std) {
  double z;
  if (hasSpare) {
    z = spare;
    hasSpare = false;
  } else {
    double u, v, s;
    do {
      u = 2 * unitInterval(next()) - 1;
      v = 2 * unitInterval(next()) - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double factor = std::sqrt(-2 * portableLog(s) / s); // sqrt is correctly rounded in IEEE 754
    z = u * factor;
    spare = v * factor;
    hasSpare = true;
  }
  return mean + std * z;
}

double bp::portableLog(double x) {
  assert(x > 0 && std::isfinite(x) && "portableLog takes a positive finite number");
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)), taken from the bits (subnormals scaled up first).
  int e = 0;
  if (x < 0x1.0p-1022) {
    x *= 0x1.0p54;
    e = -54;
  }
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  e += static_cast<int>((bits >> 52) & 0x7FF) - 1023;
  bits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull; // m in [1, 2)
  double m;
  std::memcpy(&m, &bits, sizeof m);
  if (m >= 1.4142135623730951) {
    m *= 0.5;
    ++e;
  }
  // log(m) = 2 atanh(z) = 2 (z + z^3/3 + z^5/5 + ...), z = (m - 1) / (m + 1), |z| <= 0.1716: 14 terms reach
  // 0.1716^29 / 29 < 2^-77 relative to z.
  double z = (m - 1) / (m + 1), z2 = z * z, sum = 0;
  for (int k = 27; k >= 1; k -= 2)
    sum = sum * z2 + 1.0 / k;
  double logM = 2 * z * sum;
  // e * log(2), with log(2) split so that e * ln2High is exact (ln2High has 32 significant bits, |e| < 1100).
  const double ln2High = 0x1.62e42fee00000p-1, ln2Low = 0x1.a39ef35793c76p-33;
  return e * ln2High + (logM + e * ln2Low);
}
