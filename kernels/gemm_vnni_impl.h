#pragma once
// The blocked u8 x s8 kernel shared by gemm_avx512vnni.cpp (real vpdpbusd) and
// gemm_vnni_emul_avx512.cpp (vpdpbusd emulated with AVX-512BW). Include only
// from those files: everything here has internal linkage, so each includer gets
// its own copy compiled with its own instruction-set flags. No Eigen and no
// std::vector here, so no shared inline code gets compiled with AVX-512 flags
// (TBB's templates are the one exception).
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the
// unmasked vcvtdq2ps (its _mm512_undefined_ps operand), as in vecmath_avx512.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>


#include "kernels/gemm_vnni_kernels.h"
#include "kernels/tile_loop.h"

namespace sqsim::kernels::vnni {
namespace {

constexpr long kTileM = 32;  // rows of A per task
constexpr long kTileN = 64;  // output channels per task (4 blocks of 16)

// The int32 accumulators of MR rows of A times NB blocks of 16 channels, for
// accumulator group g: c[i][j] lane l = acc_g(m0 + i, 16 * (nb0 + j) + l).
// Each 32-bit lane holds one (row, channel) dot product over the group.
template <class Dot, int MR, int NB>
inline void dot_group(const uint8_t* a, long kp, const PackedBView& b, long m0, long nb0, long g, __m512i (&c)[MR][NB]) {
  const long gsp = b.gsp, quads = gsp / 4;
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) c[i][j] = _mm512_setzero_si512();
  const int8_t* bp[NB];
  for (int j = 0; j < NB; ++j) bp[j] = b.block(nb0 + j) + g * gsp * 16;
  const uint8_t* ap = a + m0 * kp + g * gsp;
  if constexpr (MR == 1 && NB == 1) {
    // One row, one block (decode): four independent accumulators over
    // interleaved quads, added at the end. Integer addition wraps exactly
    // (mod 2^32), so the split does not change the result; it keeps four
    // vpdpbusd in flight instead of one dependency chain.
    __m512i part[4] = {c[0][0], _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    long q = 0;
    for (; q + 4 <= quads; q += 4) {
      for (int u = 0; u < 4; ++u) {
        int32_t word;
        std::memcpy(&word, ap + (q + u) * 4, 4);
        part[u] = Dot::dp(part[u], _mm512_set1_epi32(word), _mm512_loadu_si512(bp[0] + (q + u) * 64));
      }
    }
    for (; q < quads; ++q) {
      int32_t word;
      std::memcpy(&word, ap + q * 4, 4);
      part[0] = Dot::dp(part[0], _mm512_set1_epi32(word), _mm512_loadu_si512(bp[0] + q * 64));
    }
    c[0][0] = _mm512_add_epi32(_mm512_add_epi32(part[0], part[1]), _mm512_add_epi32(part[2], part[3]));
  } else {
    for (long q = 0; q < quads; ++q) {
      __m512i bv[NB];
      for (int j = 0; j < NB; ++j) bv[j] = _mm512_loadu_si512(bp[j] + q * 64);
      for (int i = 0; i < MR; ++i) {
        int32_t word;
        std::memcpy(&word, ap + i * kp + q * 4, 4);
        const __m512i av = _mm512_set1_epi32(word);
        for (int j = 0; j < NB; ++j) c[i][j] = Dot::dp(c[i][j], av, bv[j]);
      }
    }
  }
  for (int j = 0; j < NB; ++j) {
    const __m512i comp = _mm512_loadu_si512(b.comp_block(nb0 + j) + g * 16);
    // Wrapping int32 subtraction: the exact result fits int32.
    for (int i = 0; i < MR; ++i) c[i][j] = _mm512_sub_epi32(c[i][j], comp);
  }
}

// MR rows x NB blocks, all groups, int32 accumulators written to acc.
template <class Dot, int MR, int NB>
inline void micro(const uint8_t* a, long kp, const PackedBView& b, long m0, long nb0, int32_t* acc) {
  const long groups = b.groups, n_rows = b.n;
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    dot_group<Dot, MR, NB>(a, kp, b, m0, nb0, g, c);
    for (int j = 0; j < NB; ++j) {
      const long n0 = (nb0 + j) * 16, valid = std::min<long>(16, n_rows - n0);
      for (int i = 0; i < MR; ++i) {
        int32_t* dst = acc + ((m0 + i) * n_rows + n0) * groups + g;
        if (groups == 1) {
          // One group (per-channel or per-tensor weights): the 16 channels are
          // adjacent in acc, so one masked store. At K = 576 the lane-by-lane
          // copy below cost about 8% of the GEMM's time (measured side by side).
          const __mmask16 mask =
              valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
          _mm512_mask_storeu_epi32(dst, mask, c[i][j]);
          continue;
        }
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
inline void micro_f32(const uint8_t* a, long kp, const PackedBView& b, const EpilogueView& e, long m0, long nb0,
                      float* y) {
  const long groups = b.groups, n_rows = b.n;
  // Group 0 is assigned to the sum, later groups are added (the reference's order).
  __m512 sum[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) sum[i][j] = _mm512_setzero_ps();  // overwritten by group 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    dot_group<Dot, MR, NB>(a, kp, b, m0, nb0, g, c);
    __m512 sb[NB];
    for (int j = 0; j < NB; ++j) sb[j] = _mm512_loadu_ps(e.b_scale + g * e.n_pad + (nb0 + j) * 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 sa = _mm512_set1_ps(e.a_scale[(m0 + i) * groups + g]);
      for (int j = 0; j < NB; ++j) {
        const __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[i][j]), sa), sb[j]);
        sum[i][j] = g == 0 ? t : _mm512_add_ps(sum[i][j], t);
      }
    }
  }
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 16, valid = std::min<long>(16, n_rows - n0);
    const __mmask16 mask = valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
    const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(mask, e.bias + n0) : _mm512_setzero_ps();
    for (int i = 0; i < MR; ++i) {
      const __m512 v = e.bias ? _mm512_add_ps(sum[i][j], bias) : sum[i][j];
      _mm512_mask_storeu_ps(y + (m0 + i) * n_rows + n0, mask, v);
    }
  }
}

