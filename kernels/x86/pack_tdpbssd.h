#pragma once
// Operand packing for the AMX int8 kernel (plain C++, no intrinsics); the
// layouts are described in kernels/x86/s8s8_amx.h. Each accumulator group of
// `gs` columns is padded with zeros to gsp = round_up(gs, 64), one A tile row
// per 64-k step, so no tile step straddles two groups; zero bytes meet zero
// bytes and add nothing to the int32 sums.
#include <cstdint>
#include <vector>

#include "kernels/int_weights.h"
#include "kernels/x86/aligned_vector.h"
#include "kernels/x86/s8s8_amx.h"

namespace sqsim::kernels::amx {

struct PackedB {
  long n = 0, k = 0, gs = 0, groups = 0, gsp = 0, nblocks = 0;
  CacheLineVector<int8_t> data;   // [nblocks][groups][gsp / 64][16][64]
  std::vector<int32_t> neg_comp;  // [nblocks][groups][16], PackedBView::neg_comp
  PackedBView view() const { return {n, groups, gsp / kStepK, nblocks, data.data(), neg_comp.data()}; }
  static constexpr long kStepK = 64;
};

PackedB pack_b(const Int8Matrix& b, long group_size);

// The activations as A tiles read them: a's own codes (stride K) when every
// group is a whole number of 64-k steps and M a multiple of 16, else a
// zero-padded copy in `storage` ([round_up(M, 16)][groups * gsp]).
ActivationView activation_tiles(const Int8Matrix& a, long group_size, CacheLineVector<int8_t>& storage);

}  // namespace sqsim::kernels::amx
