#pragma once
// Quantized attention matmuls: the hooks of sim/models/attention.h that carry
// out a BmmScheme (quant/bmm_scheme.h; docs/quantization.md, "Attention
// BMMs"): Q, K, V quantized at the projection outputs (before RoPE) or inside
// attention (after RoPE) at the scheme's granularity, the probabilities with a
// fixed step; the products through the integer GEMM where both operands are
// int8 with scales that factor out of the sum, else in float on the
// fake-quantized operands. Also an int8 KV cache: K and V rounded to int8 per
// token (per head) before they are used.
#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"
#include "quant/bmm_scheme.h"
#include "sim/models/attention.h"

namespace sqsim {

AttentionMatmuls quantized_attention_matmuls(const BmmScheme& bmm, bool kv_int8, kernels::EmulationMode mode,
                                             kernels::KernelPath path);

}  // namespace sqsim
