#pragma once
// The blocked u8 x s8 kernel shared by gemm_avx512vnni.cpp (real vpdpbusd) and
// gemm_vnni_emul_avx512.cpp (vpdpbusd emulated with AVX-512BW). Include only
// from those files: everything here has internal linkage, so each includer gets
// its own copy compiled with its own instruction-set flags. No Eigen and no
// std::vector here, so no shared inline code gets compiled with AVX-512 flags
// (TBB's templates are the one exception).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "kernels/gemm_vnni_kernels.h"

namespace sqsim::kernels::vnni {
namespace {

constexpr long kTileM = 32;  // rows of A per task
constexpr long kTileN = 64;  // output channels per task (4 blocks of 16)

// MR rows of A times NB blocks of 16 channels, all groups. Each 32-bit lane
// of an accumulator holds one (row, channel) dot product over one group.
template <class Dot, int MR, int NB>
inline void micro(const uint8_t* a, long kp, const PackedBView& b, long m0, long nb0, int32_t* acc) {
  const long groups = b.groups, gsp = b.gsp, quads = gsp / 4, n_rows = b.n;
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NB; ++j) c[i][j] = _mm512_setzero_si512();
    const int8_t* bp[NB];
    for (int j = 0; j < NB; ++j) bp[j] = b.block(nb0 + j) + g * gsp * 16;
    const uint8_t* ap = a + m0 * kp + g * gsp;
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
    for (int j = 0; j < NB; ++j) {
      const __m512i comp = _mm512_loadu_si512(b.comp_block(nb0 + j) + g * 16);
      const long n0 = (nb0 + j) * 16, valid = std::min<long>(16, n_rows - n0);
      for (int i = 0; i < MR; ++i) {
        alignas(64) int32_t out[16];
        // Wrapping int32 subtraction: the exact result fits int32.
        _mm512_store_si512(out, _mm512_sub_epi32(c[i][j], comp));
        int32_t* dst = acc + ((m0 + i) * n_rows + n0) * groups + g;
        for (long l = 0; l < valid; ++l) dst[l * groups] = out[l];
      }
    }
  }
}

template <class Dot, int MR>
inline void row_panel(const uint8_t* a, long kp, const PackedBView& b, long m0, long nb_begin, long nb_end,
                      int32_t* acc) {
  long nb = nb_begin;
  for (; nb + 2 <= nb_end; nb += 2) micro<Dot, MR, 2>(a, kp, b, m0, nb, acc);
  if (nb < nb_end) micro<Dot, MR, 1>(a, kp, b, m0, nb, acc);
}

template <class Dot>
void gemm_packed(const uint8_t* a, long m_rows, const PackedBView& b, int32_t* acc) {
  const long kp = b.groups * b.gsp;
  const long nb_per_tile = kTileN / 16;
  // Each task owns a disjoint [rows x channels] tile of the output, so the
  // result does not depend on scheduling.
  tbb::parallel_for(
      tbb::blocked_range2d<long>(0, (m_rows + kTileM - 1) / kTileM, 1, 0,
                                 (b.nblocks + nb_per_tile - 1) / nb_per_tile, 1),
      [&](const tbb::blocked_range2d<long>& r) {
        for (long tm = r.rows().begin(); tm < r.rows().end(); ++tm) {
          for (long tn = r.cols().begin(); tn < r.cols().end(); ++tn) {
            const long m_end = std::min(m_rows, (tm + 1) * kTileM);
            const long nb_begin = tn * nb_per_tile, nb_end = std::min(b.nblocks, nb_begin + nb_per_tile);
            long m = tm * kTileM;
            for (; m + 4 <= m_end; m += 4) row_panel<Dot, 4>(a, kp, b, m, nb_begin, nb_end, acc);
            switch (m_end - m) {
              case 3: row_panel<Dot, 3>(a, kp, b, m, nb_begin, nb_end, acc); break;
              case 2: row_panel<Dot, 2>(a, kp, b, m, nb_begin, nb_end, acc); break;
              case 1: row_panel<Dot, 1>(a, kp, b, m, nb_begin, nb_end, acc); break;
              default: break;
            }
          }
        }
      });
}

}  // namespace
}  // namespace sqsim::kernels::vnni
