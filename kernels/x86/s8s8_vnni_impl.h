#pragma once
// The blocked u8 x s8 kernel shared by s8s8_avx512vnni.cpp (real vpdpbusd) and
// s8s8_emulated_vnni_avx512.cpp (vpdpbusd emulated with AVX-512BW). Include only
// from those files: everything here has internal linkage, so each includer gets
// its own copy compiled with its own instruction-set flags. No Eigen and no
// std::vector here, so no shared inline code gets compiled with AVX-512 flags
// (TBB's templates are the one exception).
// GCC 12 reports a false -Wmaybe-uninitialized (or, once inlined deeper,
// -Wuninitialized) inside avx512fintrin.h for the unmasked vcvtdq2ps (its
// _mm512_undefined_ps operand), as in vecmath_avx512.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>


#include "kernels/x86/s8s8_vnni.h"
#include "kernels/x86/tile_loop.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace sqsim::kernels::vnni {
namespace {

constexpr long kTileN = 64;  // output channels per task (4 blocks of 16)

// Register tiles (rows of A x blocks of 16 channels). With one accumulator
// group (per-channel or per-tensor weights) a tile's accumulators are its
// outputs: 6 x 4 = 24 of the 32 vector registers, with 4 weight vectors and one
// broadcast, so the fixed cost of a call (start values, stores, the loop's
// exit) is spread over 24 vpdpbusd a step instead of 8. With several
// groups the fused kernel also keeps a float sum per accumulator, so 4 x 2.
constexpr int kRowsOneGroup = 6, kBlocksOneGroup = 4;
// Rows of A per task: 22 panels of 6, so up to M = 132 one task per 64
// channels reads its weights for every row.
constexpr long kTileMOneGroup = 132;
constexpr int kRowsGroups = 4, kBlocksGroups = 2;
constexpr long kTileMGroups = 32;

// Every loop over the MR x NB register tile is unrolled (#pragma GCC unroll):
// a tile loop GCC leaves rolled indexes c[i][j] at run time, which puts the
// whole tile in memory (it did for 6 x 4: every accumulator stored to the
// stack and reloaded twice after the k loop).
//
// The int32 accumulators of MR rows of A times NB blocks of 16 channels, for
// accumulator group g: c[i][j] lane l = acc_g(m0 + i, 16 * (nb0 + j) + l).
// Each 32-bit lane holds one (row, channel) dot product over the group.
//
// vpdpbusd multiplies unsigned bytes (its register operand: the packed weights,
// u = b + 128) by signed ones (its memory operand, broadcast: 4 activation
// codes), so sum(u * a) = sum(a * b) + 128 * sum(a). The accumulators start at
// a_comp = -128 * sum(a) of their row and group (activation_comp), which
// undoes it: wrapping int32 arithmetic, and the exact result fits int32.
template <class Dot, int MR, int NB>
inline void dot_group(const int8_t* a, long kp, const PackedBView& b, const int32_t* a_comp, long m0, long nb0,
                      long g, __m512i (&c)[MR][NB]) {
  const long gsp = b.gsp, quads = gsp / 4, groups = b.groups;
  #pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const __m512i start = _mm512_set1_epi32(a_comp[(m0 + i) * groups + g]);
    #pragma GCC unroll 16
    for (int j = 0; j < NB; ++j) c[i][j] = start;
  }
  // The NB blocks of a call lie in one interleaved set (the tile loop starts
  // each call at a multiple of NB, and NB divides kInterleave), so they are
  // 64 bytes apart.
  assert(nb0 % kInterleave + NB <= kInterleave);
  const int8_t* bp[NB];
  #pragma GCC unroll 16
  for (int j = 0; j < NB; ++j) bp[j] = b.block(nb0, g) + j * 64;
  // The activations as 4-byte words (kp and gsp are multiples of 4), each
  // the broadcast memory operand of a vpdpbusd: no broadcast or XOR uop
  // competes with the vpdpbusd for their ports.
  const int32_t* ap = reinterpret_cast<const int32_t*>(a + m0 * kp + g * gsp);
  const long kw = kp / 4;
  if constexpr (MR == 1 && NB == 1) {
    // One row, one block (decode): four independent accumulators over
    // interleaved quads, added at the end. Integer addition wraps exactly
    // (mod 2^32), so the split does not change the result; it keeps four
    // vpdpbusd in flight instead of one dependency chain.
    __m512i part[4] = {c[0][0], _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    long q = 0;
    for (; q + 4 <= quads; q += 4) {
      for (int u = 0; u < 4; ++u)
        part[u] = Dot::dp(part[u], _mm512_loadu_si512(bp[0] + (q + u) * kQuadStride), ap + q + u);
    }
    for (; q < quads; ++q) part[0] = Dot::dp(part[0], _mm512_loadu_si512(bp[0] + q * kQuadStride), ap + q);
    c[0][0] = _mm512_add_epi32(_mm512_add_epi32(part[0], part[1]), _mm512_add_epi32(part[2], part[3]));
  } else {
    for (long q = 0; q < quads; ++q) {
      // The NB weight vectors, then each row's word straight from memory:
      // live registers MR x NB + NB (24 + 4 for 6 x 4).
      __m512i bv[NB];
      #pragma GCC unroll 16
      for (int j = 0; j < NB; ++j) bv[j] = _mm512_loadu_si512(bp[j] + q * kQuadStride);
      #pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
        #pragma GCC unroll 16
        for (int j = 0; j < NB; ++j) c[i][j] = Dot::dp(c[i][j], bv[j], ap + i * kw + q);
    }
  }
}

// a_comp[m * groups + g] = -128 * sum of row m's codes in group g (the gsp
// bytes the kernels read; padding bytes are 0), for rows [0, m_rows): the
// accumulators' start (dot_group). Summed by the same instruction, against
// u8 ones: 64 codes per step.
template <class Dot>
void activation_comp(const int8_t* a, long m_rows, long groups, long gsp, int32_t* a_comp, bool parallel = true) {
  auto rows = [&](long m_begin, long m_end) {
    const __m512i ones = _mm512_set1_epi8(1);
    const long kp = groups * gsp;
    for (long m = m_begin; m < m_end; ++m) {
      for (long g = 0; g < groups; ++g) {
        const int8_t* row = a + m * kp + g * gsp;
        __m512i sum = _mm512_setzero_si512();
        for (long k = 0; k < gsp; k += 64) {
          const long left = std::min<long>(64, gsp - k);
          const __mmask64 mask = left == 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
          sum = Dot::dp_reg(sum, ones, _mm512_maskz_loadu_epi8(mask, row + k));
        }
        a_comp[m * groups + g] = -128 * _mm512_reduce_add_epi32(sum);
      }
    }
  };
  if (!parallel) return rows(0, m_rows);
  tbb::parallel_for(tbb::blocked_range<long>(0, m_rows, 64),
                    [&](const tbb::blocked_range<long>& r) { rows(r.begin(), r.end()); });
}

// The masked stores of the kernels: channels n0 .. n0 + 15 of row m, with
// the lanes past the last channel left alone.
inline __mmask16 lanes_mask(long n_rows, long n0) {
  const long valid = std::min<long>(16, n_rows - n0);
  return valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
}

// MR rows x NB blocks, all groups, int32 accumulators written to acc
// (interleaved: channel n, group g at acc[(m * n_rows + n) * groups + g]).
template <class Dot, int MR, int NB>
inline void micro(const int8_t* a, long kp, const PackedBView& b, const int32_t* a_comp, long m0, long nb0,
                  int32_t* acc) {
  const long groups = b.groups, n_rows = b.n;
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    dot_group<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, g, c);
    #pragma GCC unroll 16
    for (int j = 0; j < NB; ++j) {
      const long n0 = (nb0 + j) * 16, valid = std::min<long>(16, n_rows - n0);
      #pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        int32_t* dst = acc + ((m0 + i) * n_rows + n0) * groups + g;
        alignas(64) int32_t out[16];
        _mm512_store_si512(out, c[i][j]);
        for (long l = 0; l < valid; ++l) dst[l * groups] = out[l];
      }
    }
  }
}

