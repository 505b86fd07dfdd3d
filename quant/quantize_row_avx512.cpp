// quantize_row_nearest with AVX-512 (compiled with AVX-512 flags,
// CMakeLists.txt; called only where the CPU has them, quant/quantize.cpp).
// The same codes and values as quantize_row_portable.cpp, 16 lanes at a time:
//  * v / scale (vdivps) or v * multiplier (vmulps): IEEE, as the scalar operators;
//  * round_half_even(s) is vrndscaleps with round-to-nearest-even: for |s| <
//    2^23 the add/subtract of copysign(2^23, s) rounds to the nearest integer,
//    ties to even, and copysign restores the sign of a zero result; larger |s|
//    (and infinities) are already integers and come back unchanged; both give
//    IEEE roundToIntegralTiesToEven (the operands are finite-checked, no NaN);
//  * clamp_to_int's two selects are vmaxps / vminps (equal for non-NaN), the
//    int conversion vcvttps2dq (the value is an integer in [lo, hi]), and
//    the narrowing to int16 vpmovdw (exact in range);
//  * dequantized: float(code - zero_point) * scale, as dequantize_row.
// A run's last partial vector is masked.
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the
// unmasked conversions (their _mm512_undefined_* operand), as in vecmath_avx512.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "quant/quantize_row.h"

namespace sqsim {

namespace {

template <bool kReciprocal, bool kSymmetric>
inline void run16(const QuantizeRow& r, long c, __mmask16 m, __m512 scale, __m512 mult, __m512i zp, __m512 zpf) {
  const __m512 v = _mm512_maskz_loadu_ps(m, r.x + c);
  const __m512 scaled = kReciprocal ? _mm512_mul_ps(v, mult) : _mm512_div_ps(v, scale);
  __m512 t = _mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  if (!kSymmetric) t = _mm512_add_ps(t, zpf);
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(static_cast<float>(r.lo))), _mm512_set1_ps(static_cast<float>(r.hi)));
  const __m512i code = _mm512_cvttps_epi32(t);
  _mm256_mask_storeu_epi16(r.codes + c, m, _mm512_cvtepi32_epi16(code));
  if (r.dequantized) {
    const __m512 dq = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(code, zp)), scale);
    _mm512_mask_storeu_ps(r.dequantized + c, m, dq);
  }
}

inline __mmask16 first_lanes(long n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

template <bool kReciprocal, bool kSymmetric>
void row_loop(const QuantizeRow& r) {
  const __m512 unused = _mm512_setzero_ps();
  if (r.per_column) {
    for (long c = 0; c < r.n; c += 16) {
      const __mmask16 m = first_lanes(r.n - c);
      const __m512i zp = _mm512_maskz_loadu_epi32(m, r.zero_point + c);
      // Masked-off lanes get scale 1 (their quotient is never stored).
      const __m512 scale = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, r.scale + c);
      const __m512 mult = kReciprocal ? _mm512_maskz_loadu_ps(m, r.multiplier + c) : unused;
      run16<kReciprocal, kSymmetric>(r, c, m, scale, mult, zp, _mm512_cvtepi32_ps(zp));
    }
    return;
  }
  for (long c0 = 0, j = 0; c0 < r.n; c0 += r.run, ++j) {
    const long end = r.run < r.n - c0 ? c0 + r.run : r.n;
    const __m512 scale = _mm512_set1_ps(r.scale[j]);
    const __m512 mult = kReciprocal ? _mm512_set1_ps(r.multiplier[j]) : unused;
    const __m512i zp = _mm512_set1_epi32(r.zero_point[j]);
    const __m512 zpf = _mm512_set1_ps(static_cast<float>(r.zero_point[j]));
    for (long c = c0; c < end; c += 16) run16<kReciprocal, kSymmetric>(r, c, first_lanes(end - c), scale, mult, zp, zpf);
  }
}

}  // namespace

void quantize_row_nearest_avx512(const QuantizeRow& r) {
  if (r.reciprocal) {
    if (r.symmetric) row_loop<true, true>(r);
    else row_loop<true, false>(r);
  } else {
    if (r.symmetric) row_loop<false, true>(r);
    else row_loop<false, false>(r);
  }
}

}  // namespace sqsim
