#pragma once
// The instruction-set specific entry points of the AVX2 path (defined in
// kernels/gemm_int8_avx2.cpp and kernels/gemm_w4a16_avx2.cpp). Plain types
// only, so those files include nothing else of the project. Call only when
// the CPU has avx2.
#include <cstdint>

#include "kernels/gemm_epilogue_view.h"
#include "kernels/int4_view.h"

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

// y[m * w.n + c] for c in [n0, n1), m < m_rows: X [m_rows, k] times the int4
// rows dequantized inside the kernel (group_size a multiple of 16), in the documented 16-lane order
// (docs/quantization.md), plus bias[c] when bias is not null.
void f32s4_rows_avx2(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y);

// The panel kernel for many rows: y[m * w.n + c] for m in [m0, m1), c in
// [n0, n1), any group size; panels of 8 channels decoded once to floats, the 16
// reference lanes held across channels (kernels/gemm_w4a16_avx2.cpp). Same bits
// as f32s4_rows_avx2 and the reference.
void f32s4_panel_avx2(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                      float* y);

}  // namespace sqsim::kernels::avx2
