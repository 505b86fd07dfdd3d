// quantize_row_nearest with AVX-512 (compiled with AVX-512 flags,
// CMakeLists.txt; called only where the CPU has them, quant/quantize.cpp).
// The same codes and values as quantize_row_portable.cpp, 16 lanes at a time:
//  * v / scale or v * multiplier (vmulps): IEEE, as the scalar operators. The
//    quotient's code is taken from v * inv, inv = fl(1 / scale), which a
//    vmulps gives in a twentieth of vdivps's time (the division was 6% of a
//    W8A8 forward with int8 attention). Both values are within 3 * 2^-24 |q|
//    of the real quotient q (one rounding in inv, one in each product or
//    quotient), so they round to the same integer unless one of them lies
//    that close to a half-integer; lanes within |v * inv| * 2^-20 of one (16
//    times the bound), or with a non-finite inv, are divided exactly. Beyond
//    2^23 both are integers that differ by at most a few units, and there
//    every code range clamps them alike (bits <= 16);
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

constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// round_half_even(v / scale) for the lanes of m: from v * inv, the lanes near
// a tie (or with a non-finite inv) from the division (see the top).
inline __m512 rounded_quotient(__m512 v, __m512 scale, __m512 inv, __mmask16 m) {
  const __m512 q = _mm512_mul_ps(v, inv);
  const __m512 t = _mm512_roundscale_ps(q, kNearest);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  const __m512 d = _mm512_and_ps(_mm512_sub_ps(q, t), abs_mask);  // exact: t is q's nearest integer
  const __m512 margin = _mm512_fnmadd_ps(_mm512_and_ps(q, abs_mask), _mm512_set1_ps(0x1p-20f), _mm512_set1_ps(0.5f));
  __mmask16 exact = _mm512_mask_cmp_ps_mask(m, d, margin, _CMP_GE_OQ);
  // inv infinite (a scale below 2^-128) or NaN: q may be NaN where the quotient is not.
  exact |= _mm512_mask_fpclass_ps_mask(m, inv, 0x01 | 0x08 | 0x10 | 0x80);  // QNaN, +Inf, -Inf, SNaN
  if (!exact) return t;
  return _mm512_mask_roundscale_ps(t, exact, _mm512_div_ps(v, scale), kNearest);
}

template <bool kReciprocal, bool kSymmetric>
inline void run16(const QuantizeRow& r, long c, __mmask16 m, __m512 scale, __m512 mult, __m512 inv, __m512i zp,
                  __m512 zpf) {
  const __m512 v = _mm512_maskz_loadu_ps(m, r.x + c);
  __m512 t = kReciprocal ? _mm512_roundscale_ps(_mm512_mul_ps(v, mult), kNearest) : rounded_quotient(v, scale, inv, m);
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
      const __m512 inv = kReciprocal ? unused : _mm512_div_ps(_mm512_set1_ps(1.0f), scale);
      run16<kReciprocal, kSymmetric>(r, c, m, scale, mult, inv, zp, _mm512_cvtepi32_ps(zp));
    }
    return;
  }
  for (long c0 = 0, j = 0; c0 < r.n; c0 += r.run, ++j) {
    const long end = r.run < r.n - c0 ? c0 + r.run : r.n;
    const __m512 scale = _mm512_set1_ps(r.scale[j]);
    const __m512 mult = kReciprocal ? _mm512_set1_ps(r.multiplier[j]) : unused;
    const __m512 inv = kReciprocal ? unused : _mm512_set1_ps(1.0f / r.scale[j]);
    const __m512i zp = _mm512_set1_epi32(r.zero_point[j]);
    const __m512 zpf = _mm512_set1_ps(static_cast<float>(r.zero_point[j]));
    for (long c = c0; c < end; c += 16)
      run16<kReciprocal, kSymmetric>(r, c, first_lanes(end - c), scale, mult, inv, zp, zpf);
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
