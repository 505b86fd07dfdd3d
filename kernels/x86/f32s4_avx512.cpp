// W4A16 with AVX-512F: a 16-float register holds the 16 lanes of the reference
// order (lane l sums the products with (k - g*G) mod 16 = l, in increasing k),
// in some fixed permutation. Products and sums are separate vmulps / vaddps (no
// FMA: the build uses -ffp-contract=off) and every fold, scale, group-sum and
// bias addition takes the reference's operands in its order, so the bits equal
// linear_f32s4_reference. row_avx512 (floats, any group size) and the row
// kernel f32s4_rows_avx512 (decode, few rows: a GEMV over blocks of 16
// channels) come first; the panel kernel for many rows (kernels/x86/
// f32s4_panel_impl.h on 16-float registers) is further down.
// Both read float32 activations, or bfloat16 ones (bf16s4_*: the bits widened
// to float32 in the kernel, exact), with the same operations afterwards.
// GCC 12 (notably with -fsanitize) reports false -W(maybe-)uninitialized warnings inside
// avx512fintrin.h for intrinsics whose unmasked form passes _mm512_undefined_*.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/x86/f32s4_avx512.h"
#include "kernels/x86/f32s4_panel_impl.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <cstdint>
#include <type_traits>
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

// 16 activations as floats: float32 loaded, or bfloat16 bits widened (<< 16: exact).
inline __m512 load_x16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_x16(const uint16_t* p) {
  const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

// ---------------------------------------------------------------------------
// The row kernel (decode, M < 5): a GEMV per activation row over blocks of 16
// output channels.
//
// Decode of one chunk of 16 codes (8 bytes, k = k0 .. k0 + 15): the qword is
// broadcast to all 8 qwords of a zmm and each dword element e shifted right by
// 4 * (e >> 1) (vpsrlvd). Element e then has in its low 4 bits the nibble of
// lane pi(e) = (e & 1) * 8 + (e >> 1) (even elements see the low dword, nibbles
// 0-7; odd ones the high dword, nibbles 8-15). vpermps reads only those 4 bits
// and looks up a 16-float table T[q] = float(((q ^ off) - off) - zp) for the
// channel's group (built per group in integers from the block's transposed
// zero points, then converted: exact). So a chunk costs a broadcast load,
// vpsrlvd, vpermps, vmulps, vaddps. The x chunk is permuted the same way (once
// per chunk for all 16 channels), so element e of the accumulator is the
// reference's lane pi(e) chain: products x * w added in increasing k from +0.0,
// as in the reference.
//
// Fold: the 16 accumulators of a block (one per channel, one group) are folded
// together by a transpose-like tree of shuffles and vaddps. Each vaddps adds,
// element-wise, lane l and lane l + h of the same channel with the lower lane as
// first operand, h = 8, 4, 2, 1 in that order: the reference's fold. The result
// has one p_0 per channel (in the order fold_channel below), then t = p_0 * s
// (scales transposed into that order per block), the sum over groups in order
// and the bias are vector operations with the reference's operands: the bits
// are the reference's.

constexpr int kGemvChannels = 16;

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

// Element e of the folded vector holds channel fold_channel(e).
constexpr int fold_channel(int e) { return ((e & 3) >> 1) * 8 + 2 * (e >> 2) + (e & 1); }

// a, b -> per 128-bit block [a0 + a1, a2 + a3, b0 + b1, b2 + b3]: adds
// element pairs (2i, 2i + 1), the even one first.
inline __m512 fold_adjacent(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

// p_0 of each of the 16 accumulators (lane layout pi), element e = channel fold_channel(e).
inline __m512 fold16x16(const __m512 a[16]) {
  __m512 c[8], f[4], p[2];
  // lane l (element 2l) + lane l + 8 (element 2l + 1): C_i block q =
  // [A(2q), A(2q+1), B(2q), B(2q+1)] with A = a[2i], B = a[2i + 1].
  for (int i = 0; i < 8; ++i) c[i] = fold_adjacent(a[2 * i], a[2 * i + 1]);
  // + 4: blocks q and q + 2 of C.
  for (int i = 0; i < 4; ++i)
    f[i] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0xEE));
  // + 2: blocks 2j and 2j + 1.
  for (int i = 0; i < 2; ++i)
    p[i] = _mm512_add_ps(_mm512_shuffle_f32x4(f[2 * i], f[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(f[2 * i], f[2 * i + 1], 0xDD));
  // + 1: adjacent elements again.
  return fold_adjacent(p[0], p[1]);
}

struct GemvConsts {
  __m512i shifts, xperm, fold_to_channel, base;
};

inline GemvConsts gemv_consts(bool is_signed) {
  alignas(64) int32_t sh[16], xp[16], unperm[16], base[16];
  for (int e = 0; e < 16; ++e) {
    sh[e] = 4 * (e >> 1);
    xp[e] = (e & 1) * 8 + (e >> 1);
    unperm[fold_channel(e)] = e;
    base[e] = is_signed ? (e ^ 8) : e;  // q ^ off; the table subtracts off + zp
  }
  return {_mm512_load_si512(sh), _mm512_load_si512(xp), _mm512_load_si512(unperm), _mm512_load_si512(base)};
}

// One activation row xr times the 16 (CB used) channels of a block: the
// group sums in fold order (element e = channel fold_channel(e)), scaled and
// added over groups. codes(j, k0) points at channel j's 8 code bytes for k0 ..
// k0 + 15; zti[g * 16 + j] = off + zp of channel j, st[g * 16 + e] = the scale
// of channel fold_channel(e). st need not be 64-byte aligned (the pack's
// std::vector storage is not): unaligned loads.
// (The vpermps table, not the code put into the mantissa of 2^23 with
// vpternlogd and 2^23 + off + zp subtracted with vsubps: measured, results/kernels.)
template <int CB, typename X, typename Codes>
inline __m512 gemv_sums(const X* xr, long k, long gs, const int32_t* zti, const float* st, const GemvConsts& cs,
                        Codes codes) {
  const long groups = k / gs;
  alignas(64) float table[CB][16];
  __m512 sum = _mm512_setzero_ps();  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    for (int j = 0; j < CB; ++j) {
      // T[q] = float((q ^ off) - (off + zp)): exact int32, then exact float.
      const __m512i v = _mm512_sub_epi32(cs.base, _mm512_set1_epi32(zti[g * 16 + j]));
      _mm512_store_ps(table[j], _mm512_cvtepi32_ps(v));
    }
    __m512 acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_setzero_ps();
    for (long k0 = g * gs; k0 < (g + 1) * gs; k0 += 16) {
      const __m512 xv = _mm512_permutexvar_ps(cs.xperm, load_x16(xr + k0));
#pragma GCC unroll 16
      for (int j = 0; j < CB; ++j) {
        int64_t q8;
        __builtin_memcpy(&q8, codes(j, k0), 8);
        const __m512i idx = _mm512_srlv_epi32(_mm512_set1_epi64(q8), cs.shifts);
        const __m512 wv = _mm512_permutexvar_ps(idx, _mm512_load_ps(table[j]));  // reads bits 0-3 of idx
        acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(xv, wv));
      }
    }
    const __m512 t = _mm512_mul_ps(fold16x16(acc), _mm512_loadu_ps(st + g * 16));
    sum = g == 0 ? t : _mm512_add_ps(sum, t);
  }
  return sum;
}

