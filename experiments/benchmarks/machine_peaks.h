#pragma once
// Ceilings the GEMM benchmarks are compared with (machine_peaks_avx512vnni.cpp,
// machine_peaks_amx.cpp). Call the vpdpbusd and stream functions only on CPUs
// with avx512f, avx512bw and avx512vnni, tdpbssd_loop only when
// sqsim::kernels::amx_state().granted.
#include <cstddef>
#include <cstdint>

namespace bench {

// Accumulator chains per loop iteration of the vpdpbusd loops.
constexpr int kVpdpbusdChains = 24;
// `iterations` x 24 independent 512-bit vpdpbusd (64 u8 x s8 MACs each) on one
// thread; returns a checksum.
int32_t vpdpbusd_loop(long iterations);
// The same with 256-bit (ymm) vpdpbusd: 32 MACs each.
int32_t vpdpbusd_ymm_loop(long iterations);
// Tiles per loop iteration of tdpbssd_loop, and MACs per tdpbssd (16 x 16 x 64).
constexpr int kTdpbssdChains = 4;
constexpr long kTdpbssdMacs = 16 * 16 * 64;
// `iterations` x 4 independent tdpbssd on register tiles on one thread; returns a checksum.
int32_t tdpbssd_loop(long iterations);
// Sums `bytes` (a multiple of 256, 64-byte aligned) with 512-bit loads; returns a checksum.
uint64_t stream_read(const uint8_t* p, size_t bytes);

}  // namespace bench
