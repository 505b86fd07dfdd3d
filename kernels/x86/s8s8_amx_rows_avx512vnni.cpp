// Few activation rows (M < kAmxMinRows, kernels/kernel_path.h) on the AMX
// path's packed weights, with vpdpbusd instead of tiles: a tile multiplies 16
// rows whatever M is, so at M = 1 it does 1/16 useful work and was measured
// slower than the VNNI path (results/kernels/amx-xeon). Reading the tile
// packing keeps one copy of the weights per layer.
//
// The tile layout is a vpdpbusd layout already: the 64 bytes of B tile row r
// are 16 channels x 4 consecutive k, and a block's tiles of one group follow
// each other, so k-quad q of block nb, group g is the 64 bytes at
// tile(nb, g, 0) + 64 q. vpdpbusd takes unsigned activations: u = a + 128
// (a byte XOR 0x80), and the accumulators start at neg_comp = -128 * sum_k B
// (pack_tdpbssd.cpp), so they end at exactly sum_k a * b modulo 2^32, which
// is the true sum (validate_s8s8 bounds it). The epilogue is the reference's
// operations per lane, as in s8s8_vnni_impl.h: vcvtdq2ps, vmulps by the row's
// scale, vmulps by the channel scales, vaddps onto the running sum (group 0
// assigned), + bias last. No FMA.
//
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the
// unmasked vcvtdq2ps (see s8s8_vnni_impl.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/s8s8_amx.h"

namespace sqsim::kernels::amx {
namespace {

constexpr int kRows = 4;            // activation rows per register block
constexpr int kBlocks = 4;          // channel blocks of 16 per register block
constexpr long kTaskBlocks = 16;    // channel blocks per TBB task (256 channels)

inline __mmask16 lanes_mask(long n_rows, long n0) {
  const long valid = std::min<long>(16, n_rows - n0);
  return valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
}

// Rows [m0, m0 + MR) x blocks [nb0, nb0 + NB), all groups, fused epilogue.
// MR x NB accumulators (at most 16) + NB weight vectors + one broadcast.
template <int MR, int NB>
void block(const ActivationView& a, const PackedBView& b, const EpilogueView& e, long m0, long nb0, float* y) {
  const long groups = b.groups, quads = b.steps * 16, n_rows = b.n;
  const __m512i to_u8 = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
  __m512 sum[MR][NB];
  for (long g = 0; g < groups; ++g) {
    __m512i c[MR][NB];
    const int8_t* bp[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      const __m512i start = _mm512_loadu_si512(b.neg_comp + ((nb0 + j) * groups + g) * 16);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) c[i][j] = start;
      bp[j] = b.tile(nb0 + j, g, 0);
    }
    const int8_t* ap = a.data + m0 * a.stride + g * a.gsp;
    // a.gsp may be the group size itself (activations in place) while the
    // packing pads each group to steps * 64 with zero weights: only the
    // activation's own quads are read, the rest would add 0.
    const long aquads = std::min(quads, a.gsp / 4);
    for (long q = 0; q < aquads; ++q) {
      __m512i bv[NB];
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) bv[j] = _mm512_loadu_si512(bp[j] + q * 64);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        int32_t word;
        std::memcpy(&word, ap + i * a.stride + q * 4, 4);
        const __m512i av = _mm512_xor_si512(_mm512_set1_epi32(word), to_u8);
#pragma GCC unroll 4
        for (int j = 0; j < NB; ++j) c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, bv[j]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512 sa = _mm512_set1_ps(e.a_scale[(m0 + i) * groups + g]);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) {
        const __m512 sb = _mm512_loadu_ps(e.b_scale + g * e.n_pad + (nb0 + j) * 16);
        const __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[i][j]), sa), sb);
        sum[i][j] = g == 0 ? t : _mm512_add_ps(sum[i][j], t);
      }
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    const long n0 = (nb0 + j) * 16;
    const __mmask16 mask = lanes_mask(n_rows, n0);
    const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(mask, e.bias + n0) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512 v = e.bias ? _mm512_add_ps(sum[i][j], bias) : sum[i][j];
      _mm512_mask_storeu_ps(y + (m0 + i) * n_rows + n0, mask, v);
    }
  }
}

template <int NB>
void rows_of(const ActivationView& a, const PackedBView& b, const EpilogueView& e, long nb0, float* y) {
  long m = 0;
  for (; m + kRows <= a.m; m += kRows) block<kRows, NB>(a, b, e, m, nb0, y);
  switch (a.m - m) {
    case 3: block<3, NB>(a, b, e, m, nb0, y); break;
    case 2: block<2, NB>(a, b, e, m, nb0, y); break;
    case 1: block<1, NB>(a, b, e, m, nb0, y); break;
    default: break;
  }
}

}  // namespace

void gemm_packed_f32_rows_avx512vnni(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y) {
  if (a.m == 0 || b.n == 0) return;
  // Tasks own disjoint channel blocks; each output is one block() call.
  const long tasks = (b.nblocks + kTaskBlocks - 1) / kTaskBlocks;
  tbb::parallel_for(tbb::blocked_range<long>(0, tasks), [&](const tbb::blocked_range<long>& r) {
    for (long t = r.begin(); t < r.end(); ++t) {
      const long end = std::min(b.nblocks, (t + 1) * kTaskBlocks);
      long nb = t * kTaskBlocks;
      for (; nb + kBlocks <= end; nb += kBlocks) rows_of<kBlocks>(a, b, e, nb, y);
      for (; nb < end; ++nb) rows_of<1>(a, b, e, nb, y);
    }
  });
}

}  // namespace sqsim::kernels::amx
