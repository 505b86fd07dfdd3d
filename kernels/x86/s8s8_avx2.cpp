// Exact int8 GEMM with AVX2. Compiled with -mavx2 (cmake/isa_flags.cmake); only
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


#include "kernels/x86/s8s8_avx2.h"
#include "kernels/x86/tile_loop.h"

namespace sqsim::kernels::avx2 {
namespace {

constexpr long kTileM = 32;  // rows of A per task
constexpr long kTileN = 64;  // output channels per task (8 blocks of 8)

// The int32 accumulators of MR rows of A times NB blocks of 8 channels for
// accumulator group g: c[i][j] lane l = acc_g(m0 + i, 8 * (nb0 + j) + l).
template <int MR, int NB>
inline void dot_group(const int16_t* a, long kp, const PackedBView& b, long m0, long nb0, long g, __m256i (&c)[MR][NB]) {
  const long gsp = b.gsp, pairs = gsp / 2;
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
}

// MR rows x NB blocks, all groups, int32 accumulators written to acc.
template <int MR, int NB>
inline void micro(const int16_t* a, long kp, const PackedBView& b, long m0, long nb0, int32_t* acc) {
  const long groups = b.groups, n_rows = b.n;
  for (long g = 0; g < groups; ++g) {
    __m256i c[MR][NB];
    dot_group<MR, NB>(a, kp, b, m0, nb0, g, c);
    for (int j = 0; j < NB; ++j) {
      const long n0 = (nb0 + j) * 8, valid = std::min<long>(8, n_rows - n0);
      for (int i = 0; i < MR; ++i) {
        int32_t* dst = acc + ((m0 + i) * n_rows + n0) * groups + g;
        if (groups == 1 && valid == 8) {  // adjacent channels: one store (see s8s8_vnni_impl.h)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), c[i][j]);
          continue;
        }
        alignas(32) int32_t out[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(out), c[i][j]);
        for (long l = 0; l < valid; ++l) dst[l * groups] = out[l];
      }
    }
  }
}

// MR rows x NB blocks with the epilogue fused, 8 channels per register, in the
// reference's order: vcvtdq2ps, vmulps by the activation scale, vmulps by the
// weight scales, vaddps onto the running sum (group 0 assigned), bias last.
// Separate multiplies and adds (the file is built with -mfma, but the build's
// -ffp-contract=off keeps the compiler from fusing them).
template <int MR, int NB>
inline void micro_f32(const int16_t* a, long kp, const PackedBView& b, const EpilogueView& e, long m0, long nb0,
                      float* y) {
  const long groups = b.groups, n_rows = b.n;
  // Group 0 is assigned to the sum, later groups are added (the reference's order).
  __m256 sum[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) sum[i][j] = _mm256_setzero_ps();  // overwritten by group 0 (groups >= 1)
  for (long g = 0; g < groups; ++g) {
    __m256i c[MR][NB];
    dot_group<MR, NB>(a, kp, b, m0, nb0, g, c);
    __m256 sb[NB];
    for (int j = 0; j < NB; ++j) sb[j] = _mm256_loadu_ps(e.b_scale + g * e.n_pad + (nb0 + j) * 8);
    for (int i = 0; i < MR; ++i) {
      const __m256 sa = _mm256_set1_ps(e.a_scale[(m0 + i) * groups + g]);
      for (int j = 0; j < NB; ++j) {
        const __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(c[i][j]), sa), sb[j]);
        sum[i][j] = g == 0 ? t : _mm256_add_ps(sum[i][j], t);
      }
    }
  }
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 8, valid = std::min<long>(8, n_rows - n0);
    alignas(32) float bias[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (e.bias) std::memcpy(bias, e.bias + n0, sizeof(float) * valid);
    const __m256 bv = _mm256_load_ps(bias);
    for (int i = 0; i < MR; ++i) {
      const __m256 v = e.bias ? _mm256_add_ps(sum[i][j], bv) : sum[i][j];
      float* dst = y + (m0 + i) * n_rows + n0;
      if (valid == 8) {
        _mm256_storeu_ps(dst, v);
      } else {
        alignas(32) float out[8];
        _mm256_store_ps(out, v);
        std::memcpy(dst, out, sizeof(float) * valid);
      }
    }
  }
}

// Rows [m0, m0 + MR) x channel blocks [nb_begin, nb_end) of one task
// (kernels/x86/tile_loop.h), two blocks per micro-kernel call; every output is
// computed by one call over all groups.
template <int MR, class Tile>
inline void row_panel(const Tile& tile, long m0, long nb_begin, long nb_end) {
  long nb = nb_begin;
  for (; nb + 2 <= nb_end; nb += 2) tile.template run<MR, 2>(m0, nb);
  if (nb < nb_end) tile.template run<MR, 1>(m0, nb);
}

template <class Tile>
void for_each_tile(long m_rows, long nblocks, const Tile& tile) {
  for_each_row_panel<4>(m_rows, nblocks, kTileM, kTileN / 8, [&](auto mr, long m0, long nb_begin, long nb_end) {
    row_panel<decltype(mr)::value>(tile, m0, nb_begin, nb_end);
  });
}

struct AccTile {
  const int16_t* a;
  long kp;
  const PackedBView& b;
  int32_t* acc;
  template <int MR, int NB>
  void run(long m0, long nb0) const { micro<MR, NB>(a, kp, b, m0, nb0, acc); }
};

struct F32Tile {
  const int16_t* a;
  long kp;
  const PackedBView& b;
  const EpilogueView& e;
  float* y;
  template <int MR, int NB>
  void run(long m0, long nb0) const { micro_f32<MR, NB>(a, kp, b, e, m0, nb0, y); }
};

}  // namespace

void gemm_packed_avx2(const int16_t* a, long m_rows, const PackedBView& b, int32_t* acc) {
  for_each_tile(m_rows, b.nblocks, AccTile{a, b.groups * b.gsp, b, acc});
}

void gemm_packed_f32_avx2(const int16_t* a, long m_rows, const PackedBView& b, const EpilogueView& e, float* y) {
  for_each_tile(m_rows, b.nblocks, F32Tile{a, b.groups * b.gsp, b, e, y});
}

}  // namespace sqsim::kernels::avx2
