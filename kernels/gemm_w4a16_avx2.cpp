// W4A16 with AVX2, int4 codes dequantized inside the kernel: every weight byte
// is read once per block of activation rows (once in total for M = 1, the
// decode GEMV). The 16 reference lanes of a group live in two 8-float
// registers (lanes 0-7, 8-15); products and sums are separate vmulps / vaddps
// (no FMA, -ffp-contract=off), and the fold by halves is done with the same
// additions in the same operand order, so the bits equal
// linear_f32s4_reference. Group sizes must be multiples of 16 (the driver
// falls back otherwise).
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm_avx2_kernels.h"

namespace sqsim::kernels::avx2 {
namespace {

constexpr int kRows = 4;  // activation rows sharing one decode of the weights

// 16 int4 codes (8 bytes) -> 16 bytes in k order: low nibble first.
inline __m128i nibbles_in_order(const uint8_t* p) {
  const __m128i words = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i lo = _mm_and_si128(words, _mm_set1_epi16(0x0F));
  const __m128i hi = _mm_srli_epi16(words, 4);
  return _mm_or_si128(lo, _mm_slli_epi16(hi, 8));
}

// lane[0] after lane[l] += lane[l + h] for h = 8, 4, 2, 1 (the reference fold).
inline float fold16(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

template <int MR>
void row_block(const float* x, long m0, const Int4View& w, const float* bias, long c, float* y) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  const uint8_t* row = w.packed + c * (k / 2);
  const int off = w.is_signed ? 8 : 0;  // two's complement nibble: (q ^ 8) - 8
  const __m256i flip = _mm256_set1_epi32(off);
  float sum[MR] = {};  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    // w = ((q ^ off) - off) - zp = (q ^ off) - (off + zp): exact int32, then exact float.
    const __m256i shift = _mm256_set1_epi32(off + w.zero_point[c * groups + g]);
    __m256 lo[MR], hi[MR];
    for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
    for (long k0 = g * gs; k0 < (g + 1) * gs; k0 += 16) {
      const __m128i q = nibbles_in_order(row + k0 / 2);
      const __m256 w_lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(q), flip), shift));
      const __m256 w_hi = _mm256_cvtepi32_ps(
          _mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8)), flip), shift));
      for (int i = 0; i < MR; ++i) {
        const float* xr = x + (m0 + i) * k + k0;
        lo[i] = _mm256_add_ps(lo[i], _mm256_mul_ps(_mm256_loadu_ps(xr), w_lo));
        hi[i] = _mm256_add_ps(hi[i], _mm256_mul_ps(_mm256_loadu_ps(xr + 8), w_hi));
      }
    }
    const float s = w.scale[c * groups + g];
    for (int i = 0; i < MR; ++i) {
      const float t = fold16(lo[i], hi[i]) * s;
      sum[i] = g == 0 ? t : sum[i] + t;
    }
  }
  for (int i = 0; i < MR; ++i) y[(m0 + i) * w.n + c] = bias ? sum[i] + bias[c] : sum[i];
}

}  // namespace

void f32s4_rows_avx2(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y) {
  for (long c = n0; c < n1; ++c) {
    long m = 0;
    for (; m + kRows <= m_rows; m += kRows) row_block<kRows>(x, m, w, bias, c, y);
    switch (m_rows - m) {
      case 3: row_block<3>(x, m, w, bias, c, y); break;
      case 2: row_block<2>(x, m, w, bias, c, y); break;
      case 1: row_block<1>(x, m, w, bias, c, y); break;
      default: break;
    }
  }
}

}  // namespace sqsim::kernels::avx2
