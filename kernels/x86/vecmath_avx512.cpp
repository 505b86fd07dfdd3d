// AVX-512F paths of kernels/vecmath.h. exp(x) = 2^n * e^r with n = round(x /
// ln 2) and r = x - n ln 2 (ln 2 split in a high and a low part so r is
// nearly exact), |r| <= ln2/2; e^r by its Taylor series to degree 7 (relative
// truncation error below 1e-8 there), and 2^n applied with vscalefps, which
// gives 0 or inf past the float range without special cases. Row tails are
// masked lanes running the same code, so an element's bits never depend on
// whether it fell in a tail.
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for
// unmasked min/max/roundscale/scalef (their _mm512_undefined_ps operand).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "kernels/vecmath.h"

namespace sqsim::kernels {

namespace {

inline __m512 exp512(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693145751953125f);  // few mantissa bits: n*ln2_hi is exact
  const __m512 ln2_lo = _mm512_set1_ps(1.42860682030941723e-06f);
  // Clamp so that n stays small; beyond it the result is 0 or inf anyway. The
  // constant goes first: vmaxps/vminps return the second operand for a NaN,
  // so NaN passes through.
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __mmask16 tail_mask(long left) { return left >= 16 ? 0xFFFF : __mmask16((1u << left) - 1u); }

}  // namespace

void exp_avx512(const float* x, float* y, long n) {
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(y + j, m, exp512(_mm512_maskz_loadu_ps(m, x + j)));
  }
}

void softmax_scaled_avx512(float* x, long n, float scale) {
  if (n <= 0) return;
  const __m512 s = _mm512_set1_ps(scale);
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), s);
    _mm512_mask_storeu_ps(x + j, m, v);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vmax));
    _mm512_mask_storeu_ps(x + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(x + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), inv));
  }
}

void silu_mul_avx512(float* g, const float* u, long n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (long j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 z = _mm512_maskz_loadu_ps(m, g + j);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), z));
    const __m512 silu = _mm512_div_ps(z, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(g + j, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, u + j)));
  }
}

}  // namespace sqsim::kernels
