#pragma once
// The inner loop of the AVX-512 W4A16 path (kernels/x86/f32s4_avx512.cpp), on
// plain types: no Eigen, no intrinsics. Call only when the CPU has avx512f.
#include <cstdint>

#include "kernels/x86/int4_gemv_pack.h"
#include "kernels/x86/int4_view.h"

namespace sqsim::kernels::w4a16 {

// One weight row n, already widened to floats w[k] = float(q[n,k] - zp[n,g]):
// y[m * y_stride] for m in [0, m_rows), in the documented 16-lane order
// (docs/quantization.md, "int4 weights"), with scale[g] the row's group scales
// and bias_n added when has_bias.
void row_avx512(const float* x, long m_rows, long x_stride, const float* w, long k, long group_size,
                const float* scale, bool has_bias, float bias_n, float* y, long y_stride);

// y[m * w.n + c] for c in [n0, n1): the int4 codes dequantized inside the
// kernel (w.group_size a multiple of 16), a GEMV per activation row over blocks
// of 16 channels (the decode path, M < 5); same order and bits as row_avx512 /
// the reference.
void f32s4_rows_avx512(const float* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1, float* y);

// The same GEMV on the block-interleaved layout of kernels/x86/int4_gemv_pack.h
// (one sequential weight stream per block; zero points and scales already
// transposed): y[m * g.n + c] for the channels of blocks [b0, b1). Same bits.
// pack_gemv_avx512 fills a pack from w (w.group_size % 16 == 0).
void f32s4_gemv_blocks_avx512(const float* x, long m_rows, const Int4GemvView& g, const float* bias, long b0,
                              long b1, float* y);
void bf16s4_gemv_blocks_avx512(const uint16_t* x, long m_rows, const Int4GemvView& g, const float* bias, long b0,
                               long b1, float* y);
void pack_gemv_avx512(const Int4View& w, Int4GemvPack& pack);

// The panel path for many rows: y[m * w.n + c] for m in [m0, m1), c in
// [n0, n1) (panels of 16 channels from n0), any group size. Each panel of 16 channels is decoded once to floats and reused for all
// the rows; the 16 reference lanes are 16 registers across channels (see the
// .cpp), so the bits equal the reference and the functions above.
void f32s4_panel_avx512(const float* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                        float* y);

// The same two kernels on bfloat16 activations (bit patterns, row stride w.k),
// widened to float32 inside the kernel (exact): the bits of the float kernels
// on the widened activations. bf16s4_rows_avx512 needs w.group_size % 16 == 0.
void bf16s4_rows_avx512(const uint16_t* x, long m_rows, const Int4View& w, const float* bias, long n0, long n1,
                        float* y);
void bf16s4_panel_avx512(const uint16_t* x, long m0, long m1, const Int4View& w, const float* bias, long n0, long n1,
                         float* y);

}  // namespace sqsim::kernels::w4a16