// Rows [m0, m0 + MR) x channel blocks [nb_begin, nb_end) of one task
// (kernels/tile_loop.h), two blocks per micro-kernel call; every output is
// computed by one call over all groups.
template <int MR, class Tile>
inline void row_panel(const Tile& tile, long m0, long nb_begin, long nb_end) {
  long nb = nb_begin;
  // One row (decode): one block at a time, so the weights are read as one
  // sequential stream (blocks are contiguous) that the prefetchers follow;
  // two blocks at once start a new stream every other block, which costs the
  // most on small matrices read from memory.
  if (MR == 1) {
    for (; nb < nb_end; ++nb) tile.template run<1, 1>(m0, nb);
    return;
  }
  for (; nb + 2 <= nb_end; nb += 2) tile.template run<MR, 2>(m0, nb);
  if (nb < nb_end) tile.template run<MR, 1>(m0, nb);
}

template <class Tile>
void for_each_tile(long m_rows, long nblocks, const Tile& tile) {
  for_each_row_panel(m_rows, nblocks, kTileM, kTileN / 16, [&](auto mr, long m0, long nb_begin, long nb_end) {
    row_panel<decltype(mr)::value>(tile, m0, nb_begin, nb_end);
  });
}

template <class Dot>
struct AccTile {
  const uint8_t* a;
  long kp;
  const PackedBView& b;
  int32_t* acc;
  template <int MR, int NB>
  void run(long m0, long nb0) const { micro<Dot, MR, NB>(a, kp, b, m0, nb0, acc); }
};

template <class Dot>
struct F32Tile {
  const uint8_t* a;
  long kp;
  const PackedBView& b;
  const EpilogueView& e;
  float* y;
  template <int MR, int NB>
  void run(long m0, long nb0) const { micro_f32<Dot, MR, NB>(a, kp, b, e, m0, nb0, y); }
};

template <class Dot>
void gemm_packed(const uint8_t* a, long m_rows, const PackedBView& b, int32_t* acc) {
  for_each_tile(m_rows, b.nblocks, AccTile<Dot>{a, b.groups * b.gsp, b, acc});
}

template <class Dot>
void gemm_packed_f32(const uint8_t* a, long m_rows, const PackedBView& b, const EpilogueView& e, float* y) {
  for_each_tile(m_rows, b.nblocks, F32Tile<Dot>{a, b.groups * b.gsp, b, e, y});
}

}  // namespace
}  // namespace sqsim::kernels::vnni
