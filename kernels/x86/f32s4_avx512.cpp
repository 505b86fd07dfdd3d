// W4A16 with AVX-512F: a 16-float register holds the 16 lanes of the reference
// order (lane l sums the products with (k - g*G) mod 16 = l, in increasing k),
// in some fixed permutation. Products and sums are separate vmulps / vaddps (no
// FMA: the build uses -ffp-contract=off) and every fold, scale, group-sum and
// bias addition takes the reference's operands in its order, so the bits equal
// linear_f32s4_reference. row_avx512 (floats, any group size) and the row
// kernel f32s4_rows_avx512 (decode, few rows: a GEMV over blocks of 16
// channels) come first; the panel kernel for many rows is further down.
// Both read float32 activations, or bfloat16 ones (bf16s4_*: the bits widened
// to float32 in the kernel, exact), with the same operations afterwards.
// GCC 12 (notably with -fsanitize) reports false -W(maybe-)uninitialized warnings inside
// avx512fintrin.h for intrinsics whose unmasked form passes _mm512_undefined_*.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/x86/f32s4_avx512.h"

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

// 16 int4 codes (8 bytes) -> 16 bytes in k order: low nibble first.
inline __m128i nibbles_in_order(const uint8_t* p) {
  const __m128i words = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i lo = _mm_and_si128(words, _mm_set1_epi16(0x0F));
  const __m128i hi = _mm_srli_epi16(words, 4);
  return _mm_or_si128(lo, _mm_slli_epi16(hi, 8));
}

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
// (Tried: putting the code into the mantissa of 2^23 with vpternlogd and
// subtracting 2^23 + off + zp with vsubps instead of the vpermps table: slower on
// Zen 4, the extra vsubps competes with the vaddps for the FP add pipes.)
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
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>((groups + 15) / 16) * 16 * 16 * 2 + 16;
  if (scratch.size() < need) scratch.assign(need, 0.0f);
  float* zt = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
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
// short group stay +0.0, as in the reference). bfloat16 activations are
// widened per group into a small float buffer (2 x R x G floats, in L1) before the
// lane passes, which then run unchanged.

