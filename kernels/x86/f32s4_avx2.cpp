// W4A16 with AVX2, int4 codes dequantized inside the kernel: every weight byte
// is read once per block of activation rows (once in total for M = 1, the
// decode GEMV). The 16 reference lanes of a group live in two 8-float
// registers (lanes 0-7, 8-15); products and sums are separate vmulps / vaddps
// (no FMA, -ffp-contract=off), and the fold by halves is done with the same
// additions in the same operand order, so the bits equal
// linear_f32s4_reference. Group sizes must be multiples of 16 (the driver
// falls back otherwise). Many rows run the panel kernel of
// kernels/x86/f32s4_panel_impl.h on 8-float registers instead (further down).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/x86/f32s4_avx2.h"
#include "kernels/x86/f32s4_panel_impl.h"

namespace sqsim::kernels::avx2 {
namespace {

constexpr int kRows = 4;  // activation rows sharing one decode of the weights

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


// ---------------------------------------------------------------------------
// The panel path for many activation rows: kernels/x86/f32s4_panel_impl.h on
// 8-float registers (8 channels per panel).

namespace {

// In-register 8x8 transpose: r[i] element j -> r[j] element i.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    const __m256 a = t[4 * i], b = t[4 * i + 1], c = t[4 * i + 2], d = t[4 * i + 3];
    u[4 * i] = _mm256_shuffle_ps(a, c, 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(a, c, 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(b, d, 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(b, d, 0xEE);
  }
  // u[4i + j], 128-bit half h: rows 4i..4i+3 of column 4h + j.
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

// 8 floats per register for W4A16Panel (kernels/x86/f32s4_panel_impl.h).
struct F32x8 {
  using Reg = __m256;
  using Mask = __m256i;  // all ones in the lanes of the valid channels
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 16;
  static constexpr int kRows = 3;  // R rows x L lanes = 12 accumulators of 16 ymm
  static constexpr int kLanes = 4;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_load_ps(p); }
  static void store(float* p, Reg v) { _mm256_store_ps(p, v); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Mask mask_of(int nc) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static void store_masked(float* p, Mask m, Reg v) { _mm256_maskstore_ps(p, m, v); }
  static void decode16(const uint8_t* p, int off, int shift, Reg out[2]) {
    const __m256i flip = _mm256_set1_epi32(off), sh = _mm256_set1_epi32(shift);
    const __m128i q = nibbles_in_order(p);
    out[0] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(q), flip), sh));
    out[1] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8)), flip), sh));
  }
  static void transpose(Reg r[8]) { transpose8(r); }
};

}  // namespace

void f32s4_panel_avx2(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                      float* y) {
  W4A16Panel<F32x8>::run(x, m0, m1, w, bias, n0, n1, y);
}

}  // namespace sqsim::kernels::avx2
