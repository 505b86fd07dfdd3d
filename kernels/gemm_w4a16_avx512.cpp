// W4A16 with AVX-512F: one 16-float register holds exactly the 16 lanes of the
// reference order (lane l sums the products with (k - g*G) mod 16 = l, in
// increasing k). Products and sums are separate vmulps / vaddps (no FMA: the
// build uses -ffp-contract=off), the tail of a group is a masked add that leaves
// the other lanes untouched, and the fold and epilogue are the reference's
// scalar code, so the bits equal linear_f32s4_reference. That is the row kernel
// (decode, few rows); the panel kernel for many rows is further down.
#include "kernels/gemm_w4a16_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

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


// ---------------------------------------------------------------------------
// The panel path for many activation rows ("vertical" formulation).
//
// A panel is 16 consecutive output channels. Its weights are decoded once per
// call (per row block of the driver) into wp[k][16] = float(q[c, k] - zp[c, g])
// (exact), channels past N set to 0. For R rows and one group, lane l of the
// reference (the products with (k - gG) mod 16 = l) is the register acc[r][l],
// whose 16 elements are the 16 channels: acc[r][l] += x[m+r, k] * wp[k] (vmulps
// then vaddps, from +0.0, in increasing k), so each element runs exactly the
// scalar chain of the reference. The 16 lanes are independent chains; they are
// computed L at a time (R * L registers), written to a small buffer, then
// folded with the reference's additions p_l = p_l + p_(l+8), ..., now plain
// vertical vaddps across channels, times the scale vector, summed over groups
// left to right, plus the bias: element-wise the reference's operations in its
// order, hence its bits. Any group size works (lanes that get no product in a
// short group stay +0.0, as in the reference).

namespace {

constexpr int kPanel = 16;      // channels per panel = floats per zmm
// R rows x L lanes per pass = 24 accumulators. Measured on Zen 4 (1 thread,
// M = 128 / 2048, K x N = 576 x 1536 and 1536 x 576, G = 128): 6x4 and 5x4
// tie (43-45 G MAC/s), 4x4 and 8x2 are a little slower, 3x8 and 2x8 much
// slower (about 28), and a group-outer loop order gained nothing.
constexpr int kPanelRows = 6;
constexpr int kPanelLanes = 4;

// In-register transpose: r[i] element j -> r[j] element i.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // r[4i + j], 128-bit lane q: rows 4i..4i+3 of column 4q + j.
  for (int j = 0; j < 4; ++j) {
    const __m512 u0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    const __m512 u1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    const __m512 u3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
    t[4 + j] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// wp[k * 16 + j] = float(q[c0 + j, k] - zp[c0 + j, k / G]) for j < nc, 0 for
// nc <= j < 16; sp[g * 16 + j] the scales likewise.
void decode_panel(const Int4View& w, long c0, int nc, float* wp, float* sp) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  const int off = w.is_signed ? 8 : 0;
  for (long g = 0; g < groups; ++g)
    for (int j = 0; j < kPanel; ++j) sp[g * kPanel + j] = j < nc ? w.scale[(c0 + j) * groups + g] : 0.0f;
  if (gs % 16 == 0) {
    const __m512i flip = _mm512_set1_epi32(off);
    for (long k0 = 0; k0 < k; k0 += 16) {
      const long g = k0 / gs;
      __m512 r[16];
      for (int j = 0; j < kPanel; ++j) {
        if (j < nc) {
          const long c = c0 + j;
          const __m512i shift = _mm512_set1_epi32(off + w.zero_point[c * groups + g]);
          const __m512i q = _mm512_cvtepu8_epi32(nibbles_in_order(w.packed + c * (k / 2) + k0 / 2));
          r[j] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_xor_si512(q, flip), shift));
        } else {
          r[j] = _mm512_setzero_ps();
        }
      }
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_store_ps(wp + (k0 + i) * kPanel, r[i]);
    }
    return;
  }
  // Other group sizes (not on any model's path): one value at a time.
  for (long i = 0; i < k; ++i) {
    for (int j = 0; j < kPanel; ++j) {
      float v = 0.0f;
      if (j < nc) {
        const long c = c0 + j;
        const uint8_t byte = w.packed[c * (k / 2) + i / 2];
        const int nibble = (i & 1) ? (byte >> 4) : (byte & 0x0F);
        const int q = w.is_signed ? ((nibble ^ 8) - 8) : nibble;
        v = static_cast<float>(q - w.zero_point[c * groups + i / gs]);
      }
      wp[i * kPanel + j] = v;
    }
  }
}

