#pragma once
// The instruction-set specific entry points of the VNNI-style int8 kernel, on
// packed operands (kernels/x86/pack_vnni.h). Plain types only: no Eigen, no
// intrinsics, so the AVX-512 files that define these include nothing else of
// the project.
#include <cstdint>

#include "kernels/x86/epilogue.h"

namespace sqsim::kernels::vnni {

// Weights are packed in blocks of 16 output channels, and the blocks in sets of
// kInterleave: for each k-quad, the 64-byte vectors of the set's blocks are
// adjacent, so a kernel reading all the set's blocks at once reads one
// sequential stream (kernels/x86/pack_vnni.h).
constexpr long kInterleave = 4;
constexpr long kQuadStride = 64 * kInterleave;  // bytes from one k-quad of a block to its next

struct PackedBView {
  long n = 0, groups = 0, gsp = 0, nblocks = 0;
  const int8_t* data = nullptr;   // [ceil(nblocks / 4)][groups][gsp/4][4 blocks][16][4], u8 = b + 128
  // Quad 0 of block nb (>= 0), group g; quad q at + q * kQuadStride.
  const int8_t* block(long nb, long g) const {
    const unsigned long set = static_cast<unsigned long>(nb) / kInterleave, in_set = static_cast<unsigned long>(nb) % kInterleave;
    return data + (static_cast<long>(set) * groups + g) * (gsp / 4) * kQuadStride + static_cast<long>(in_set) * 64;
  }
};

// acc[(m * n + c) * groups + g] for activations a: s8 codes [m_rows][groups * gsp]
// (kernels/x86/pack_vnni.h: the matrix itself when gs is a multiple of 4).
// a_comp: scratch of m_rows * groups int32 (the accumulators' start values,
// -128 * each row's sum per group, computed here).
void gemm_packed_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                            int32_t* acc);  // vpdpbusd
void gemm_packed_avx512_emulated(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                 int32_t* acc);  // AVX-512BW

// The same kernels with the float epilogue fused: y[m * n + c] (row-major
// [m_rows, n]); the tables' n_pad is nblocks * 16. Same bits as
// epilogue_reference on the accumulators above.
void gemm_packed_f32_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                const EpilogueView& e, float* y);
void gemm_packed_f32_avx512_emulated(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                     const EpilogueView& e, float* y);
// gemm_packed_f32_avx512vnni on the calling thread only (no TBB tasks): for
// callers that are one task of their own parallel loop. Same bits.
void gemm_packed_f32_serial_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                       const EpilogueView& e, float* y);

}  // namespace sqsim::kernels::vnni
