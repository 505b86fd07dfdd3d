// AVX-512F path of kernels/log_sum_exp.h: one register holds the 8 lanes of
// the documented order (element j in lane j % 8), and each lane runs exp_term's
// operations in the same order (roundscale = nearbyint, fnmadd = fma(-k, .., x),
// scalef = ldexp for a normal result), so the sums are the portable path's bits.
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for
// unmasked roundscale/scalef (their _mm512_undefined operand).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "kernels/log_sum_exp.h"

namespace sqsim::kernels {

using namespace log_sum_exp_detail;

namespace {

inline __m512d exp_term8(__m512d x) {
  const __mmask8 live = _mm512_cmp_pd_mask(x, _mm512_set1_pd(kExpFloor), _CMP_GE_OQ);  // false for -inf, NaN
  const __m512d k =
      _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(kLn2Hi), x);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(kLn2Lo), r);
  __m512d p = _mm512_set1_pd(kTaylor[kDegree]);
  for (int i = kDegree - 1; i >= 0; --i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kTaylor[i]));
  return _mm512_maskz_scalef_pd(live, p, k);
}

}  // namespace

MaxExpSum max_exp_sum_avx512(const float* x, long n) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  __m512 mx = _mm512_set1_ps(-INFINITY);
  __mmask16 nan = 0;
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
    nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  if (nan) return {kNan, kNan};
  const float mf = _mm512_reduce_max_ps(mx);
  if (!std::isfinite(mf)) return {double(mf), kNan};
  const double md = double(mf) + 0.0;  // as the portable path: a zero max as +0
  const __m512d vm = _mm512_set1_pd(md);
  __m512d acc = _mm512_setzero_pd();
  for (long j = 0; j < n; j += kLanes) {
    const __mmask8 m = n - j >= kLanes ? __mmask8(0xFF) : __mmask8((1u << (n - j)) - 1u);
    const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + j));
    acc = _mm512_mask_add_pd(acc, m, acc, exp_term8(_mm512_sub_pd(v, vm)));
  }
  alignas(64) double lane[kLanes];
  _mm512_store_pd(lane, acc);
  return {md, combine_lanes(lane)};
}

}  // namespace sqsim::kernels
