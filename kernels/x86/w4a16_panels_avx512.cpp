#include <immintrin.h>

// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for
// the widening and shift intrinsics (their undefined first operand).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/x86/w4a16_panels.h"

namespace sqsim::kernels {

void dequantize_w4a16_panels_avx512(const W4A16Panels& w, long p0, long p1, long depth, float* bp, float* tail) {
  static_assert(kW4A16Width == 32, "two zmm of channels per k");
  const long groups = w.groups();
  const __m512i low4 = _mm512_set1_epi32(0x0F), eight = _mm512_set1_epi32(8);
  const __m512 zero = _mm512_setzero_ps();
  for (long p = p0; p < p1; ++p) {
    const uint8_t* q = w.codes.data() + p * w.k * 16;
    float* dst = bp + p * depth * 32;
    // The tail's effect on a chain: starts as the identity (-0 + x = x).
    __m512 e0 = _mm512_set1_ps(-0.0f), e1 = e0;
    for (long g = 0; g < groups; ++g) {
      const int32_t* zp = w.zero_point.data() + (p * groups + g) * 32;
      const float* sc = w.scale.data() + (p * groups + g) * 32;
      const __m512i z0 = _mm512_loadu_si512(zp), z1 = _mm512_loadu_si512(zp + 16);
      const __m512 s0 = _mm512_loadu_ps(sc), s1 = _mm512_loadu_ps(sc + 16);
      for (long i = g * w.group_size; i < (g + 1) * w.group_size; ++i) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i * 16)));
        __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_srli_epi32(v, 4);
        if (w.is_signed) {
          lo = _mm512_sub_epi32(_mm512_xor_si512(lo, eight), eight);
          hi = _mm512_sub_epi32(_mm512_xor_si512(hi, eight), eight);
        }
        const __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, z0)), s0);
        const __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, z1)), s1);
        if (i < depth) {
          _mm512_storeu_ps(dst + i * 32, f0);
          _mm512_storeu_ps(dst + i * 32 + 16, f1);
        } else {
          // The product with a +0 activation, added as the chain would.
          e0 = _mm512_fmadd_ps(zero, f0, e0);
          e1 = _mm512_fmadd_ps(zero, f1, e1);
        }
      }
    }
    if (tail && depth < w.k) {
      _mm512_storeu_ps(tail + p * 32, e0);
      _mm512_storeu_ps(tail + p * 32 + 16, e1);
    }
  }
}

}  // namespace sqsim::kernels
