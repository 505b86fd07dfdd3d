#pragma once
// Operand packing for the VNNI-style int8 kernels (plain C++, no intrinsics).
//
// Each accumulator group of `gs` columns is padded to gsp = round_up(gs, 4)
// bytes, so no 4-byte vpdpbusd lane ever straddles two groups.
//  * Activations: s8 codes, row m at a[m * G * gsp + g * gsp + i]: the matrix
//    itself when gs is a multiple of 4 (gsp = gs), else a copy with padding
//    bytes 0 (they meet zero weights, so any value works). The kernels make
//    the unsigned operand u8 = s8 + 128 (a byte XOR 0x80) in registers.
//  * Weights: blocks of 16 output channels; for block nb, group g and k-quad q,
//    64 bytes hold [16 channels][4 consecutive k] as u8 = b + 128 (the byte
//    b ^ 0x80: vpdpbusd's unsigned operand); padded channels/k are byte 0, so
//    they add nothing whatever the activation padding holds. Blocks come in
//    sets of 4 (kInterleave), interleaved quad by quad: for set s, group g,
//    quad q, the 4 blocks' 64-byte vectors are adjacent (PackedBView::block
//    gives the address).
//  * The +128 is undone per activation row: the kernels start each
//    accumulator at -128 * the sum of its row's codes over the group
//    (s8s8_vnni_impl.h, activation_comp).
#include <cstdint>
#include <vector>

#include "kernels/x86/aligned_vector.h"
#include "kernels/x86/s8s8_vnni.h"
#include "kernels/int_weights.h"

namespace sqsim::kernels::vnni {

struct PackedB {
  long n = 0, k = 0, gs = 0, groups = 0, gsp = 0, nblocks = 0;
  CacheLineVector<int8_t> data;  // [nblocks][groups][gsp/4][16][4], u8 = b + 128
  PackedBView view() const { return {n, groups, gsp, nblocks, data.data()}; }
};

PackedB pack_b(const Int8Matrix& b, long group_size);
// The activations as the kernels read them, [M][groups * gsp] s8 codes: a's own
// codes when no group needs padding, else a padded copy made in `storage`.
const int8_t* activation_codes(const Int8Matrix& a, long group_size, std::vector<int8_t>& storage);

}  // namespace sqsim::kernels::vnni