// MR rows x NB blocks, all groups, with the epilogue fused (EpilogueView): each
// group's accumulators become floats while still in registers, 16 channels per
// register, with the reference's operations in the reference's order --
// vcvtdq2ps (float(acc), round to nearest like the scalar cast), vmulps by the
// broadcast activation scale, vmulps by the 16 weight scales, then vaddps onto
// the running sum (group 0 assigned, not added to +0.0); bias added last. No FMA.
template <class Dot, int MR, int NB>
inline void micro_f32(const int8_t* a, long kp, const PackedBView& b, const int32_t* a_comp, const EpilogueView& e,
                      long m0, long nb0, float* y) {
  const long groups = b.groups, n_rows = b.n;
  // Group 0 is assigned to the sum, later groups are added (the reference's order).
  __m512 sum[MR][NB];
  #pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 16
    for (int j = 0; j < NB; ++j) sum[i][j] = _mm512_setzero_ps();  // overwritten by group 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    dot_group<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, g, c);
    __m512 sb[NB];
    #pragma GCC unroll 16
    for (int j = 0; j < NB; ++j) sb[j] = _mm512_loadu_ps(e.b_scale + g * e.n_pad + (nb0 + j) * 16);
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 sa = _mm512_set1_ps(e.a_scale[(m0 + i) * groups + g]);
      #pragma GCC unroll 16
      for (int j = 0; j < NB; ++j) {
        const __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[i][j]), sa), sb[j]);
        sum[i][j] = g == 0 ? t : _mm512_add_ps(sum[i][j], t);
      }
    }
  }
  #pragma GCC unroll 16
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 16;
    const __mmask16 mask = lanes_mask(n_rows, n0);
    const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(mask, e.bias + n0) : _mm512_setzero_ps();
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 v = e.bias ? _mm512_add_ps(sum[i][j], bias) : sum[i][j];
      _mm512_mask_storeu_ps(y + (m0 + i) * n_rows + n0, mask, v);
    }
  }
}

