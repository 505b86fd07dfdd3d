#pragma once
// Elementwise hot spots of the float forward pass, with an AVX-512 path
// (kernels/x86/vecmath_avx512.cpp, own exp polynomial) and a portable one, chosen
// at run time like kernels/sgemm.h. Each element's result depends only on its
// own inputs and on n, never on threads or on where a row sits in a block.
namespace sqsim::kernels {

// x[0..n) <- softmax(x * scale), in float (one causal row of attention scores).
void softmax_scaled(float* x, long n, float scale);
// g[i] <- silu(g[i]) * u[i], silu(z) = z / (1 + exp(-z)) (the SwiGLU gate).
void silu_mul(float* g, const float* u, long n);

// The paths, for tests; the _avx512 ones need sgemm_avx512_available().
void softmax_scaled_portable(float* x, long n, float scale);
void silu_mul_portable(float* g, const float* u, long n);
void softmax_scaled_avx512(float* x, long n, float scale);
void silu_mul_avx512(float* g, const float* u, long n);
// exp of each element (AVX-512 polynomial), exposed to test its accuracy.
void exp_avx512(const float* x, float* y, long n);

}  // namespace sqsim::kernels
