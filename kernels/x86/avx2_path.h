#pragma once
// The functions of KernelPath::kAvx2 at the Int8Matrix / Int4Matrix level
// (defined in kernels/x86/avx2_path.cpp, plain C++): packing, validation and
// the epilogue tables around the kernels of kernels/x86/s8s8_avx2.h and
// kernels/x86/f32s4_avx2.h, so every result equals the reference bit for bit. Call only when the CPU has avx2.
#include <cstdint>

#include "kernels/gemm_reference.h"
#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"
#include "base/tensor.h"

namespace sqsim::kernels {

namespace avx2 {
struct PackedB;
}

// Accumulators identical to gemm_s8s8s32_reference / gemm_s8s4s32_reference.
void gemm_s8s8s32_avx2(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc);
void gemm_s8s8s32_avx2(const Int8Matrix& a, const avx2::PackedB& b, int32_t* acc);
void gemm_s8s4s32_avx2(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc);
// GEMM + epilogue, identical to the linear_*_reference functions (validate first,
// same errors). The epilogue is fused into the kernel (8 channels per register).
MatrixF linear_s8s8_avx2(const Int8Matrix& a, const Int8Matrix& b, const float* bias);
MatrixF linear_s8s4_avx2(const Int8Matrix& a, const Int4Matrix& b, const float* bias);
// The same on prepacked weights whose group size is the accumulator group (the
// caller validates): y [a.rows, b.n], weight scales read through b_scales.
void linear_avx2(const Int8Matrix& a, const avx2::PackedB& b, const ScaleView& b_scales, const float* bias, float* y);
MatrixF linear_f32s4_avx2(const MatrixF& x, const Int4Matrix& b, const float* bias);
// One W4A16 kernel forced regardless of M (kernels/kernel_path.h), for tests and benchmarks.
MatrixF linear_f32s4_avx2(const MatrixF& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel);

}  // namespace sqsim::kernels