// y[c0 .. c0 + nc) = the block's sums in channel order, plus the bias.
inline void store_block(__m512 sum, const GemvConsts& cs, const float* bias, long c0, int nc, float* y) {
  const __mmask16 mask = static_cast<__mmask16>((1u << nc) - 1u);
  __m512 out = _mm512_permutexvar_ps(cs.fold_to_channel, sum);  // channel order
  if (bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, bias + c0));
  _mm512_mask_storeu_ps(y + c0, mask, out);
}

// y[c0 .. c0 + CB) of one activation row xr (y = that row of the output), from
// the row-major Int4Matrix storage: zero points and scales transposed per call.
template <int CB, typename X>
void gemv_block(const X* xr, const Int4View& w, const GemvConsts& cs, const float* bias, long c0, float* y) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  const uint8_t* row[CB];
  for (int j = 0; j < CB; ++j) row[j] = w.packed + (c0 + j) * (k / 2);
  const int off = w.is_signed ? 8 : 0;
  // Per block, transposed in registers 16 groups at a time: zt[g * 16 + j] =
  // off + zp of channel j (int32 bits), st[g * 16 + e] = scale of channel
  // fold_channel(e) (fold order); channels >= CB get 0.
  float* zt = thread_scratch(static_cast<size_t>((groups + 15) / 16) * 16 * 16 * 2);
  float* st = zt + (groups + 15) / 16 * 16 * 16;
  for (long g0 = 0; g0 < groups; g0 += 16) {
    const __mmask16 gm = static_cast<__mmask16>(groups - g0 >= 16 ? 0xFFFF : (1u << (groups - g0)) - 1u);
    __m512 r[16];
    for (int j = 0; j < 16; ++j)
      r[j] = j < CB ? _mm512_castsi512_ps(_mm512_add_epi32(
                          _mm512_maskz_loadu_epi32(gm, w.zero_point + (c0 + j) * groups + g0), _mm512_set1_epi32(off)))
                    : _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < 16; ++i) _mm512_store_ps(zt + (g0 + i) * 16, r[i]);
    for (int e = 0; e < 16; ++e) {
      const int c = fold_channel(e);
      r[e] = c < CB ? _mm512_maskz_loadu_ps(gm, w.scale + (c0 + c) * groups + g0) : _mm512_setzero_ps();
    }
    transpose16(r);
    for (int i = 0; i < 16; ++i) _mm512_store_ps(st + (g0 + i) * 16, r[i]);
  }
  const __m512 sum = gemv_sums<CB>(xr, k, gs, reinterpret_cast<const int32_t*>(zt), st, cs,
                                   [&row](int j, long k0) { return row[j] + k0 / 2; });
  store_block(sum, cs, bias, c0, CB, y);
}