namespace {

constexpr int kPanel = 16;      // channels per panel = floats per zmm
// R rows x L lanes per pass = 24 accumulators. Measured on Zen 4 (1 thread,
// M = 128 / 2048, K x N = 576 x 1536 and 1536 x 576, G = 128): 6x4 and 5x4
// tie (43-45 G MAC/s), 4x4 and 8x2 are a little slower, 3x8 and 2x8 much
// slower (about 28), and a group-outer loop order gained nothing. Two panels
// per pass (32 channels, each broadcast activation feeding two products; R x
// L = 3 x 4 or 6 x 2) was slower too: 31-35 against 39-45 G MAC/s at M = 2048.
constexpr int kPanelRows = 6;
constexpr int kPanelLanes = 4;

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
  decode_panel_scalar(w, c0, nc, kPanel, wp);
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

// vpermw indices that widen 32 bf16 in two registers: word 2i + 1 takes bf16
// i (lo) or 16 + i (hi), the even words are zeroed by the mask, so dword i is
// bits << 16. Measured (Zen 4, 1 thread, M = 16 and 128, K = N = 4096, G = 128,
// a shared machine under load, runs differing by several %): one vpermw per 16
// values instead of vpmovzxwd + vpslld, and widening group g + 1 before group
// g's passes (panel_rows), took the bf16 panel kernel from 10-15 % slower than
// the float one to about 2-10 % slower.
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

// Rows [m, m + R) of one panel: all groups, fold, scale, group sum, bias, store.
// xw: 2 * R * gs floats of room for widened bf16 activations.
template <int R, int L, typename X>
void panel_rows(const X* x, long ldx, const float* wp, const float* sp, long k, long gs, const float* bias16,
                __mmask16 mask, float* y, long ldy, float* lb, float* xw) {
  const long groups = k / gs;
  __m512 sum[R];
  for (int r = 0; r < R; ++r) sum[r] = _mm512_setzero_ps();  // set at g == 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    const float* xg;
    long ldg;
    if constexpr (std::is_same_v<X, float>) {
      xg = x + g * gs;
      ldg = ldx;
    } else {
      // Two buffers: group g + 1 is widened before group g's passes read the
      // buffer written a group earlier, not one just stored to.
      if (g == 0) widen_rows<R>(x, ldx, gs, xw);
      if (g + 1 < groups) widen_rows<R>(x + (g + 1) * gs, ldx, gs, xw + ((g + 1) & 1) * R * gs);
      xg = xw + (g & 1) * R * gs;
      ldg = gs;
    }
    for (int l0 = 0; l0 < 16; l0 += L) lanes_pass<R, L>(xg, ldg, wp + g * gs * kPanel, gs, l0, lb);
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
  float* xw;  // bf16 activations only: 2 * kPanelRows * gs floats
};

// The last t < R rows of a block.
template <int R, int L, typename X>
void tail_rows(int t, const X* x, const PanelArgs& a, float* y) {
  if constexpr (R > 1) {
    if (t == R - 1) panel_rows<R - 1, L>(x, a.k, a.wp, a.sp, a.k, a.gs, a.bias16, a.mask, y, a.ldy, a.lb, a.xw);
    else tail_rows<R - 1, L>(t, x, a, y);
  }
}

template <int R, int L, typename X>
void panel_block(const X* x, long m0, long m1, const PanelArgs& a, float* y) {
  static_assert(8 % L == 0 && R * L <= 28, "lane passes split 0..7 and 8..15; accumulators fit the zmm file");
  long m = m0;
  for (; m + R <= m1; m += R)
    panel_rows<R, L>(x + m * a.k, a.k, a.wp, a.sp, a.k, a.gs, a.bias16, a.mask, y + m * a.ldy, a.ldy, a.lb, a.xw);
  if (m < m1) tail_rows<R, L>(static_cast<int>(m1 - m), x + m * a.k, a, y + m * a.ldy);
}

template <typename X>
void panel_impl(const X* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1, float* y) {
  const long k = w.k, gs = w.group_size, groups = k / gs;
  // Per thread: decoded panel, scales, bias, lane sums, widened bf16 activations.
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(k) * kPanel + static_cast<size_t>(groups) * kPanel + kPanel +
                      static_cast<size_t>(kPanelRows) * 8 * kPanel + 2 * static_cast<size_t>(kPanelRows) * gs +
                      16;  // + 16: room to align to 64 bytes
  if (scratch.size() < need) scratch.assign(need, 0.0f);
  float* wp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  float* sp = wp + k * kPanel;
  float* b16 = sp + groups * kPanel;
  float* lb = b16 + kPanel;
  float* xw = lb + kPanelRows * 8 * kPanel;
  for (long c0 = n0; c0 < n1; c0 += kPanel) {
    const int nc = static_cast<int>(std::min<long>(kPanel, n1 - c0));
    decode_panel(w, c0, nc, wp, sp);
    if (bias)
      for (int j = 0; j < kPanel; ++j) b16[j] = j < nc ? bias[c0 + j] : 0.0f;
    const PanelArgs a{wp, sp, k, gs, bias ? b16 : nullptr, static_cast<__mmask16>((1u << nc) - 1u), w.n, lb, xw};
    panel_block<kPanelRows, kPanelLanes>(x, m0, m1, a, y + c0);
  }
}

}  // namespace

void f32s4_panel_avx512(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                        float* y) {
  panel_impl(x, m0, m1, w, bias, n0, n1, y);
}

void bf16s4_panel_avx512(const uint16_t* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                         float* y) {
  panel_impl(x, m0, m1, w, bias, n0, n1, y);
}

}  // namespace sqsim::kernels::w4a16
