#pragma once
// One quantized linear layer Y' = Q(X) Q(W)^T (+ b), emulated either through
// the integer kernels (what an INT8/INT4 kernel computes) or in fake-quant
// float mode. Both quantize with the same quant/ functions.
#include <string>

#include "kernels/kernel_path.h"
#include "quant/quantize.h"

namespace sqsim::kernels {

enum class EmulationMode { kInteger, kFakeQuant };

EmulationMode parse_emulation_mode(const std::string& name);

struct QuantizedLinearResult {
  MatrixF y;           // the layer output
  MatrixF x_dequant;   // what the activations became (X itself when not quantized)
  MatrixF w_dequant;   // what the weights became
  bool used_integer_kernel = false;
};

// True when the integer kernels can compute this combination exactly:
// symmetric int8-able activations with int8 or int4 weights, or float
// activations with int4 weights (W4A16), over a reduction length k whose
// ragged groups can be padded (padded_reduction_length).
bool integer_path_supports(const QuantSpec& weight, const QuantSpec& act, long k);

// `static_act` (may be null) holds static activation parameters from calibration.
// In kInteger mode, combinations the kernels cannot express fall back to fake-quant.
QuantizedLinearResult quantized_linear(const MatrixF& x, const MatrixF& w, const float* bias,
                                       const QuantSpec& weight, const QuantSpec& act,
                                       const QuantParams* static_act, EmulationMode mode,
                                       KernelPath path, const std::string& what);

}  // namespace sqsim::kernels
