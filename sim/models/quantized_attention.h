#pragma once
// Quantized attention matmuls (SmoothQuant keeps the BMMs in INT8): hooks for
// sim/models/attention.h that quantize Q, K (for Q·Kᵀ) and the probabilities and V
// (for P·V) to int8, per-tensor dynamic for each (layer, head), through the
// integer GEMM (or fake-quant); and an int8 KV cache: K and V rounded to int8
// per token (per head) before they are used. docs/quantization.md, "Attention".
#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"
#include "sim/models/attention.h"

namespace sqsim {

AttentionMatmuls quantized_attention_matmuls(bool quantize_bmm, bool kv_int8, kernels::EmulationMode mode,
                                             kernels::KernelPath path);

}  // namespace sqsim
