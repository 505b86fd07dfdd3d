#pragma once
// The AVX2 W4A16 kernel (kernels/x86/f32s4_avx2.cpp): float activations times
// weights already dequantized into panels of 16 channels (dequantize_panels in
// kernels/x86/int4_view.h). Plain types only. Call only when the CPU has avx2 and fma.

namespace sqsim::kernels::avx2 {

constexpr long kW4A16PanelCols = 16;

// y[m * ldy + c] for m in [m0, m1), c in panel p's channels below n: one FMA
// chain over k = 0..K-1 in order from 0 (vfmadd231ps, 8 channels per
// register), then + bias[c] when bias is not null: the reference's operations.
void f32s4_panel_fma_avx2(const float* x, long ldx, long m0, long m1, const float* panel, long k, long p, long n,
                          const float* bias, float* y, long ldy);

}  // namespace sqsim::kernels::avx2