// The same on the block-interleaved pack: block b's codes are one stream,
// chunk k0 / 16 of channel j at 128 * (k0 / 16) + 8 * j = 8 * (k0 + j).
template <typename X>
void gemv_packed_block(const X* xr, const Int4GemvView& g, const GemvConsts& cs, const float* bias, long b,
                       float* y) {
  const long groups = g.k / g.group_size;
  const uint8_t* bp = g.codes + b * g.k * 8;
  const __m512 sum = gemv_sums<16>(xr, g.k, g.group_size, g.zp_off + b * groups * 16, g.scale + b * groups * 16,
                                   cs, [bp](int j, long k0) { return bp + 8 * (k0 + j); });
  const long c0 = b * 16;
  store_block(sum, cs, bias, c0, static_cast<int>(std::min<long>(16, g.n - c0)), y);
}

template <typename X>
using GemvFn = void (*)(const X*, const Int4View&, const GemvConsts&, const float*, long, float*);

template <typename X, int... I>
constexpr auto gemv_table(std::integer_sequence<int, I...>) {
  return std::array<GemvFn<X>, sizeof...(I)>{&gemv_block<I + 1, X>...};
}

template <typename X>
void rows_impl(const X* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y) {
  static constexpr auto kFns = gemv_table<X>(std::make_integer_sequence<int, kGemvChannels>{});
  const GemvConsts cs = gemv_consts(w.is_signed);
  for (long c0 = n0; c0 < n1; c0 += kGemvChannels) {
    const int nc = static_cast<int>(std::min<long>(kGemvChannels, n1 - c0));
    const GemvFn<X> fn = kFns[nc - 1];
    for (long m = 0; m < m_rows; ++m) fn(x + m * w.k, w, cs, bias, c0, y + m * w.n);
  }
}

}  // namespace

void f32s4_rows_avx512(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y) {
  rows_impl(x, m_rows, w, bias, n0, n1, y);
}

void bf16s4_rows_avx512(const uint16_t* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1,
                        float* y) {
  rows_impl(x, m_rows, w, bias, n0, n1, y);
}

namespace {

template <typename X>
void gemv_blocks_impl(const X* x, long m_rows, const Int4GemvView& g, const float* bias, long b0, long b1, float* y) {
  const GemvConsts cs = gemv_consts(g.is_signed);
  for (long b = b0; b < b1; ++b)
    for (long m = 0; m < m_rows; ++m) gemv_packed_block(x + m * g.k, g, cs, bias, b, y + m * g.n);
}

}  // namespace

void f32s4_gemv_blocks_avx512(const float* x, long m_rows, const Int4GemvView& g, const float* bias, long b0,
                              long b1, float* y) {
  gemv_blocks_impl(x, m_rows, g, bias, b0, b1, y);
}

void bf16s4_gemv_blocks_avx512(const uint16_t* x, long m_rows, const Int4GemvView& g, const float* bias, long b0,
                               long b1, float* y) {
  gemv_blocks_impl(x, m_rows, g, bias, b0, b1, y);
}

