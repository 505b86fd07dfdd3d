// W4A16 with AVX2, int4 codes dequantized inside the kernel: every weight byte
// is read once per block of activation rows (once in total for M = 1, the
// decode GEMV). The 16 reference lanes of a group live in two 8-float
// registers (lanes 0-7, 8-15); products and sums are separate vmulps / vaddps
// (no FMA, -ffp-contract=off), and the fold by halves is done with the same
// additions in the same operand order, so the bits equal
// linear_f32s4_reference. Group sizes must be multiples of 16 (the driver
// falls back otherwise). Many rows run the panel kernel further down instead.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/x86/f32s4_avx2.h"

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


// ---------------------------------------------------------------------------
// The panel path for many activation rows, as in f32s4_avx512.cpp but with
// panels of 8 channels (one ymm): the panel is decoded once to
// wp[k][8] = float(q - zp), lane l of the reference is the register acc[r][l]
// across the 8 channels, acc += x * w with separate vmulps / vaddps from +0.0
// in increasing k, the fold p_l + p_(l+8), +4, +2, +1 is vertical vaddps, then
// times the scales, summed over groups left to right, plus the bias: the
// reference's operations on each output in its order, hence its bits.

namespace {

constexpr int kPanel8 = 8;        // channels per panel = floats per ymm
constexpr int kPanelRows8 = 3;    // R rows x L lanes = 12 accumulators of 16 ymm
constexpr int kPanelLanes8 = 4;

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

// wp[k * 8 + j] = float(q[c0 + j, k] - zp[c0 + j, k / G]) for j < nc, 0 for
// nc <= j < 8; sp[g * 8 + j] the scales likewise.
void decode_panel8(const Int4View& w, long c0, int nc, float* wp, float* sp) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  const int off = w.is_signed ? 8 : 0;
  for (long g = 0; g < groups; ++g)
    for (int j = 0; j < kPanel8; ++j) sp[g * kPanel8 + j] = j < nc ? w.scale[(c0 + j) * groups + g] : 0.0f;
  if (gs % 16 == 0) {
    const __m256i flip = _mm256_set1_epi32(off);
    for (long k0 = 0; k0 < k; k0 += 16) {
      const long g = k0 / gs;
      __m256 lo[8], hi[8];
      for (int j = 0; j < kPanel8; ++j) {
        if (j < nc) {
          const long c = c0 + j;
          const __m256i shift = _mm256_set1_epi32(off + w.zero_point[c * groups + g]);
          const __m128i q = nibbles_in_order(w.packed + c * (k / 2) + k0 / 2);
          lo[j] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(q), flip), shift));
          hi[j] = _mm256_cvtepi32_ps(
              _mm256_sub_epi32(_mm256_xor_si256(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8)), flip), shift));
        } else {
          lo[j] = hi[j] = _mm256_setzero_ps();
        }
      }
      transpose8(lo);
      transpose8(hi);
      for (int i = 0; i < 8; ++i) {
        _mm256_store_ps(wp + (k0 + i) * kPanel8, lo[i]);
        _mm256_store_ps(wp + (k0 + 8 + i) * kPanel8, hi[i]);
      }
    }
    return;
  }
  // Other group sizes (not on any model's path): one value at a time.
  decode_panel_scalar(w, c0, nc, kPanel8, wp);
}

// Lanes [l0, l0 + L) of one group for R rows; lanes below 8 are stored to
// lb[(r * 8 + l) * 8 + j], lanes l >= 8 fold into them: lb[l - 8] = p_(l-8) + p_l.
template <int R, int L>
inline void lanes_pass8(const float* x, long ldx, const float* wg, long gs, int l0, float* lb) {
  __m256 acc[R][L];
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < L; ++l) acc[r][l] = _mm256_setzero_ps();
  const long full = gs / 16;
  for (long jb = 0; jb < full; ++jb) {
    const long k0 = jb * 16 + l0;
    for (int l = 0; l < L; ++l) {
      const __m256 wv = _mm256_load_ps(wg + (k0 + l) * kPanel8);
      for (int r = 0; r < R; ++r)
        acc[r][l] = _mm256_add_ps(acc[r][l], _mm256_mul_ps(_mm256_broadcast_ss(x + r * ldx + k0 + l), wv));
    }
  }
  const long tail = gs % 16;  // lanes l < tail get one more product
  for (int l = 0; l < L; ++l) {
    if (l0 + l >= tail) break;
    const long kk = full * 16 + l0 + l;
    const __m256 wv = _mm256_load_ps(wg + kk * kPanel8);
    for (int r = 0; r < R; ++r)
      acc[r][l] = _mm256_add_ps(acc[r][l], _mm256_mul_ps(_mm256_broadcast_ss(x + r * ldx + kk), wv));
  }
  if (l0 < 8) {
    for (int r = 0; r < R; ++r)
      for (int l = 0; l < L; ++l) _mm256_store_ps(lb + (r * 8 + l0 + l) * kPanel8, acc[r][l]);
  } else {
    for (int r = 0; r < R; ++r) {
      for (int l = 0; l < L; ++l) {
        float* q = lb + (r * 8 + l0 - 8 + l) * kPanel8;
        _mm256_store_ps(q, _mm256_add_ps(_mm256_load_ps(q), acc[r][l]));
      }
    }
  }
}