// micro() for one accumulator group: the accumulators are the outputs, so
// each is stored with one masked store straight from its register.
template <class Dot, int MR, int NB>
inline void micro_one_group(const int8_t* a, long kp, const PackedBView& b, const int32_t* a_comp, long m0, long nb0,
                            int32_t* acc) {
  __m512i c[MR][NB];
  dot_group<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, 0, c);
  const long n_rows = b.n;
  #pragma GCC unroll 16
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 16;
    const __mmask16 mask = lanes_mask(n_rows, n0);
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_epi32(acc + (m0 + i) * n_rows + n0, mask, c[i][j]);
  }
}

// micro_f32() for one accumulator group: float(acc) * a_scale * b_scale (+ bias),
// the operations of the reference for group 0, straight from the registers.
template <class Dot, int MR, int NB>
inline void micro_f32_one_group(const int8_t* a, long kp, const PackedBView& b, const int32_t* a_comp,
                                const EpilogueView& e, long m0, long nb0, float* y) {
  __m512i c[MR][NB];
  dot_group<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, 0, c);
  const long n_rows = b.n;
  #pragma GCC unroll 16
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 16;
    const __mmask16 mask = lanes_mask(n_rows, n0);
    const __m512 sb = _mm512_loadu_ps(e.b_scale + n0);
    const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(mask, e.bias + n0) : _mm512_setzero_ps();
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 sa = _mm512_set1_ps(e.a_scale[m0 + i]);
      const __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[i][j]), sa), sb);
      _mm512_mask_storeu_ps(y + (m0 + i) * n_rows + n0, mask, e.bias ? _mm512_add_ps(t, bias) : t);
    }
  }
}

// The blocks [nb, nb_end) left after the last call of NB blocks (fewer than NB).
template <int MR, int kMax, class Tile>
inline void remainder_blocks(const Tile& tile, long m0, long nb, long nb_end) {
  if constexpr (kMax >= 1) {
    if (nb_end - nb == kMax) tile.template run<MR, kMax>(m0, nb);
    else remainder_blocks<MR, kMax - 1>(tile, m0, nb, nb_end);
  }
}

