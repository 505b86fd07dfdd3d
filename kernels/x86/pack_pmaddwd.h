#pragma once
// Operand packing for the exact AVX2 int8 kernel (kernels/x86/s8s8_avx2.cpp),
// plain C++. No +128 offset here: both operands are sign-extended to int16 and
// multiplied with vpmaddwd, whose pairwise int32 sums cannot saturate for
// int8-range inputs (|a*b + c*d| <= 2 * 128 * 128).
//  * Groups are padded to gsp = round_up(gs, 2) columns; padding is 0.
//  * Activations: int16, row m at a[m * G * gsp + g * gsp + i].
//  * Weights: blocks of 8 output channels; for block nb, group g and k-pair p,
//    16 bytes hold [8 channels][2 consecutive k] as int8.
#include <cstdint>
#include <vector>

#include "kernels/x86/s8s8_avx2.h"
#include "kernels/int_weights.h"

namespace sqsim::kernels::avx2 {

struct PackedB {
  long n = 0, k = 0, gs = 0, groups = 0, gsp = 0, nblocks = 0;
  std::vector<int8_t> data;  // [nblocks][groups][gsp/2][8][2]
  PackedBView view() const { return {n, groups, gsp, nblocks, data.data()}; }
};

PackedB pack_b(const Int8Matrix& b, long group_size);
std::vector<int16_t> pack_a(const Int8Matrix& a, long group_size);  // [M][groups * gsp]

}  // namespace sqsim::kernels::avx2
