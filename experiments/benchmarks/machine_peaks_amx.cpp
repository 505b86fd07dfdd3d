// The peak tdpbssd rate of one core, beside the vpdpbusd peak of
// machine_peaks_avx512vnni.cpp. Compiled with -mamx-tile -mamx-int8
// (experiments/benchmarks/CMakeLists.txt); gemm_bench calls it only when
// kernels::amx_state().granted.
#include <immintrin.h>

#include "kernels/x86/amx_tile_config.h"
#include "machine_peaks.h"

namespace bench {

// Register tiles only, no memory in the loop: four independent accumulators
// (tiles 0-3, 16 x 16 int32 each) fed by two A tiles (4, 5) and two B tiles
// (6, 7), all 16 rows x 64 bytes, so each tdpbssd is 16 x 16 x 64 MACs and the
// four chains hide the instruction's latency. Tile data is whatever
// ldtilecfg left (zeros): the instruction's cost does not depend on the values.
int32_t tdpbssd_loop(long iterations) {
  const sqsim::kernels::amx::TileConfig config = sqsim::kernels::amx::full_tiles_config();
  _tile_loadconfig(config.bytes);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  for (long i = 0; i < iterations; ++i) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
  alignas(64) int32_t c[16][16];
  _tile_stored(0, c, 64);
  _tile_release();
  return c[0][0];
}

}  // namespace bench
