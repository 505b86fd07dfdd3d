#pragma once
// The task tiling of the int8 GEMM paths (kernels/gemm_vnni_impl.h for
// AVX-512 VNNI, kernels/gemm_int8_avx2.cpp for AVX2). Included only by files
// compiled with instruction-set flags, so everything here has internal
// linkage: each includer gets its own copy built with its own flags.
#include <algorithm>
#include <type_traits>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

namespace sqsim::kernels {
namespace {

// Calls panel(std::integral_constant<int, MR>{}, m0, nb_begin, nb_end) for
// rows [m0, m0 + MR) and channel blocks [nb_begin, nb_end), over tasks of
// tile_m rows x blocks_per_tile blocks: MR = 4 while 4 rows remain, then the
// 3, 2 or 1 left. Each task owns a disjoint tile and every output is computed
// by one panel call, so the result does not depend on scheduling or on the
// thread count.
template <class RowPanel>
void for_each_row_panel(long m_rows, long nblocks, long tile_m, long blocks_per_tile, const RowPanel& panel) {
  tbb::parallel_for(
      tbb::blocked_range2d<long>(0, (m_rows + tile_m - 1) / tile_m, 1, 0,
                                 (nblocks + blocks_per_tile - 1) / blocks_per_tile, 1),
      [&](const tbb::blocked_range2d<long>& r) {
        for (long tm = r.rows().begin(); tm < r.rows().end(); ++tm) {
          for (long tn = r.cols().begin(); tn < r.cols().end(); ++tn) {
            const long m_end = std::min(m_rows, (tm + 1) * tile_m);
            const long nb_begin = tn * blocks_per_tile, nb_end = std::min(nblocks, nb_begin + blocks_per_tile);
            long m = tm * tile_m;
            for (; m + 4 <= m_end; m += 4) panel(std::integral_constant<int, 4>{}, m, nb_begin, nb_end);
            switch (m_end - m) {
              case 3: panel(std::integral_constant<int, 3>{}, m, nb_begin, nb_end); break;
              case 2: panel(std::integral_constant<int, 2>{}, m, nb_begin, nb_end); break;
              case 1: panel(std::integral_constant<int, 1>{}, m, nb_begin, nb_end); break;
              default: break;
            }
          }
        }
      });
}

}  // namespace
}  // namespace sqsim::kernels
