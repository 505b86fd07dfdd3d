#pragma once
// bfloat16 activations for W4A16 (docs/quantization.md, "int4 weights"): the
// top 16 bits of a float32. The conversion below *defines* the bits; the
// AVX512_BF16 path (kernels/x86/bf16_avx512bf16.h) returns the same ones.
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/tensor.h"

namespace sqsim::kernels {

// Row-major [rows, cols] of bfloat16 bit patterns.
struct Bf16Matrix {
  long rows = 0, cols = 0;
  std::vector<uint16_t> bits;
  const uint16_t* row(long r) const { return bits.data() + r * cols; }
};

// float32 -> bfloat16, round to nearest, ties to even, on every finite value
// subnormals included (a subnormal rounds like any other value; it may round
// up to the smallest normal); overflow rounds to inf, inf stays inf. A NaN
// stays NaN: its top 16 bits with the quiet bit (0x0040) set, sign kept.
inline uint16_t bf16_round(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// bfloat16 -> float32: exact (the bits become the high half).
inline float bf16_widen(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// out[i] = bf16_round(in[i]): the scalar definition.
void to_bf16_scalar(const float* in, long n, uint16_t* out);

// Elementwise bf16_round; uses vcvtneps2bf16 where the CPU has AVX512_BF16
// (same bits: kernels/x86/bf16_avx512bf16.cpp).
Bf16Matrix to_bf16(const MatrixF& x);
// Elementwise bf16_widen.
MatrixF widen_bf16(const Bf16Matrix& x);

}  // namespace sqsim::kernels
