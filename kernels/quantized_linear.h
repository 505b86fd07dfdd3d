#pragma once
// One quantized linear layer Y' = Q(X) Q(W)^T (+ b), emulated either through
// the integer kernels (what an INT8/INT4 kernel computes) or in fake-quant
// float mode. Both quantize with the same quant/ functions.
//
// PreparedLinear holds the decision of how a layer runs, made once: integer
// kernels or fake-quant floats; int4 or int8 weight operand; K padded to whole
// groups; static scales need calibration. quantized_linear() builds one and
// discards it; the model's quantized layers (sim/models/quantized_linear_layer.h)
// hold one.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"
#include "kernels/packed_weights.h"
#include "kernels/sgemm.h"
#include "quant/quantize.h"

namespace sqsim::kernels {

enum class EmulationMode { kInteger, kFakeQuant };

EmulationMode parse_emulation_mode(const std::string& name);

// True when the integer kernels can compute this combination exactly:
// symmetric int8-able activations with int8 or int4 weights, or float
// activations with int4 weights (W4A16), over a reduction length k whose
// ragged groups can be padded (padded_reduction_length).
bool integer_path_supports(const QuantSpec& weight, const QuantSpec& act, long k);

// How the fake-quant product Q(X) Q(W)^T (+ b) is computed in float. There are
// two on purpose, because stored results depend on each one's bits and the two
// round differently:
//  * kEigen: Eigen's x * w^T, then y + b[n] element by element: quantized_linear
//    (the sweep's results.csv, layer-error, the attention products);
//  * kSgemm: kernels/sgemm.h with the bias in the kernel (one FMA chain per
//    element on AVX-512): the model's forward pass (the perplexities in results/).
// Unifying them would change one of those sets of numbers.
enum class FakeQuantProduct { kEigen, kSgemm };

// What to quantize and how to run it.
struct LinearQuantSpec {
  QuantSpec weight;                       // bits 16: float weights
  QuantSpec act;                          // bits 16: float activations
  std::optional<QuantParams> static_act;  // calibrated, for act.source == kStatic
  EmulationMode mode = EmulationMode::kInteger;
  KernelPath path = KernelPath::kAuto;    // integer kernels only
  FakeQuantProduct product = FakeQuantProduct::kEigen;
};

// Weights quantized (and, for the integer kernels, padded and packed) once.
// Outputs equal quantized_linear's for the same arguments bit for bit.
class PreparedLinear {
 public:
  // w [out, in]; bias null or [out] (copied). `what` names the layer in every
  // error ("<what> weight", "<what> input"). Refuses static activation scales
  // without static_act.
  PreparedLinear(const MatrixF& w, const float* bias, LinearQuantSpec spec, const std::string& what);
  // The same from weights already quantized with spec.weight (enabled): for
  // callers that quantize the weights themselves, e.g. to measure their error.
  PreparedLinear(const QuantizedMatrix& qw, const float* bias, LinearQuantSpec spec, const std::string& what);

  // y [x.rows, out]: x [rows, in] quantized with spec.act (static_act when
  // given), times the prepared weights, plus the bias. When x_dequant is not
  // null it receives what the activations became (x itself when not quantized).
  MatrixF run(const MatrixF& x, MatrixF* x_dequant = nullptr) const;
  // run(x) for a layer with float activations (W4A16) whose input other layers
  // read too: x already in the float kernel's panels (kernels::pack_a) and,
  // with kAlreadyChecked, already checked finite (same bits, same errors).
  MatrixF run_float(const MatrixF& x, const PackedA& packed_a, FiniteCheck check) const;
  // The integer product on activations already quantized with spec.act and
  // padded to padded_k() (integer kernels with quantized activations only).
  MatrixF run(const Int8Matrix& a) const;
  // True when run(x) is run(quantize_input(x)): integer kernels, quantized
  // activations.
  bool quantizes_input() const { return integer_ && spec_.act.enabled(); }
  // The codes run(x) multiplies (quantizes_input() only; errors name this
  // layer's input).
  Int8Matrix quantize_input(const MatrixF& x) const;
  // True when `other`'s quantize_input gives the same codes as this layer's
  // for every x: the same activation spec, static parameters and padding
  // (q, k and v reading one norm's output quantize it once).
  bool same_input_codes(const PreparedLinear& other) const;

  bool uses_integer_kernel() const { return integer_; }
  // The weight operand of the integer kernels: int4 (W4A16, W4A8) or int8.
  bool int4_weights() const { return int4_; }
  // K padded to whole groups of both operands (== in_features() when no group is ragged).
  long padded_k() const { return padded_k_; }
  long in_features() const { return in_; }
  long out_features() const { return out_; }
  const LinearQuantSpec& spec() const { return spec_; }
  // The weights as the quantizer left them (dequantized; w itself when not
  // quantized). On the integer path made on each call from the packed
  // weights' codes: the layer keeps no float copy of them (docs/memory.md).
  MatrixF dequantized_weight() const;

 private:
  void prepare(const QuantizedMatrix* qw, const MatrixF* w);
  MatrixF fake_quant_product(const MatrixF& xq) const;

  LinearQuantSpec spec_;
  std::string what_;
  long in_ = 0, out_ = 0, padded_k_ = 0;
  bool integer_ = false, int4_ = false;
  std::vector<float> bias_;  // empty: no bias
  MatrixF w_dequant_;        // fake-quant only (the integer path never reads it)
  QuantParams w_params_;     // integer path: the weights' parameters, for dequantized_weight()
  std::shared_ptr<const PackedB> sgemm_w_;  // kSgemm fake-quant product
  PackedS8Weights w8_;  // integer kernels, int8 weights
  PackedS4Weights w4_;  // integer kernels, int4 weights
};

struct QuantizedLinearResult {
  MatrixF y;           // the layer output
  MatrixF x_dequant;   // what the activations became (X itself when not quantized)
  MatrixF w_dequant;   // what the weights became
  bool used_integer_kernel = false;
};

// `static_act` (may be null) holds static activation parameters from calibration.
// In kInteger mode, combinations the kernels cannot express fall back to
// fake-quant (kEigen). A PreparedLinear made and discarded.
QuantizedLinearResult quantized_linear(const MatrixF& x, const MatrixF& w, const float* bias,
                                       const QuantSpec& weight, const QuantSpec& act,
                                       const QuantParams* static_act, EmulationMode mode,
                                       KernelPath path, const std::string& what);

}  // namespace sqsim::kernels
