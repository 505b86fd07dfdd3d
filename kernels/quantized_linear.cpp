#include "kernels/quantized_linear.h"

#include "kernels/gemm.h"
#include "kernels/int_weights.h"
#include "base/error.h"

namespace sqsim::kernels {

EmulationMode parse_emulation_mode(const std::string& name) {
  if (name == "integer") return EmulationMode::kInteger;
  if (name == "fake-quant" || name == "fake") return EmulationMode::kFakeQuant;
  throw Error("emulation mode '" + name + "': expected integer or fake-quant");
}

bool integer_path_supports(const QuantSpec& weight, const QuantSpec& act, long k) {
  if (!weight.enabled()) return false;
  if (padded_reduction_length(act, weight, k) < 0) return false;
  if (!act.enabled()) return int4_representable(weight);
  return int8_representable(act) && (int8_representable(weight) || int4_representable(weight));
}

QuantizedLinearResult quantized_linear(const MatrixF& x, const MatrixF& w, const float* bias,
                                       const QuantSpec& weight, const QuantSpec& act,
                                       const QuantParams* static_act, EmulationMode mode,
                                       KernelPath path, const std::string& what) {
  if (x.cols() != w.cols()) {
    throw Error(what + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(w.cols()));
  }
  const std::string wname = what + " weight", xname = what + " input";
  QuantizedLinearResult r;
  if (act.enabled() && act.source == ScaleSource::kStatic && !static_act) {
    throw Error(xname + ": static activation scales need calibration statistics");
  }
  if (mode == EmulationMode::kInteger && integer_path_supports(weight, act, w.cols())) {
    // Ragged last groups: pad K with products that are exactly 0 (docs/quantization.md).
    const long kp = padded_reduction_length(act, weight, w.cols());
    const QuantizedMatrix qw = quantize(w, weight, wname);
    r.w_dequant = dequantize(qw);
    r.used_integer_kernel = true;
    if (!act.enabled()) {
      require_finite(x, xname);
      r.x_dequant = x;
      MatrixF xp = MatrixF::Zero(x.rows(), kp);
      xp.leftCols(x.cols()) = x;
      r.y = linear_f32s4(xp, to_int4(pad_columns(qw, kp), wname), bias, path);
      return r;
    }
    const QuantizedMatrix qx = static_act ? quantize(x, act, *static_act, xname) : quantize(x, act, xname);
    r.x_dequant = dequantize(qx);
    const Int8Matrix a = to_int8(pad_columns(qx, kp), xname);
    if (weight.bits <= 4 && int4_representable(weight)) {
      r.y = linear_s8s4(a, to_int4(pad_columns(qw, kp), wname), bias, path);
    } else {
      r.y = linear_s8s8(a, to_int8(pad_columns(qw, kp), wname), bias, path);
    }
    return r;
  }
  r.w_dequant = fake_quantize(w, weight, wname);
  r.x_dequant = fake_quantize(x, act, xname, static_act);
  r.y.noalias() = r.x_dequant * r.w_dequant.transpose();
  if (bias) {
    for (Eigen::Index m = 0; m < r.y.rows(); ++m)
      for (Eigen::Index n = 0; n < r.y.cols(); ++n) r.y(m, n) = r.y(m, n) + bias[n];
  }
  return r;
}

}  // namespace sqsim::kernels