// Lanes [l0, l0 + L) of one group for R rows. x points at row 0, column gG; wg
// at wp + gG * 16. Lanes below 8 are stored, lb[(r * 8 + l) * 16 + j] = p_l of
// row r, channel j; lanes l >= 8 (computed after all of 0..7) do the fold's
// first step on the way out: lb[l - 8] = p_(l-8) + p_l.
template <int R, int L>
inline void lanes_pass(const float* x, long ldx, const float* wg, long gs, int l0, float* lb) {
  __m512 acc[R][L];
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < L; ++l) acc[r][l] = _mm512_setzero_ps();
  const long full = gs / 16;
  for (long jb = 0; jb < full; ++jb) {
    const long k0 = jb * 16 + l0;
    for (int l = 0; l < L; ++l) {
      const __m512 wv = _mm512_load_ps(wg + (k0 + l) * kPanel);
      for (int r = 0; r < R; ++r)
        acc[r][l] = _mm512_add_ps(acc[r][l], _mm512_mul_ps(_mm512_set1_ps(x[r * ldx + k0 + l]), wv));
    }
  }
  const long tail = gs % 16;  // lanes l < tail get one more product
  for (int l = 0; l < L; ++l) {
    if (l0 + l >= tail) break;
    const long kk = full * 16 + l0 + l;
    const __m512 wv = _mm512_load_ps(wg + kk * kPanel);
    for (int r = 0; r < R; ++r)
      acc[r][l] = _mm512_add_ps(acc[r][l], _mm512_mul_ps(_mm512_set1_ps(x[r * ldx + kk]), wv));
  }
  if (l0 < 8) {
    for (int r = 0; r < R; ++r)
      for (int l = 0; l < L; ++l) _mm512_store_ps(lb + (r * 8 + l0 + l) * kPanel, acc[r][l]);
  } else {
    for (int r = 0; r < R; ++r) {
      for (int l = 0; l < L; ++l) {
        float* q = lb + (r * 8 + l0 - 8 + l) * kPanel;
        _mm512_store_ps(q, _mm512_add_ps(_mm512_load_ps(q), acc[r][l]));
      }
    }
  }
}

// Rows [m, m + R) of one panel: all groups, fold, scale, group sum, bias, store.
template <int R, int L>
void panel_rows(const float* x, long ldx, const float* wp, const float* sp, long k, long gs, const float* bias16,
                __mmask16 mask, float* y, long ldy, float* lb) {
  const long groups = k / gs;
  __m512 sum[R];
  for (int r = 0; r < R; ++r) sum[r] = _mm512_setzero_ps();  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    for (int l0 = 0; l0 < 16; l0 += L) lanes_pass<R, L>(x + g * gs, ldx, wp + g * gs * kPanel, gs, l0, lb);
    const __m512 s = _mm512_load_ps(sp + g * kPanel);
    for (int r = 0; r < R; ++r) {
      __m512 p[8];
      for (int l = 0; l < 8; ++l) p[l] = _mm512_load_ps(lb + (r * 8 + l) * kPanel);
      for (int half = 4; half >= 1; half /= 2)
        for (int l = 0; l < half; ++l) p[l] = _mm512_add_ps(p[l], p[l + half]);
      const __m512 t = _mm512_mul_ps(p[0], s);
      sum[r] = g == 0 ? t : _mm512_add_ps(sum[r], t);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512 v = bias16 ? _mm512_add_ps(sum[r], _mm512_load_ps(bias16)) : sum[r];
    _mm512_mask_storeu_ps(y + r * ldy, mask, v);
  }
}

struct PanelArgs {
  const float* wp;
  const float* sp;
  long k, gs;
  const float* bias16;
  __mmask16 mask;
  long ldy;
  float* lb;
};

// The last t < R rows of a block.
template <int R, int L>
void tail_rows(int t, const float* x, const PanelArgs& a, float* y) {
  if constexpr (R > 1) {
    if (t == R - 1) panel_rows<R - 1, L>(x, a.k, a.wp, a.sp, a.k, a.gs, a.bias16, a.mask, y, a.ldy, a.lb);
    else tail_rows<R - 1, L>(t, x, a, y);
  }
}

template <int R, int L>
void panel_block(const float* x, long m0, long m1, const PanelArgs& a, float* y) {
  static_assert(8 % L == 0 && R * L <= 28, "lane passes split 0..7 and 8..15; accumulators fit the zmm file");
  long m = m0;
  for (; m + R <= m1; m += R)
    panel_rows<R, L>(x + m * a.k, a.k, a.wp, a.sp, a.k, a.gs, a.bias16, a.mask, y + m * a.ldy, a.ldy, a.lb);
  if (m < m1) tail_rows<R, L>(static_cast<int>(m1 - m), x + m * a.k, a, y + m * a.ldy);
}

}  // namespace

void f32s4_panel_avx512(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                        float* y) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  // Per thread: decoded panel, scales, bias, lane sums.
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(k) * kPanel + static_cast<size_t>(groups) * kPanel + kPanel +
                      static_cast<size_t>(kPanelRows) * 8 * kPanel + 16;  // + 16: room to align to 64 bytes
  if (scratch.size() < need) scratch.assign(need, 0.0f);
  float* wp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  float* sp = wp + k * kPanel;
  float* b16 = sp + groups * kPanel;
  float* lb = b16 + kPanel;
  for (long c0 = n0; c0 < n1; c0 += kPanel) {
    const int nc = static_cast<int>(std::min<long>(kPanel, n1 - c0));
    decode_panel(w, c0, nc, wp, sp);
    if (bias)
      for (int j = 0; j < kPanel; ++j) b16[j] = j < nc ? bias[c0 + j] : 0.0f;
    const PanelArgs a{wp, sp, k, gs, bias ? b16 : nullptr, static_cast<__mmask16>((1u << nc) - 1u), w.n, lb};
    panel_block<kPanelRows, kPanelLanes>(x, m0, m1, a, y + c0);
  }
}

}  // namespace sqsim::kernels::w4a16