// Rows [m0, m0 + MR) x channel blocks [nb_begin, nb_end) of one task
// (kernels/x86/tile_loop.h), NB blocks per micro-kernel call; every output is
// computed by one call over all groups.
template <int MR, int NB, class Tile>
inline void row_panel(const Tile& tile, long m0, long nb_begin, long nb_end) {
  long nb = nb_begin;
  // One row (decode): a whole set of interleaved blocks at a time, so the
  // weights are read as one sequential stream that the prefetchers follow.
  constexpr int kBlocks = MR == 1 ? static_cast<int>(kInterleave) : NB;
  for (; nb + kBlocks <= nb_end; nb += kBlocks) tile.template run<MR, kBlocks>(m0, nb);
  remainder_blocks<MR, kBlocks - 1>(tile, m0, nb, nb_end);
}

// One group: 6 x 4 register tiles (Tile::run calls the one-group kernels);
// several: 4 x 2 (Tile::run_groups).
// Weights up to this size are walked in row bands (tile_loop.h): at most
// half of the L2 of the CPUs measured (Xeon model 207: 2 MiB; Zen 4: 1 MiB),
// so a band of activations fits beside them.
constexpr long kBandWeightBytes = 1L << 20;

template <class Tile>
void for_each_tile(long m_rows, long nblocks, long groups, const Tile& tile, bool parallel = true) {
  const bool bands = nblocks * 16 * groups * tile.b.gsp <= kBandWeightBytes;
  if (groups == 1) {
    for_each_row_panel<kRowsOneGroup>(
        m_rows, nblocks, kTileMOneGroup, kTileN / 16,
        [&](auto mr, long m0, long nb_begin, long nb_end) {
          row_panel<decltype(mr)::value, kBlocksOneGroup>(tile.one_group(), m0, nb_begin, nb_end);
        },
        parallel, bands);
    return;
  }
  for_each_row_panel<kRowsGroups>(
      m_rows, nblocks, kTileMGroups, kTileN / 16,
      [&](auto mr, long m0, long nb_begin, long nb_end) {
        row_panel<decltype(mr)::value, kBlocksGroups>(tile, m0, nb_begin, nb_end);
      },
      parallel, bands);
}

// What one micro-kernel call writes: int32 accumulators (AccTile) or floats
// through the fused epilogue (F32Tile); kOneGroup picks the one-group kernels,
// which for_each_tile asks for through one_group().
template <class Dot, bool kOneGroup = false>
struct AccTile {
  const int8_t* a;
  long kp;
  const PackedBView& b;
  const int32_t* a_comp;
  int32_t* acc;
  template <int MR, int NB>
  void run(long m0, long nb0) const {
    if constexpr (kOneGroup) micro_one_group<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, acc);
    else micro<Dot, MR, NB>(a, kp, b, a_comp, m0, nb0, acc);
  }
  AccTile<Dot, true> one_group() const { return {a, kp, b, a_comp, acc}; }
};

template <class Dot, bool kOneGroup = false>
struct F32Tile {
  const int8_t* a;
  long kp;
  const PackedBView& b;
  const int32_t* a_comp;
  const EpilogueView& e;
  float* y;
  template <int MR, int NB>
  void run(long m0, long nb0) const {
    if constexpr (kOneGroup) micro_f32_one_group<Dot, MR, NB>(a, kp, b, a_comp, e, m0, nb0, y);
    else micro_f32<Dot, MR, NB>(a, kp, b, a_comp, e, m0, nb0, y);
  }
  F32Tile<Dot, true> one_group() const { return {a, kp, b, a_comp, e, y}; }
};

template <class Dot>
void gemm_packed(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp, int32_t* acc) {
  activation_comp<Dot>(a, m_rows, b.groups, b.gsp, a_comp);
  for_each_tile(m_rows, b.nblocks, b.groups, AccTile<Dot>{a, b.groups * b.gsp, b, a_comp, acc});
}

template <class Dot>
void gemm_packed_f32(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp, const EpilogueView& e,
                     float* y, bool parallel = true) {
  activation_comp<Dot>(a, m_rows, b.groups, b.gsp, a_comp, parallel);
  for_each_tile(m_rows, b.nblocks, b.groups, F32Tile<Dot>{a, b.groups * b.gsp, b, a_comp, e, y}, parallel);
}

}  // namespace
}  // namespace sqsim::kernels::vnni
