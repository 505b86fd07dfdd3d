// W4A16 with AVX-512F: one 16-float register holds exactly the 16 lanes of the
// reference order (lane l sums the products with (k - g*G) mod 16 = l, in
// increasing k). Products and sums are separate vmulps / vaddps (no FMA: the
// build uses -ffp-contract=off), the tail of a group is a masked add that leaves
// the other lanes untouched, and the fold and epilogue are the reference's
// scalar code, so the bits equal linear_f32s4_reference.
#include "kernels/gemm_w4a16_avx512.h"

#include <immintrin.h>

namespace sqsim::kernels::w4a16 {

void row_avx512(const float* x, long m_rows, long x_stride, const float* w, long k, long group_size,
                const float* scale, bool has_bias, float bias_n, float* y, long y_stride) {
  const long groups = k / group_size;
  for (long m = 0; m < m_rows; ++m) {
    const float* xr = x + m * x_stride;
    float sum = 0.0f;
    for (long g = 0; g < groups; ++g) {
      const float* xg = xr + g * group_size;
      const float* wg = w + g * group_size;
      __m512 lanes = _mm512_setzero_ps();
      long i = 0;
      for (; i + 16 <= group_size; i += 16) {
        const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(xg + i), _mm512_loadu_ps(wg + i));
        lanes = _mm512_add_ps(lanes, p);
      }
      if (i < group_size) {
        const __mmask16 mask = static_cast<__mmask16>((1u << (group_size - i)) - 1u);
        const __m512 p = _mm512_maskz_mul_ps(mask, _mm512_maskz_loadu_ps(mask, xg + i), _mm512_maskz_loadu_ps(mask, wg + i));
        lanes = _mm512_mask_add_ps(lanes, mask, lanes, p);
      }
      alignas(64) float lane[16];
      _mm512_store_ps(lane, lanes);
      for (int half = 8; half >= 1; half /= 2)
        for (int l = 0; l < half; ++l) lane[l] = lane[l] + lane[l + half];
      const float t = lane[0] * scale[g];
      sum = g == 0 ? t : sum + t;
    }
    if (has_bias) sum = sum + bias_n;
    y[m * y_stride] = sum;
  }
}

}  // namespace sqsim::kernels::w4a16
