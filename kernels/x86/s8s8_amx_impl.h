#pragma once
// The AMX int8 driver, written once and instantiated for two tile layers
// (kernels/x86/s8s8_amx.h): the real instructions (s8s8_amx.cpp) and the
// emulator (s8s8_amx_emulated.cpp). A tile layer `Ops` provides
//   begin(const TileConfig&) / end()       ldtilecfg / tilerelease
//   zero<T>(), load<T>(p, stride), store<T>(p, stride), dp<C, A, B>()
// with tile numbers as template arguments (the instructions encode them).
// Include only from those two files: everything here has internal linkage.
//
// Tiles: C[i][j] = tile 2i + j (i, j < 2: up to 32 rows x 32 channels of int32
// accumulators), A tiles 4 and 5 (16 rows x 64 k each), B tiles 6 and 7 (64 k x
// 16 channels each). tdpbssd multiplies signed by signed bytes, so the int8
// codes go in unchanged (no +128 shift as with vpdpbusd). Integer addition
// modulo 2^32 is exact and associative and the true sums fit int32
// (validate_s8s8), so the accumulators equal the reference's whatever the tile
// order; the epilogue then runs the reference's float operations per output.
#include <algorithm>
#include <cstdint>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/s8s8_amx.h"

namespace sqsim::kernels::amx {
namespace {

// Blocks of 16 rows / 16 channels per task: 64 x 64 outputs, so small M still
// gives several tasks, and each task's B tiles are reused by its row pairs.
constexpr long kTaskRowBlocks = 4, kTaskColBlocks = 4;

// One accumulator group of rows [16 mb, 16 (mb + MR)) x channels
// [16 nb, 16 (nb + NR)): zero the C tiles, then per 64-k step load MR A tiles
// and NR B tiles and issue MR x NR tdpbssd.
template <class Ops, int MR, int NR>
inline void dot_group(const ActivationView& a, const PackedBView& b, long mb, long nb, long g) {
  Ops::template zero<0>();
  if constexpr (NR == 2) Ops::template zero<1>();
  if constexpr (MR == 2) Ops::template zero<2>();
  if constexpr (MR == 2 && NR == 2) Ops::template zero<3>();
  const int8_t* a0 = a.data + mb * 16 * a.stride + g * a.gsp;
  const int8_t* a1 = a0 + 16 * a.stride;
  for (long s = 0; s < b.steps; ++s) {
    Ops::template load<4>(a0 + s * kTileK, a.stride);
    if constexpr (MR == 2) Ops::template load<5>(a1 + s * kTileK, a.stride);
    Ops::template load<6>(b.tile(nb, g, s), kTileColsb);
    if constexpr (NR == 2) Ops::template load<7>(b.tile(nb + 1, g, s), kTileColsb);
    Ops::template dp<0, 4, 6>();
    if constexpr (NR == 2) Ops::template dp<1, 4, 7>();
    if constexpr (MR == 2) Ops::template dp<2, 5, 6>();
    if constexpr (MR == 2 && NR == 2) Ops::template dp<3, 5, 7>();
  }
}

// The C tiles to acc[32][32] (row-major, 128-byte rows).
template <class Ops, int MR, int NR>
inline void store_group(int32_t (&acc)[32][32]) {
  constexpr long kStride = 32 * 4;
  Ops::template store<0>(&acc[0][0], kStride);
  if constexpr (NR == 2) Ops::template store<1>(&acc[0][16], kStride);
  if constexpr (MR == 2) Ops::template store<2>(&acc[16][0], kStride);
  if constexpr (MR == 2 && NR == 2) Ops::template store<3>(&acc[16][16], kStride);
}

// MR x NR tiles over all groups. With acc_out: the int32 accumulators,
// acc_out[(m * n + c) * groups + g]. Else the fused epilogue, exactly
// epilogue_reference's operations per output (kernels/x86/epilogue.h):
// t_g = (float(acc_g) * a_scale) * b_scale, the sum assigned from group 0 and
// added left to right, then + bias. Plain C++ with -ffp-contract=off (the
// build's flags): separate, correctly rounded multiplies and adds.
template <class Ops, int MR, int NR>
inline void micro(const ActivationView& a, const PackedBView& b, const EpilogueView* e, long mb, long nb, float* y,
                  int32_t* acc_out) {
  const long groups = b.groups, n_rows = b.n;
  const long m0 = mb * 16, n0 = nb * 16;
  const long rows = std::min<long>(MR * 16, a.m - m0), cols = std::min<long>(NR * 16, n_rows - n0);
  alignas(64) int32_t acc[32][32];
  alignas(64) float sum[32][32];
  for (long g = 0; g < groups; ++g) {
    dot_group<Ops, MR, NR>(a, b, mb, nb, g);
    store_group<Ops, MR, NR>(acc);
    if (acc_out) {
      for (long r = 0; r < rows; ++r)
        for (long c = 0; c < cols; ++c) acc_out[((m0 + r) * n_rows + n0 + c) * groups + g] = acc[r][c];
      continue;
    }
    const float* sb = e->b_scale + g * e->n_pad + n0;
    for (long r = 0; r < rows; ++r) {
      const float sa = e->a_scale[(m0 + r) * groups + g];
      for (long c = 0; c < cols; ++c) {
        const float t = (static_cast<float>(acc[r][c]) * sa) * sb[c];
        sum[r][c] = g == 0 ? t : sum[r][c] + t;
      }
    }
  }
  if (acc_out) return;
  for (long r = 0; r < rows; ++r) {
    float* out = y + (m0 + r) * n_rows + n0;
    if (e->bias) {
      for (long c = 0; c < cols; ++c) out[c] = sum[r][c] + e->bias[n0 + c];
    } else {
      for (long c = 0; c < cols; ++c) out[c] = sum[r][c];
    }
  }
}

// Every output tile, in tasks of kTaskRowBlocks x kTaskColBlocks blocks. Each
// task loads the tile configuration on its thread (the tile state is per
// thread) and releases it at the end; tasks own disjoint outputs and each
// output is computed by one micro() call, so the result does not depend on the
// thread count.
template <class Ops>
void run(const ActivationView& a, const PackedBView& b, const EpilogueView* e, float* y, int32_t* acc_out) {
  if (a.m == 0 || b.n == 0) return;
  const TileConfig config = full_tiles_config();
  const long mtasks = (a.row_blocks + kTaskRowBlocks - 1) / kTaskRowBlocks;
  const long ntasks = (b.nblocks + kTaskColBlocks - 1) / kTaskColBlocks;
  tbb::parallel_for(tbb::blocked_range2d<long>(0, mtasks, 1, 0, ntasks, 1), [&](const tbb::blocked_range2d<long>& r) {
    Ops::begin(config);
    for (long tm = r.rows().begin(); tm < r.rows().end(); ++tm) {
      for (long tn = r.cols().begin(); tn < r.cols().end(); ++tn) {
        const long mb_end = std::min(a.row_blocks, (tm + 1) * kTaskRowBlocks);
        const long nb_end = std::min(b.nblocks, (tn + 1) * kTaskColBlocks);
        for (long nb = tn * kTaskColBlocks; nb < nb_end; nb += 2) {
          const bool two_cols = nb + 1 < nb_end;
          for (long mb = tm * kTaskRowBlocks; mb < mb_end; mb += 2) {
            const bool two_rows = mb + 1 < mb_end;
            if (two_rows && two_cols) micro<Ops, 2, 2>(a, b, e, mb, nb, y, acc_out);
            else if (two_rows) micro<Ops, 2, 1>(a, b, e, mb, nb, y, acc_out);
            else if (two_cols) micro<Ops, 1, 2>(a, b, e, mb, nb, y, acc_out);
            else micro<Ops, 1, 1>(a, b, e, mb, nb, y, acc_out);
          }
        }
      }
    }
    Ops::end();
  });
}

template <class Ops>
void gemm_packed_f32(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y) {
  run<Ops>(a, b, &e, y, nullptr);
}

template <class Ops>
void gemm_packed(const ActivationView& a, const PackedBView& b, int32_t* acc) {
  run<Ops>(a, b, nullptr, nullptr, acc);
}

}  // namespace
}  // namespace sqsim::kernels::amx
