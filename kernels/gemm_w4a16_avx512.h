#pragma once
// The inner loop of the AVX-512 W4A16 path (kernels/gemm_w4a16_avx512.cpp), on
// plain types: no Eigen, no intrinsics. Call only when the CPU has avx512f.
#include <cstdint>

namespace sqsim::kernels::w4a16 {

// One weight row n, already widened to floats w[k] = float(q[n,k] - zp[n,g]):
// y[m * y_stride] for m in [0, m_rows), in the documented 16-lane order
// (docs/quantization.md, "int4 weights"), with scale[g] the row's group scales
// and bias_n added when has_bias.
void row_avx512(const float* x, long m_rows, long x_stride, const float* w, long k, long group_size,
                const float* scale, bool has_bias, float bias_n, float* y, long y_stride);

}  // namespace sqsim::kernels::w4a16
