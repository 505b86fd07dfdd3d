#pragma once
// The dispatched integer products. Every call checks shapes and int32 overflow
// first, then runs the chosen path (kernels/kernel_path.h); every path returns
// the reference's bits (kernels/gemm_reference.h).
#include "kernels/bf16.h"
#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"
#include "kernels/packed_weights.h"
#include "base/tensor.h"

namespace sqsim::kernels {

struct PackedA;  // kernels/sgemm.h

// int8 activations x int8 weights -> float32 [M, N].
MatrixF linear_s8s8(const Int8Matrix& a, const Int8Matrix& b, const float* bias,
                    KernelPath path = KernelPath::kAuto);
// int8 activations x int4 weights (W4A8).
MatrixF linear_s8s4(const Int8Matrix& a, const Int4Matrix& b, const float* bias,
                    KernelPath path = KernelPath::kAuto);
// float activations x int4 weights (W4A16).
MatrixF linear_f32s4(const MatrixF& x, const Int4Matrix& b, const float* bias,
                     KernelPath path = KernelPath::kAuto);
// bfloat16 activations x int4 weights: defined as
// linear_f32s4_reference(widen_bf16(x), b, bias), bit for bit (kernels/bf16.h).
MatrixF linear_bf16s4(const Bf16Matrix& x, const Int4Matrix& b, const float* bias,
                      KernelPath path = KernelPath::kAuto);

// The same products with weights packed once (kernels/packed_weights.h); they
// run on the path the weights were packed for and return the same bits.
MatrixF linear_s8s8(const Int8Matrix& a, const PackedS8Weights& b, const float* bias);
MatrixF linear_s8s4(const Int8Matrix& a, const PackedS4Weights& b, const float* bias);
// linear_f32s4 also takes x with fewer columns than b, short by less than one
// group: x's missing columns are +0 (the padding of a ragged last group), the
// same bits as x padded with zeros. packed_a: x in the float GEMM's panels
// (kernels/sgemm.h), which the AVX-512 path reads instead of packing x again
// (same bits); other paths ignore it.
MatrixF linear_f32s4(const MatrixF& x, const PackedS4Weights& b, const float* bias,
                     const PackedA* packed_a = nullptr);
MatrixF linear_bf16s4(const Bf16Matrix& x, const PackedS4Weights& b, const float* bias);

}  // namespace sqsim::kernels
