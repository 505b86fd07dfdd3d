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

// Round half to even, bit-identical to std::nearbyint in the default
// round-to-nearest mode (the only mode sqsim runs in), sign of zero included.
// Written out because GCC cannot vectorize nearbyint on baseline x86-64 (no
// SSE4.1 roundps) and would call libm per element: adding and subtracting
// 2^23 (with v's sign) leaves v rounded to an integer by the FPU's own
// nearest-even rounding. |v| >= 2^23 (and Inf/NaN) is already integral: the
// magic number is 0 there, leaving v unchanged (selecting the constant, not the
// result, keeps the arithmetic unconditional, which GCC needs to vectorize
// under -ftrapping-math). copysign restores -0.0 for v in [-0.5, -0].
// Checked against std::nearbyint for all 2^32 bit patterns except NaN.
inline float round_half_even(float v) {
  const float magic = std::fabs(v) < 8388608.0f ? std::copysign(8388608.0f, v) : 0.0f;
  return std::copysign((v + magic) - magic, v);
}

// Rounds v to an integer-valued float. `index` is the element's flat position
// (only stochastic rounding uses it).
inline float round_value(float v, Rounding mode, uint64_t seed, uint64_t index) {
  switch (mode) {
    case Rounding::kHalfEven: return round_half_even(v);
    case Rounding::kHalfAwayFromZero: return std::round(v);
    case Rounding::kStochastic: return std::floor(v + stochastic_uniform(seed, index));
  }
  return round_half_even(v);
}

// Clamps an integer-valued float into [lo, hi] and converts it. Values far
// outside int range (possible only for huge v) clamp correctly too.
inline int clamp_to_int(float v, int lo, int hi) {
  // Selects rather than early returns, so that loops calling this vectorize;
  // same result as "v < lo ? lo : v > hi ? hi : int(v)" for every non-NaN v.
  const float low = v < static_cast<float>(lo) ? static_cast<float>(lo) : v;
  const float clamped = low > static_cast<float>(hi) ? static_cast<float>(hi) : low;
  return static_cast<int>(clamped);
}

}  // namespace sqsim
