// AVX2 + FMA W4A16 kernel: blocks of 4 activation rows x one panel of 16
// channels (8 ymm accumulators). Each output is one FMA chain over k in
// order, exactly the chain of linear_f32s4_reference, so tiling and threads
// change no bits.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/f32s4_avx2.h"

namespace sqsim::kernels::avx2 {

namespace {

__m256i lane_mask(long count) {  // lanes below count set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::clamp(count, 0L, 8L))), idx);
}

}  // namespace

void f32s4_panel_fma_avx2(const float* x, long ldx, long m0, long m1, const float* panel, long k, long p, long n,
                          const float* bias, float* y, long ldy) {
  const long c0 = p * kW4A16PanelCols, cols = std::min(kW4A16PanelCols, n - c0);
  const __m256i mask0 = lane_mask(cols), mask1 = lane_mask(cols - 8);
  __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
  if (bias) {
    b0 = _mm256_maskload_ps(bias + c0, mask0);
    b1 = _mm256_maskload_ps(bias + c0 + 8, mask1);
  }
  constexpr int kRows = 4;
  for (long m = m0; m < m1; m += kRows) {
    const int rows = int(std::min<long>(kRows, m1 - m));
    __m256 acc0[kRows], acc1[kRows];
    for (int r = 0; r < kRows; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    const float* xr[kRows];
    for (int r = 0; r < kRows; ++r) xr[r] = x + (m + std::min(r, rows - 1)) * ldx;  // spare rows repeat the last
    for (long i = 0; i < k; ++i) {
      const __m256 w0 = _mm256_loadu_ps(panel + i * kW4A16PanelCols);
      const __m256 w1 = _mm256_loadu_ps(panel + i * kW4A16PanelCols + 8);
      for (int r = 0; r < kRows; ++r) {
        const __m256 xv = _mm256_broadcast_ss(xr[r] + i);
        acc0[r] = _mm256_fmadd_ps(xv, w0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(xv, w1, acc1[r]);
      }
    }
    for (int r = 0; r < rows; ++r) {
      if (bias) {
        acc0[r] = _mm256_add_ps(acc0[r], b0);
        acc1[r] = _mm256_add_ps(acc1[r], b1);
      }
      float* out = y + (m + r) * ldy + c0;
      _mm256_maskstore_ps(out, mask0, acc0[r]);
      _mm256_maskstore_ps(out + 8, mask1, acc1[r]);
    }
  }
}

}  // namespace sqsim::kernels::avx2
