#pragma once
// The W4A16 panel kernel for many activation rows, written once for any vector
// width and included by kernels/x86/f32s4_avx2.cpp (F32x8, 8 channels per
// panel) and kernels/x86/f32s4_avx512.cpp (F32x16, 16 channels per panel),
// each compiled with its own instruction-set flags. Include only from those
// files: everything here has internal linkage, so each includer gets its own
// copy built with its own flags (as kernels/x86/s8s8_vnni_impl.h).
//
// The "vertical" formulation. A panel is W consecutive output channels (W =
// floats per register). Its weights are decoded once per call into
// wp[k][W] = float(q[c, k] - zp[c, g]) (exact), channels past N set to 0. For R
// rows and one group, lane l of the reference (the products with
// (k - gG) mod 16 = l) is the register acc[r][l], whose W elements are the W
// channels: acc[r][l] += x[m+r, k] * wp[k] (vmulps then vaddps, from +0.0, in
// increasing k), so each element runs exactly the scalar chain of the
// reference. The 16 lanes are independent chains; they are computed L at a
// time (R * L registers), written to a small buffer, then folded with the
// reference's additions p_l = p_l + p_(l+8), ..., now plain vertical vaddps
// across channels, times the scale vector, summed over groups left to right,
// plus the bias: element-wise the reference's operations in its order, hence
// its bits, for either width. Any group size works (lanes that get no product
// in a short group stay +0.0, as in the reference). bfloat16 activations (the
// F32x16 instantiation only) are widened per group into a small float buffer
// (2 x R x G floats, in L1) before the lane passes, which then run unchanged.
//
// A lane type V provides: Reg, Mask, kWidth (W: 8 or 16), kRows and kLanes
// (R x L per pass), zero, load (aligned), add, mul, broadcast (one float from
// memory to every element), store (aligned), mask_of(nc) and store_masked, and
// the decode of one chunk of 16 codes: decode16(p, off, shift, out[16 / W])
// (out[h] element i = float(((q[16 h + i] ^ off) - off) - zp), shift = off + zp)
// with transpose(r[W]) (r[i] element j -> r[j] element i). The bf16 widening
// (widen_rows<R>) is needed only where uint16_t activations are instantiated.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/x86/int4_view.h"

namespace sqsim::kernels {
namespace {

// 16 int4 codes (8 bytes) -> 16 bytes in k order: low nibble first.
inline __m128i nibbles_in_order(const uint8_t* p) {
  const __m128i words = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i lo = _mm_and_si128(words, _mm_set1_epi16(0x0F));
  const __m128i hi = _mm_srli_epi16(words, 4);
  return _mm_or_si128(lo, _mm_slli_epi16(hi, 8));
}

// A per-thread float buffer of at least n floats, 64-byte aligned (the panel
// and lane buffers are read with aligned vector loads).
inline float* thread_scratch(std::size_t n) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < n + 16) scratch.assign(n + 16, 0.0f);  // + 16: room to align to 64 bytes
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
}

template <class V>
struct W4A16Panel {
  using Reg = typename V::Reg;
  static constexpr int W = V::kWidth;    // channels per panel = floats per register
  static constexpr int kParts = 16 / W;  // registers per chunk of 16 codes
  static constexpr int R = V::kRows, L = V::kLanes;
  static_assert(8 % L == 0, "lane passes split 0..7 and 8..15");
  static_assert(R * L <= V::kRegisters - 4, "accumulators, a weight vector and a broadcast fit the register file");

  // wp[k * W + j] = float(q[c0 + j, k] - zp[c0 + j, k / G]) for j < nc, 0 for
  // nc <= j < W; sp[g * W + j] the scales likewise.
  static void decode_panel(const Int4View& w, long c0, int nc, float* wp, float* sp) {
    const long k = w.k, gs = w.group_size, groups = k / gs;
    const int off = w.is_signed ? 8 : 0;
    for (long g = 0; g < groups; ++g)
      for (int j = 0; j < W; ++j) sp[g * W + j] = j < nc ? w.scale[(c0 + j) * groups + g] : 0.0f;
    if (gs % 16 == 0) {
      for (long k0 = 0; k0 < k; k0 += 16) {
        const long g = k0 / gs;
        Reg r[kParts][W];
        for (int j = 0; j < W; ++j) {
          Reg part[kParts];
          if (j < nc) {
            const long c = c0 + j;
            V::decode16(w.packed + c * (k / 2) + k0 / 2, off, off + w.zero_point[c * groups + g], part);
          } else {
            for (int h = 0; h < kParts; ++h) part[h] = V::zero();
          }
          for (int h = 0; h < kParts; ++h) r[h][j] = part[h];
        }
        for (int h = 0; h < kParts; ++h) {
          V::transpose(r[h]);
          for (int i = 0; i < W; ++i) V::store(wp + (k0 + h * W + i) * W, r[h][i]);
        }
      }
      return;
    }
    // Other group sizes (not on any model's path): one value at a time.
    decode_panel_scalar(w, c0, nc, W, wp);
  }

