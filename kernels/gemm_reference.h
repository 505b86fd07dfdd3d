#pragma once
// The scalar reference path: plain loops that *define* what every integer
// kernel returns (docs/quantization.md, "Integer GEMM"). Kept simple on
// purpose; the optimized paths are tested bit for bit against it.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/int_weights.h"
#include "base/tensor.h"

namespace sqsim::kernels {

// Refuses (sqsim::Error naming `what`) any shape whose int32 accumulator could
// overflow: k_per_acc * max_abs_a * max_abs_b must be <= 2^31 - 1.
void require_int32_accumulation(long k_per_acc, long max_abs_a, long max_abs_b, const std::string& what);

// Largest |code| of a symmetric int8-stored matrix, and largest |q - zp| of int4 weights.
long max_abs_code(const Int8Matrix& m);
long max_abs_code(const Int4Matrix& m);

// How the K dimension is cut into accumulators for a pair of operands: one
// accumulator per `group_size` columns (the finer of the two groupings).
long accumulator_group_size(long a_group, long b_group, long k, const std::string& what);

// Checks shapes and overflow for A [M,K] x B [N,K]; returns the accumulator group size.
long validate_s8s8(const Int8Matrix& a, const Int8Matrix& b, const std::string& what);
long validate_s8s4(const Int8Matrix& a, const Int4Matrix& b, const std::string& what);

// acc[(m * N + n) * G + g] = sum over k in group g of A[m,k] * B[n,k]  (int32).
void gemm_s8s8s32_reference(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc);
// The same with int4 weights: sum of A[m,k] * (q[n,k] - zp[n,g]).
void gemm_s8s4s32_reference(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc);

// An operand's scales as the epilogue reads them: the scale of row r at
// column c is data[layout.index(r, c / group_size)].
struct ScaleView {
  const float* data = nullptr;
  ScaleLayout layout;
  long group_size = 0;
  float at(long r, long c) const { return data[layout.index(r, c / group_size)]; }
};
ScaleView scales_of(const Int8Matrix& m);
ScaleView scales_of(const Int4Matrix& m);

// The epilogue, for accumulators of `group_size` columns over K = k:
// y[m,n] = t_0 + t_1 + ... (left to right), t_g = (float(acc_g) * sA(m, g*gs)) * sB(n, g*gs),
// then y = y + bias[n] when bias is not null. y is [M, N] row-major.
void epilogue_reference(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k,
                        long group_size, const int32_t* acc, const float* bias, float* y);

// Whole products (GEMM + epilogue): float32 Y [M, N].
MatrixF linear_s8s8_reference(const Int8Matrix& a, const Int8Matrix& b, const float* bias);
MatrixF linear_s8s4_reference(const Int8Matrix& a, const Int4Matrix& b, const float* bias);
// W4A16: float activations times the exactly dequantized int4 weights, one FMA
// chain per output over k in order, then the bias (docs/quantization.md).
MatrixF linear_f32s4_reference(const MatrixF& x, const Int4Matrix& b, const float* bias);

}  // namespace sqsim::kernels
