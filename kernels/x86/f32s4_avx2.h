#pragma once
// The AVX2 W4A16 kernels (defined in kernels/x86/f32s4_avx2.cpp): float
// activations times int4 weights dequantized inside the kernel. Plain types
// only, so that file includes nothing else of the project. Call only when the
// CPU has avx2 and fma.
#include "kernels/x86/int4_view.h"

namespace sqsim::kernels::avx2 {

// y[m * w.n + c] for c in [n0, n1), m < m_rows: X [m_rows, k] times the int4
// rows dequantized inside the kernel (group_size a multiple of 16), in the documented 16-lane order
// (docs/quantization.md), plus bias[c] when bias is not null.
void f32s4_rows_avx2(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y);

// The panel kernel for many rows: y[m * w.n + c] for m in [m0, m1), c in
// [n0, n1), any group size; panels of 8 channels decoded once to floats, the 16
// reference lanes held across channels (kernels/x86/f32s4_avx2.cpp). Same bits
// as f32s4_rows_avx2 and the reference.
void f32s4_panel_avx2(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                      float* y);

}  // namespace sqsim::kernels::avx2
