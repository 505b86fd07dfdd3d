// Exact int8 GEMM with AVX2. Compiled with -mavx2 (CMakeLists.txt); only
// called after the run-time feature check in kernels/kernel_path.cpp.
//
// vpmaddubsw (u8 x s8 -> s16 pairs) saturates, so it cannot be exact here.
// Instead both operands are sign-extended to int16 and multiplied with
// vpmaddwd: each int32 lane gets a*b + c*d with |a*b + c*d| <= 2^15, never
// near saturation, and the int32 sums wrap exactly like the reference's (the
// true result fits int32, validate_s8s8). No offset compensation is needed.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "kernels/gemm_avx2_kernels.h"

namespace sqsim::kernels::avx2 {
namespace {

constexpr long kTileM = 32;  // rows of A per task
constexpr long kTileN = 64;  // output channels per task (8 blocks of 8)

// MR rows of A times NB blocks of 8 channels, all groups.
template <int MR, int NB>
inline void micro(const int16_t* a, long kp, const PackedBView& b, long m0, long nb0, int32_t* acc) {
  const long groups = b.groups, gsp = b.gsp, pairs = gsp / 2, n_rows = b.n;
  for (long g = 0; g < groups; ++g) {
    __m256i c[MR][NB];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NB; ++j) c[i][j] = _mm256_setzero_si256();
    const int8_t* bp[NB];
    for (int j = 0; j < NB; ++j) bp[j] = b.block(nb0 + j) + g * gsp * 8;
    const int16_t* ap = a + m0 * kp + g * gsp;
    for (long p = 0; p < pairs; ++p) {
      __m256i bv[NB];
      for (int j = 0; j < NB; ++j)
        bv[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp[j] + p * 16)));
      for (int i = 0; i < MR; ++i) {
        int32_t word;
        std::memcpy(&word, ap + i * kp + p * 2, 4);
        const __m256i av = _mm256_set1_epi32(word);
        for (int j = 0; j < NB; ++j) c[i][j] = _mm256_add_epi32(c[i][j], _mm256_madd_epi16(av, bv[j]));
      }
    }
    for (int j = 0; j < NB; ++j) {
      const long n0 = (nb0 + j) * 8, valid = std::min<long>(8, n_rows - n0);
      for (int i = 0; i < MR; ++i) {
        alignas(32) int32_t out[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(out), c[i][j]);
        int32_t* dst = acc + ((m0 + i) * n_rows + n0) * groups + g;
        for (long l = 0; l < valid; ++l) dst[l * groups] = out[l];
      }
    }
  }
}

template <int MR>
inline void row_panel(const int16_t* a, long kp, const PackedBView& b, long m0, long nb_begin, long nb_end,
                      int32_t* acc) {
  long nb = nb_begin;
  for (; nb + 2 <= nb_end; nb += 2) micro<MR, 2>(a, kp, b, m0, nb, acc);
  if (nb < nb_end) micro<MR, 1>(a, kp, b, m0, nb, acc);
}

}  // namespace

void gemm_packed_avx2(const int16_t* a, long m_rows, const PackedBView& b, int32_t* acc) {
  const long kp = b.groups * b.gsp;
  const long nb_per_tile = kTileN / 8;
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
            for (; m + 4 <= m_end; m += 4) row_panel<4>(a, kp, b, m, nb_begin, nb_end, acc);
            switch (m_end - m) {
              case 3: row_panel<3>(a, kp, b, m, nb_begin, nb_end, acc); break;
              case 2: row_panel<2>(a, kp, b, m, nb_begin, nb_end, acc); break;
              case 1: row_panel<1>(a, kp, b, m, nb_begin, nb_end, acc); break;
              default: break;
            }
          }
        }
      });
}

}  // namespace sqsim::kernels::avx2
