#pragma once
// The rounding modes of docs/quantization.md ("Rounding"). Inline: they sit in
// the innermost loop of every quantizer.
#include <cmath>
#include <cstdint>

#include "quant/quant_spec.h"

namespace sqsim {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 24 random bits, a pure function of (seed, index).
inline float stochastic_uniform(uint64_t seed, uint64_t index) {
  const uint64_t bits = splitmix64(seed ^ (index * 0x9E3779B97F4A7C15ull)) >> 40;
  return static_cast<float>(bits) * (1.0f / 16777216.0f);
}

// Rounds v to an integer-valued float. `index` is the element's flat position
// (only stochastic rounding uses it).
inline float round_value(float v, Rounding mode, uint64_t seed, uint64_t index) {
  switch (mode) {
    case Rounding::kHalfEven: return std::nearbyint(v);
    case Rounding::kHalfAwayFromZero: return std::round(v);
    case Rounding::kStochastic: return std::floor(v + stochastic_uniform(seed, index));
  }
  return std::nearbyint(v);
}

// Clamps an integer-valued float into [lo, hi] and converts it. Values far
// outside int range (possible only for huge v) clamp correctly too.
inline int clamp_to_int(float v, int lo, int hi) {
  if (v < static_cast<float>(lo)) return lo;
  if (v > static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

}  // namespace sqsim
