// AVX2 + FMA path of kernels/log_sum_exp.h, for CPUs without AVX-512 (where
// the portable path's std::fma calls are slow): the 8 lanes of the documented
// order are two registers of 4 doubles (lanes 0-3 and 4-7), and each lane runs
// exp_term's operations in the same order (round = nearbyint, fnmadd =
// fma(-k, .., x), and 2^k built from its exponent bits: p * 2^k is exact while
// the result is normal, as ldexp), so the sums are the portable path's bits.
// A row's last j % 8 elements are copied into 8 lanes padded with -inf, whose
// terms are 0 and leave their lane sums unchanged.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/log_sum_exp.h"

namespace sqsim::kernels {

using namespace log_sum_exp_detail;

namespace {

inline __m256d exp_term4(__m256d x) {
  const __m256d live = _mm256_cmp_pd(x, _mm256_set1_pd(kExpFloor), _CMP_GE_OQ);  // false for -inf, NaN
  const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(kLn2Hi), x);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(kLn2Lo), r);
  __m256d p = _mm256_set1_pd(kTaylor[kDegree]);
  for (int i = kDegree - 1; i >= 0; --i) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kTaylor[i]));
  // 2^k for live lanes (-1022 <= k <= 0): exponent field k + 1023
  const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023)), 52);
  return _mm256_and_pd(live, _mm256_mul_pd(p, _mm256_castsi256_pd(e)));
}

}  // namespace

MaxExpSum max_exp_sum_avx2(const float* x, long n) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  const long body = n - n % kLanes;
  alignas(32) float tail[kLanes];
  std::fill(tail, tail + kLanes, -INFINITY);
  std::copy(x + body, x + n, tail);
  __m256 mx = _mm256_set1_ps(-INFINITY);
  int nan = 0;
  for (long j = 0; j <= body; j += kLanes) {
    const __m256 v = j < body ? _mm256_loadu_ps(x + j) : _mm256_load_ps(tail);
    nan |= _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    mx = _mm256_max_ps(mx, v);
  }
  if (nan) return {kNan, kNan};
  alignas(32) float m8[kLanes];
  _mm256_store_ps(m8, mx);
  const float mf = *std::max_element(m8, m8 + kLanes);
  if (!std::isfinite(mf)) return {double(mf), kNan};
  const double md = double(mf) + 0.0;  // as the portable path: a zero max as +0
  const __m256d vm = _mm256_set1_pd(md);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();  // lanes 0-3, 4-7
  for (long j = 0; j <= body; j += kLanes) {
    if (j == body && body == n) break;
    const float* s = j < body ? x + j : tail;
    lo = _mm256_add_pd(lo, exp_term4(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(s)), vm)));
    hi = _mm256_add_pd(hi, exp_term4(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(s + 4)), vm)));
  }
  alignas(32) double lane[kLanes];
  _mm256_store_pd(lane, lo);
  _mm256_store_pd(lane + 4, hi);
  return {md, combine_lanes(lane)};
}

}  // namespace sqsim::kernels
