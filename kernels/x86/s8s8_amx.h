#pragma once
// The entry points of the AMX int8 kernel on packed operands
// (kernels/x86/pack_tdpbssd.h), one per tile layer: real tile instructions
// (s8s8_amx.cpp, built with -mamx-tile -mamx-int8, call only when
// amx_state().granted) and the same driver on the tile emulator
// (s8s8_amx_emulated.cpp, plain C++, any CPU). Plain types only.
#include <cstdint>

#include "kernels/x86/epilogue.h"

namespace sqsim::kernels::amx {

// Activations as A tiles read them: s8 codes, row m of group g at
// data[m * stride + g * gsp], each group's k padded with zeros to gsp (a
// multiple of 64), rows readable up to row_blocks * 16 (padding rows are 0).
struct ActivationView {
  const int8_t* data = nullptr;
  long m = 0, stride = 0, gsp = 0, row_blocks = 0;
};

// Weights as B tiles: blocks of 16 output channels; for block nb, accumulator
// group g and 64-k step s, one 1 KiB tile at tile(nb, g, s): row r (k-quad),
// bytes 4j .. 4j + 3 = W[16 nb + j][g * gs + 64 s + 4r .. + 3] (VNNI-4
// interleave), 0 past the group's end or the last channel.
struct PackedBView {
  long n = 0, groups = 0, steps = 0, nblocks = 0;  // steps = gsp / 64
  const int8_t* data = nullptr;                    // [nblocks][groups][steps][16][64]
  // -128 * sum over the group's k of W[16 nb + j][k] at [(nb * groups + g) * 16 + j]
  // (0 for padded channels): the vpdpbusd rows kernel's starting accumulators.
  const int32_t* neg_comp = nullptr;
  const int8_t* tile(long nb, long g, long s) const { return data + ((nb * groups + g) * steps + s) * 1024; }
};

// How the driver walks the tiles of one task (s8s8_amx_impl.h; docs/kernels.md,
// "Blocking"): which operand stays in L1 while the other streams from L2, and
// how many 64-k steps a 2 x 2 block of C tiles accumulates before it is parked
// in memory and the next block takes the tiles. Integer sums do not depend on
// the order, so every choice returns the same bits; only the traffic differs.
struct Blocking {
  enum class Order {
    kColumnsOuter,  // per pair of channel blocks, the task's row pairs: B pair reused, A re-read
    kRowsOuter,     // per pair of row blocks, the task's channel pairs: A pair reused from L1, B streamed
  };
  // The defaults are the walk measured on an AMX Xeon (2026-12-06); the
  // others are bit-checked on the emulator and wait for their timing.
  Order order = Order::kColumnsOuter;
  // 0: each C block runs its group's whole k at once. Else (one accumulator
  // group, kRowsOuter only) passes of at most k_steps 64-k steps over all
  // channel pairs of the task, so the row pair's A slice (32 x 64 k_steps
  // bytes) stays in L1; C is parked between passes.
  long k_steps = 0;
  bool prefetch = false;  // prefetch the B tiles two steps ahead into L1
};

// y[m * n + c] (row-major [a.m, b.n]) with the fused epilogue (e.n_pad =
// nblocks * 16): the bits of epilogue_reference on the reference accumulators.
void gemm_packed_f32_amx(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y,
                         const Blocking& blocking = {});
void gemm_packed_f32_amx_emulated(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y,
                                  const Blocking& blocking = {});
// The same y with vpdpbusd on the tile packing instead of tiles, for few rows
// (s8s8_amx_rows_avx512vnni.cpp; needs AVX-512 VNNI, no AMX).
void gemm_packed_f32_rows_avx512vnni(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y);
// acc[(m * n + c) * groups + g], the reference's accumulators.
void gemm_packed_amx(const ActivationView& a, const PackedBView& b, int32_t* acc, const Blocking& blocking = {});
void gemm_packed_amx_emulated(const ActivationView& a, const PackedBView& b, int32_t* acc,
                              const Blocking& blocking = {});

}  // namespace sqsim::kernels::amx