void pack_gemv_avx512(const Int4View& w, Int4GemvPack& pack) {
  const long blocks = (w.n + 15) / 16, groups = w.k / w.group_size, chunks = w.k / 16;
  pack.n = w.n;
  pack.k = w.k;
  pack.group_size = w.group_size;
  pack.is_signed = w.is_signed;
  pack.codes.assign(static_cast<size_t>(blocks * chunks * 128), 0);
  pack.zp_off.assign(static_cast<size_t>(blocks * groups * 16), 0);
  pack.scale.assign(static_cast<size_t>(blocks * groups * 16), 0.0f);
  const int off = w.is_signed ? 8 : 0;
  for (long b = 0; b < blocks; ++b) {
    for (int j = 0; j < 16; ++j) {
      const long c = b * 16 + j;
      if (c >= w.n) break;
      for (long s = 0; s < chunks; ++s)
        std::copy_n(w.packed + c * (w.k / 2) + s * 8, 8, pack.codes.data() + ((b * chunks + s) * 16 + j) * 8);
      for (long g = 0; g < groups; ++g) pack.zp_off[(b * groups + g) * 16 + j] = off + w.zero_point[c * groups + g];
    }
    for (long g = 0; g < groups; ++g)
      for (int e = 0; e < 16; ++e) {
        const long c = b * 16 + fold_channel(e);
        pack.scale[(b * groups + g) * 16 + e] = c < w.n ? w.scale[c * groups + g] : 0.0f;
      }
  }
}

// ---------------------------------------------------------------------------
// The panel path for many activation rows: kernels/x86/f32s4_panel_impl.h on
// 16-float registers (16 channels per panel).

namespace {

// vpermw indices that widen 32 bf16 in two registers: word 2i + 1 takes bf16
// i (lo) or 16 + i (hi), the even words are zeroed by the mask, so dword i is
// bits << 16: one vpermw per 16 values instead of vpmovzxwd + vpslld (the
// choice is measured: results/kernels).
struct WidenIndices {
  alignas(64) int16_t lo[32], hi[32];
};
constexpr WidenIndices widen_indices() {
  WidenIndices w{};
  for (int e = 0; e < 32; ++e) {
    w.lo[e] = static_cast<int16_t>(e / 2);
    w.hi[e] = static_cast<int16_t>(16 + e / 2);
  }
  return w;
}
constexpr WidenIndices kWiden = widen_indices();

// xw[r * gs + i] = float(x[r * ldx + i]) for R rows of gs bf16 activations:
// once per group and panel, a small L1 buffer that the lane passes then read
// like float activations.
template <int R>
inline void widen_rows(const uint16_t* x, long ldx, long gs, float* xw) {
  const __m512i lo = _mm512_load_si512(kWiden.lo), hi = _mm512_load_si512(kWiden.hi);
  for (int r = 0; r < R; ++r) {
    const uint16_t* xr = x + r * ldx;
    float* out = xw + r * gs;
    long i = 0;
    for (; i + 32 <= gs; i += 32) {
      const __m512i v = _mm512_loadu_si512(xr + i);
      _mm512_storeu_si512(out + i, _mm512_maskz_permutexvar_epi16(0xAAAAAAAAu, lo, v));
      _mm512_storeu_si512(out + i + 16, _mm512_maskz_permutexvar_epi16(0xAAAAAAAAu, hi, v));
    }
    for (; i + 16 <= gs; i += 16) _mm512_storeu_ps(out + i, load_x16(xr + i));
    if (i < gs) {
      const __mmask16 m = static_cast<__mmask16>((1u << (gs - i)) - 1u);
      const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, xr + i));
      _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(u, 16)));
    }
  }
}

// 16 floats per register for W4A16Panel (kernels/x86/f32s4_panel_impl.h).
struct F32x16 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static constexpr int kRegisters = 32;
  // R rows x L lanes per pass = 24 accumulators (the choice is measured:
  // results/kernels).
  static constexpr int kRows = 6;
  static constexpr int kLanes = 4;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_load_ps(p); }
  static void store(float* p, Reg v) { _mm512_store_ps(p, v); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Mask mask_of(int nc) { return static_cast<__mmask16>((1u << nc) - 1u); }
  static void store_masked(float* p, Mask m, Reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static void decode16(const uint8_t* p, int off, int shift, Reg out[1]) {
    const __m512i q = _mm512_cvtepu8_epi32(nibbles_in_order(p));
    out[0] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_xor_si512(q, _mm512_set1_epi32(off)), _mm512_set1_epi32(shift)));
  }
  static void transpose(Reg r[16]) { transpose16(r); }
  template <int R>
  static void widen_rows(const uint16_t* x, long ldx, long gs, float* xw) { w4a16::widen_rows<R>(x, ldx, gs, xw); }
};

}  // namespace

void f32s4_panel_avx512(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                        float* y) {
  W4A16Panel<F32x16>::run(x, m0, m1, w, bias, n0, n1, y);
}

void bf16s4_panel_avx512(const uint16_t* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                         float* y) {
  W4A16Panel<F32x16>::run(x, m0, m1, w, bias, n0, n1, y);
}

}  // namespace sqsim::kernels::w4a16
