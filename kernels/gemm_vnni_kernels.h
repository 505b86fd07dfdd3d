#pragma once
// The instruction-set specific entry points of the VNNI-style int8 kernel, on
// packed operands (kernels/gemm_vnni_pack.h). Plain types only: no Eigen, no
// intrinsics, so the AVX-512 files that define these include nothing else of
// the project.
#include <cstdint>

#include "kernels/gemm_epilogue_view.h"

namespace sqsim::kernels::vnni {

struct PackedBView {
  long n = 0, groups = 0, gsp = 0, nblocks = 0;
  const int8_t* data = nullptr;   // [nblocks][groups][gsp/4][16][4]
  const int32_t* comp = nullptr;  // [nblocks][groups][16]
  const int8_t* block(long nb) const { return data + nb * groups * gsp * 16; }
  const int32_t* comp_block(long nb) const { return comp + nb * groups * 16; }
};

// acc[(m * n + c) * groups + g] for packed activations a [m_rows][groups * gsp].
void gemm_packed_avx512vnni(const uint8_t* a, long m_rows, const PackedBView& b, int32_t* acc);   // vpdpbusd
void gemm_packed_avx512_emulated(const uint8_t* a, long m_rows, const PackedBView& b, int32_t* acc);  // AVX-512BW

// The same kernels with the float epilogue fused: y[m * n + c] (row-major
// [m_rows, n]); the tables' n_pad is nblocks * 16. Same bits as
// epilogue_reference on the accumulators above.
void gemm_packed_f32_avx512vnni(const uint8_t* a, long m_rows, const PackedBView& b, const EpilogueView& e,
                                float* y);
void gemm_packed_f32_avx512_emulated(const uint8_t* a, long m_rows, const PackedBView& b, const EpilogueView& e,
                                     float* y);

}  // namespace sqsim::kernels::vnni
