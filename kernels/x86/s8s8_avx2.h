#pragma once
// The AVX2 int8 GEMM kernels (defined in kernels/x86/s8s8_avx2.cpp) on
// operands packed by kernels/x86/pack_pmaddwd.h. Plain types only, so that
// file includes nothing else of the project. Call only when the CPU has avx2.
#include <cstdint>

#include "kernels/x86/epilogue.h"

namespace sqsim::kernels::avx2 {

struct PackedBView {
  long n = 0, groups = 0, gsp = 0, nblocks = 0;
  const int8_t* data = nullptr;  // [nblocks][groups][gsp/2][8][2]
  const int8_t* block(long nb) const { return data + nb * groups * gsp * 8; }
};

// acc[(m * n + c) * groups + g] for packed int16 activations a [m_rows][groups * gsp].
void gemm_packed_avx2(const int16_t* a, long m_rows, const PackedBView& b, int32_t* acc);
// The same with the float epilogue fused (tables with n_pad = nblocks * 8):
// y[m * n + c], the bits of epilogue_reference on those accumulators.
void gemm_packed_f32_avx2(const int16_t* a, long m_rows, const PackedBView& b, const EpilogueView& e, float* y);

}  // namespace sqsim::kernels::avx2
