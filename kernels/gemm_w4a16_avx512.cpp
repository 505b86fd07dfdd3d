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
inline float fold16(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
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
  const __m512i flip = _mm512_set1_epi32(off);
  float sum[MR] = {};  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    // w = ((q ^ off) - off) - zp = (q ^ off) - (off + zp): exact int32, then exact float.
    const __m512i shift = _mm512_set1_epi32(off + w.zero_point[c * groups + g]);
    __m512 lanes[MR];
    for (int i = 0; i < MR; ++i) lanes[i] = _mm512_setzero_ps();
    for (long k0 = g * gs; k0 < (g + 1) * gs; k0 += 16) {
      const __m512i q = _mm512_cvtepu8_epi32(nibbles_in_order(row + k0 / 2));
      const __m512 wv = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_xor_si512(q, flip), shift));
      for (int i = 0; i < MR; ++i)
        lanes[i] = _mm512_add_ps(lanes[i], _mm512_mul_ps(_mm512_loadu_ps(x + (m0 + i) * k + k0), wv));
    }
    const float s = w.scale[c * groups + g];
    for (int i = 0; i < MR; ++i) {
      const float t = fold16(lanes[i]) * s;
      sum[i] = g == 0 ? t : sum[i] + t;
    }
  }
  for (int i = 0; i < MR; ++i) y[(m0 + i) * w.n + c] = bias ? sum[i] + bias[c] : sum[i];
}

}  // namespace

void f32s4_rows_avx512(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y) {
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

}  // namespace sqsim::kernels::w4a16
