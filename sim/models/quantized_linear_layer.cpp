#include "sim/models/quantized_linear_layer.h"

#include "kernels/gemm.h"
#include "base/error.h"

namespace sqsim {

QuantizedLinear::QuantizedLinear(const MatrixF& weight, const VectorF& bias, QuantizedLinearOptions options,
                                 std::string name)
    : in_(weight.cols()), out_(weight.rows()), opt_(std::move(options)), name_(std::move(name)),
      float_layer_(weight, bias), bias_(bias) {
  const std::string wname = name_ + " weight";
  require_finite(weight, wname, "input channel");
  if (opt_.runtime_divisor.size() != 0 && opt_.runtime_divisor.size() != in_)
    throw Error(name_ + ": run-time smoothing vector has " + std::to_string(opt_.runtime_divisor.size()) +
                " entries for " + std::to_string(in_) + " input channels");
  if (opt_.act.enabled() && opt_.act.source == ScaleSource::kStatic && !opt_.static_act)
    throw Error(name_ + ": static activation scales need calibration statistics");
  if (!opt_.weight.enabled()) {
    if (opt_.act.enabled()) throw Error(name_ + ": quantized activations with float weights are not supported");
    return;  // a float layer (with run-time smoothing at most)
  }
  const QuantizedMatrix qw = quantize(weight, opt_.weight, wname);
  float_layer_ = FloatLinear(dequantize(qw), bias);
  integer_ = opt_.mode == kernels::EmulationMode::kInteger &&
             kernels::integer_path_supports(opt_.weight, opt_.act, in_);
  if (!integer_) return;
  // Ragged last groups are padded with products that are exactly 0 (docs/quantization.md).
  padded_k_ = kernels::padded_reduction_length(opt_.act, opt_.weight, in_);
  const QuantizedMatrix padded = kernels::pad_columns(qw, padded_k_);
  w_is_int4_ = !opt_.act.enabled() || (opt_.weight.bits <= 4 && kernels::int4_representable(opt_.weight));
  if (w_is_int4_) {
    w4_ = kernels::pack_s4_weights(kernels::to_int4(padded, wname), opt_.path,
                                    opt_.act.enabled() ? kernels::S4Use::kW4A8 : kernels::S4Use::kW4A16);
  } else {
    w8_ = kernels::pack_s8_weights(kernels::to_int8(padded, wname), opt_.path);
  }
}

MatrixF QuantizedLinear::quantized_input(const MatrixF& x) const {
  if (opt_.runtime_divisor.size() == 0) return x;
  MatrixF xs = x;
  for (long r = 0; r < xs.rows(); ++r) xs.row(r).array() /= opt_.runtime_divisor.transpose().array();
  return xs;
}

MatrixF QuantizedLinear::forward(const MatrixF& x) const {
  if (x.cols() != in_)
    throw Error(name_ + ": input has " + std::to_string(x.cols()) + " features, expected " + std::to_string(in_));
  const MatrixF xs = quantized_input(x);
  const std::string xname = name_ + " input";
  const QuantParams* st = opt_.static_act ? &*opt_.static_act : nullptr;
  if (!integer_) {
    if (!opt_.act.enabled()) {
      if (opt_.weight.enabled()) require_finite(xs, xname, "channel");
      return float_layer_.forward(xs);
    }
    return float_layer_.forward(fake_quantize(xs, opt_.act, xname, st));
  }
  const float* bias = bias_.size() ? bias_.data() : nullptr;
  if (!opt_.act.enabled()) {
    require_finite(xs, xname, "channel");
    MatrixF xp = MatrixF::Zero(xs.rows(), padded_k_);
    xp.leftCols(in_) = xs;
    return kernels::linear_f32s4(xp, w4_, bias);
  }
  const QuantizedMatrix qx = st ? quantize(xs, opt_.act, *st, xname) : quantize(xs, opt_.act, xname);
  const kernels::Int8Matrix a = kernels::to_int8(kernels::pad_columns(qx, padded_k_), xname);
  return w_is_int4_ ? kernels::linear_s8s4(a, w4_, bias) : kernels::linear_s8s8(a, w8_, bias);
}

}  // namespace sqsim
