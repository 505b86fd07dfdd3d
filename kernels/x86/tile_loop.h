#pragma once
// The task tiling of the int8 GEMM paths (kernels/x86/s8s8_vnni_impl.h for
// AVX-512 VNNI, kernels/x86/s8s8_avx2.cpp for AVX2). Included only by files
// compiled with instruction-set flags, so everything here has internal
// linkage: each includer gets its own copy built with its own flags.
#include <algorithm>
#include <type_traits>

#include <tbb/blocked_range.h>
#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace sqsim::kernels {
namespace {

// One panel of the `left` (< kRows) rows after the last full panel.
template <int kMax, class RowPanel>
inline void remainder_panel(long left, long m0, long nb_begin, long nb_end, const RowPanel& panel) {
  if constexpr (kMax >= 1) {
    if (left == kMax) panel(std::integral_constant<int, kMax>{}, m0, nb_begin, nb_end);
    else remainder_panel<kMax - 1>(left, m0, nb_begin, nb_end, panel);
  }
}

// Calls panel(std::integral_constant<int, MR>{}, m0, nb_begin, nb_end) for
// rows [m0, m0 + MR) and channel blocks [nb_begin, nb_end), over tasks of
// tile_m rows x blocks_per_tile blocks: MR = kRows while kRows rows remain,
// then one panel of the 1 .. kRows - 1 left. Each task owns a disjoint tile and
// every output is computed by one panel call, so the result does not depend on
// scheduling or on the thread count.
// bands: the caller's weights fit L2 (see below).
template <int kRows, class RowPanel>
void for_each_row_panel(long m_rows, long nblocks, long tile_m, long blocks_per_tile, const RowPanel& panel,
                        bool parallel = true, bool bands = false) {
  const long tiles_m = (m_rows + tile_m - 1) / tile_m, tiles_n = (nblocks + blocks_per_tile - 1) / blocks_per_tile;
  auto task = [&](long tm, long tn) {
    const long m_end = std::min(m_rows, (tm + 1) * tile_m);
    const long nb_begin = tn * blocks_per_tile, nb_end = std::min(nblocks, nb_begin + blocks_per_tile);
    long m = tm * tile_m;
    for (; m + kRows <= m_end; m += kRows) panel(std::integral_constant<int, kRows>{}, m, nb_begin, nb_end);
    remainder_panel<kRows - 1>(m_end - m, m, nb_begin, nb_end, panel);
  };
  // Serial: the caller is one task of a parallel loop of its own (attention's
  // query blocks); the same panels, so the same bits.
  if (!parallel) {
    for (long tm = 0; tm < tiles_m; ++tm)
      for (long tn = 0; tn < tiles_n; ++tn) task(tm, tn);
    return;
  }
  // Weights that fit L2 and enough row tiles for every thread: each task is
  // one band of rows across all channels, so the weights stay in L2 and the
  // band's activations in L1/L2. Two-dimensional tasks interleave bands and
  // channel tiles, which at M = 2048, K = 576, N = 1536 (activations and
  // weights 1.2 + 0.9 MB) missed L2: 212 against 300 G MAC/s on a Xeon
  // (results/forward, session 35). Weights larger than L2 stream from
  // memory once per band, so they keep the two-dimensional tasks.
  if (bands && tiles_m >= 4 * long(tbb::this_task_arena::max_concurrency())) {
    tbb::parallel_for(tbb::blocked_range<long>(0, tiles_m, 1), [&](const tbb::blocked_range<long>& r) {
      for (long tm = r.begin(); tm < r.end(); ++tm)
        for (long tn = 0; tn < tiles_n; ++tn) task(tm, tn);
    });
    return;
  }
  tbb::parallel_for(tbb::blocked_range2d<long>(0, tiles_m, 1, 0, tiles_n, 1),
                    [&](const tbb::blocked_range2d<long>& r) {
                      for (long tm = r.rows().begin(); tm < r.rows().end(); ++tm)
                        for (long tn = r.cols().begin(); tn < r.cols().end(); ++tn) task(tm, tn);
                    });
}

}  // namespace
}  // namespace sqsim::kernels
