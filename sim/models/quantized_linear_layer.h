#pragma once
// A linear layer that runs quantized, in either emulation mode, behind the
// same LinearLayer interface as the float one (so models need no change).
// Weights are quantized once, at construction (a kernels::PreparedLinear,
// which decides how the layer runs); activations on every call.
#include <optional>
#include <string>

#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"
#include "quant/quantize.h"
#include "sim/models/linear_layer.h"

namespace sqsim {

struct QuantizedLinearOptions {
  QuantSpec weight;  // bits 16: float weights
  QuantSpec act;     // bits 16: float activations
  std::optional<QuantParams> static_act;  // calibrated, for act.source == kStatic
  // When not empty, the input is divided by it per channel before
  // quantization: smoothing with a run-time scale (the weight given has
  // already been multiplied by it).
  VectorF runtime_divisor;
  // When set, the weights already quantized with `weight` (GPTQ's codes),
  // used as they are instead of quantizing the float weight; read during
  // construction only.
  const QuantizedMatrix* quantized_weight = nullptr;
  kernels::EmulationMode mode = kernels::EmulationMode::kInteger;
  kernels::KernelPath path = kernels::KernelPath::kAuto;
};

class QuantizedLinear : public LinearLayer {
 public:
  // weight [out, in], bias empty or [out]; `name` (the HF module path) is used
  // in every error message.
  QuantizedLinear(const MatrixF& weight, const VectorF& bias, QuantizedLinearOptions options, std::string name);

  MatrixF forward(const MatrixF& x) const override;
  // Quantized activations made once for the layers reading one input with
  // the same activation quantization (no run-time smoothing: its input is
  // this layer's own); float layers share the packed input.
  MatrixF forward_shared(const SharedInput& in) const override;
  int in_features() const override { return int(in_); }
  int out_features() const override { return int(out_); }
  // Float, static or per-token / per-group dynamic activations: yes.
  // Per-tensor or per-channel dynamic scales are taken over all the rows, and
  // stochastic rounding draws by element index: no.
  bool rows_independent() const override;

  // True when forward() runs the integer kernels (false: fake-quant floats).
  bool uses_integer_kernel() const { return prepared_ && prepared_->uses_integer_kernel(); }
  // The weights as the quantizer left them (dequantized).
  MatrixF dequantized_weight() const {
    return prepared_ ? prepared_->dequantized_weight() : float_layer_->weight();
  }

 private:
  MatrixF quantized_input(const MatrixF& x) const;

  long in_ = 0, out_ = 0;
  QuantizedLinearOptions opt_;
  std::string name_;
  // Exactly one is set: the float layer when the weights are not quantized,
  // else the prepared quantized layer (its fake-quant product is sgemm's, the
  // float layer's, so fake-quant outputs keep FloatLinear's bits).
  std::optional<FloatLinear> float_layer_;
  std::optional<kernels::PreparedLinear> prepared_;
};

}  // namespace sqsim