struct Panel8Args {
  const float* wp;
  const float* sp;
  long k, gs;
  const float* bias8;
  __m256i mask;  // all ones in the lanes of the nc valid channels
  long ldy;
  float* lb;
};

// Rows [m, m + R) of one panel: all groups, fold, scale, group sum, bias, store.
template <int R, int L>
void panel8_rows(const float* x, const Panel8Args& a, float* y) {
  const long groups = a.k / a.gs;
  __m256 sum[R];
  for (int r = 0; r < R; ++r) sum[r] = _mm256_setzero_ps();  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    for (int l0 = 0; l0 < 16; l0 += L) lanes_pass8<R, L>(x + g * a.gs, a.k, a.wp + g * a.gs * kPanel8, a.gs, l0, a.lb);
    const __m256 s = _mm256_load_ps(a.sp + g * kPanel8);
    for (int r = 0; r < R; ++r) {
      __m256 p[8];
      for (int l = 0; l < 8; ++l) p[l] = _mm256_load_ps(a.lb + (r * 8 + l) * kPanel8);
      for (int half = 4; half >= 1; half /= 2)
        for (int l = 0; l < half; ++l) p[l] = _mm256_add_ps(p[l], p[l + half]);
      const __m256 t = _mm256_mul_ps(p[0], s);
      sum[r] = g == 0 ? t : _mm256_add_ps(sum[r], t);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m256 v = a.bias8 ? _mm256_add_ps(sum[r], _mm256_load_ps(a.bias8)) : sum[r];
    _mm256_maskstore_ps(y + r * a.ldy, a.mask, v);
  }
}

template <int R, int L>
void tail8_rows(int t, const float* x, const Panel8Args& a, float* y) {
  if constexpr (R > 1) {
    if (t == R - 1) panel8_rows<R - 1, L>(x, a, y);
    else tail8_rows<R - 1, L>(t, x, a, y);
  }
}

}  // namespace

void f32s4_panel_avx2(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                      float* y) {
  static_assert(8 % kPanelLanes8 == 0, "lane passes split 0..7 and 8..15");
  const long k = w.k, gs = w.group_size, groups = k / gs;
  // Per thread: decoded panel, scales, bias, lane sums (32-byte aligned).
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(k) * kPanel8 + static_cast<size_t>(groups) * kPanel8 + kPanel8 +
                      static_cast<size_t>(kPanelRows8) * 8 * kPanel8 + 16;
  if (scratch.size() < need) scratch.assign(need, 0.0f);
  float* wp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  float* sp = wp + k * kPanel8;
  float* b8 = sp + groups * kPanel8;
  float* lb = b8 + kPanel8;
  for (long c0 = n0; c0 < n1; c0 += kPanel8) {
    const int nc = static_cast<int>(std::min<long>(kPanel8, n1 - c0));
    decode_panel8(w, c0, nc, wp, sp);
    if (bias)
      for (int j = 0; j < kPanel8; ++j) b8[j] = j < nc ? bias[c0 + j] : 0.0f;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const Panel8Args a{wp, sp, k, gs, bias ? b8 : nullptr, mask, w.n, lb};
    long m = m0;
    for (; m + kPanelRows8 <= m1; m += kPanelRows8)
      panel8_rows<kPanelRows8, kPanelLanes8>(x + m * k, a, y + m * w.n + c0);
    if (m < m1) tail8_rows<kPanelRows8, kPanelLanes8>(static_cast<int>(m1 - m), x + m * k, a, y + m * w.n + c0);
  }
}

}  // namespace sqsim::kernels::avx2
