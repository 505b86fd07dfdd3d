#pragma once
// IEEE binary16 rounding, for emulating a float16 path (LLM.int8()'s outlier
// product): the float16 value nearest to a float32, ties to even, as a float32.
// Overflow gives +-Inf (|x| >= 65520, the tie above the largest half 65504
// rounding up), values below 2^-14 round to the subnormal grid of 2^-24, NaN
// and Inf pass through, the sign of zero is kept.
#include <cstdint>
#include <cstring>
#include <limits>

#include "quant/rounding.h"

namespace sqsim {

inline float round_to_fp16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t sign = u & 0x80000000u;
  uint32_t a = u ^ sign;
  if (a >= 0x7f800000u) return x;  // Inf, NaN
  float ax;
  std::memcpy(&ax, &a, 4);
  float r;
  if (ax >= 65520.0f) {
    r = std::numeric_limits<float>::infinity();
  } else if (ax < 6.103515625e-05f) {  // 2^-14: the subnormal halves, a grid of 2^-24 (exact scalings)
    r = round_half_even(ax * 16777216.0f) * 5.9604644775390625e-08f;
  } else {  // a normal half: 10 of float's 23 fraction bits kept, the rest rounded to even
    a += 0x0FFFu + ((a >> 13) & 1u);
    a &= ~0x1FFFu;
    std::memcpy(&r, &a, 4);
  }
  std::memcpy(&u, &r, 4);
  u |= sign;
  std::memcpy(&r, &u, 4);
  return r;
}

}  // namespace sqsim