  // Lanes [l0, l0 + LL) of one group for RR rows. x points at row 0, column gG;
  // wg at wp + gG * W. Lanes below 8 are stored, lb[(r * 8 + l) * W + j] = p_l
  // of row r, channel j; lanes l >= 8 (computed after all of 0..7) do the
  // fold's first step on the way out: lb[l - 8] = p_(l-8) + p_l.
  template <int RR, int LL>
  static inline void lanes_pass(const float* x, long ldx, const float* wg, long gs, int l0, float* lb) {
    Reg acc[RR][LL];
    for (int r = 0; r < RR; ++r)
      for (int l = 0; l < LL; ++l) acc[r][l] = V::zero();
    const long full = gs / 16;
    for (long jb = 0; jb < full; ++jb) {
      const long k0 = jb * 16 + l0;
      for (int l = 0; l < LL; ++l) {
        const Reg wv = V::load(wg + (k0 + l) * W);
        for (int r = 0; r < RR; ++r) acc[r][l] = V::add(acc[r][l], V::mul(V::broadcast(x + r * ldx + k0 + l), wv));
      }
    }
    const long tail = gs % 16;  // lanes l < tail get one more product
    for (int l = 0; l < LL; ++l) {
      if (l0 + l >= tail) break;
      const long kk = full * 16 + l0 + l;
      const Reg wv = V::load(wg + kk * W);
      for (int r = 0; r < RR; ++r) acc[r][l] = V::add(acc[r][l], V::mul(V::broadcast(x + r * ldx + kk), wv));
    }
    if (l0 < 8) {
      for (int r = 0; r < RR; ++r)
        for (int l = 0; l < LL; ++l) V::store(lb + (r * 8 + l0 + l) * W, acc[r][l]);
    } else {
      for (int r = 0; r < RR; ++r) {
        for (int l = 0; l < LL; ++l) {
          float* q = lb + (r * 8 + l0 - 8 + l) * W;
          V::store(q, V::add(V::load(q), acc[r][l]));
        }
      }
    }
  }

  struct Args {
    const float* wp;
    const float* sp;
    long k, gs;
    const float* bias;  // W floats (0 past nc) or null
    typename V::Mask mask;  // the nc valid channels
    long ldy;
    float* lb;
    float* xw;  // bf16 activations only: 2 * R * gs floats
  };

  // Rows [m, m + RR) of one panel: all groups, fold, scale, group sum, bias, store.
  template <int RR, typename X>
  static void panel_rows(const X* x, const Args& a, float* y) {
    const long groups = a.k / a.gs;
    Reg sum[RR];
    for (int r = 0; r < RR; ++r) sum[r] = V::zero();  // set at g == 0 (groups >= 1)
    for (long g = 0; g < groups; ++g) {
      const float* xg;
      long ldg;
      if constexpr (std::is_same_v<X, float>) {
        xg = x + g * a.gs;
        ldg = a.k;
      } else {
        // Two buffers: group g + 1 is widened before group g's passes read the
        // buffer written a group earlier, not one just stored to.
        if (g == 0) V::template widen_rows<RR>(x, a.k, a.gs, a.xw);
        if (g + 1 < groups) V::template widen_rows<RR>(x + (g + 1) * a.gs, a.k, a.gs, a.xw + ((g + 1) & 1) * RR * a.gs);
        xg = a.xw + (g & 1) * RR * a.gs;
        ldg = a.gs;
      }
      for (int l0 = 0; l0 < 16; l0 += L) lanes_pass<RR, L>(xg, ldg, a.wp + g * a.gs * W, a.gs, l0, a.lb);
      const Reg s = V::load(a.sp + g * W);
      for (int r = 0; r < RR; ++r) {
        Reg p[8];
        for (int l = 0; l < 8; ++l) p[l] = V::load(a.lb + (r * 8 + l) * W);
        for (int half = 4; half >= 1; half /= 2)
          for (int l = 0; l < half; ++l) p[l] = V::add(p[l], p[l + half]);
        const Reg t = V::mul(p[0], s);
        sum[r] = g == 0 ? t : V::add(sum[r], t);
      }
    }
    for (int r = 0; r < RR; ++r) {
      const Reg v = a.bias ? V::add(sum[r], V::load(a.bias)) : sum[r];
      V::store_masked(y + r * a.ldy, a.mask, v);
    }
  }

  // The last t < RR rows of a block.
  template <int RR, typename X>
  static void tail_rows(int t, const X* x, const Args& a, float* y) {
    if constexpr (RR > 1) {
      if (t == RR - 1) panel_rows<RR - 1>(x, a, y);
      else tail_rows<RR - 1>(t, x, a, y);
    }
  }

  // y[m * w.n + c] for m in [m0, m1), c in [n0, n1) (panels of W channels from n0).
  template <typename X>
  static void run(const X* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1, float* y) {
    const long k = w.k, gs = w.group_size, groups = k / gs;
    // Per thread: decoded panel, scales, bias, lane sums, widened bf16 activations.
    const std::size_t need = static_cast<std::size_t>(k) * W + static_cast<std::size_t>(groups) * W + W +
                             static_cast<std::size_t>(R) * 8 * W +
                             (std::is_same_v<X, float> ? 0 : 2 * static_cast<std::size_t>(R) * gs);
    float* wp = thread_scratch(need);
    float* sp = wp + k * W;
    float* bw = sp + groups * W;
    float* lb = bw + W;
    float* xw = lb + R * 8 * W;
    for (long c0 = n0; c0 < n1; c0 += W) {
      const int nc = static_cast<int>(std::min<long>(W, n1 - c0));
      decode_panel(w, c0, nc, wp, sp);
      if (bias)
        for (int j = 0; j < W; ++j) bw[j] = j < nc ? bias[c0 + j] : 0.0f;
      const Args a{wp, sp, k, gs, bias ? bw : nullptr, V::mask_of(nc), w.n, lb, xw};
      long m = m0;
      for (; m + R <= m1; m += R) panel_rows<R>(x + m * k, a, y + m * w.n + c0);
      if (m < m1) tail_rows<R>(static_cast<int>(m1 - m), x + m * k, a, y + m * w.n + c0);
    }
  }
};

}  // namespace
}  // namespace sqsim::kernels
