#include "sim/models/quantized_linear_layer.h"

#include "base/error.h"

namespace sqsim {

QuantizedLinear::QuantizedLinear(const MatrixF& weight, const VectorF& bias, QuantizedLinearOptions options,
                                 std::string name)
    : in_(weight.cols()), out_(weight.rows()), opt_(std::move(options)), name_(std::move(name)) {
  if (bias.size() != 0 && bias.size() != out_)  // FloatLinear's check and message
    throw Error("linear layer: bias has " + std::to_string(bias.size()) + " entries for " + std::to_string(out_) +
                " outputs");
  const std::string wname = name_ + " weight";
  require_finite(weight, wname, "input channel");
  if (opt_.runtime_divisor.size() != 0 && opt_.runtime_divisor.size() != in_)
    throw Error(name_ + ": run-time smoothing vector has " + std::to_string(opt_.runtime_divisor.size()) +
                " entries for " + std::to_string(in_) + " input channels");
  if (opt_.act.enabled() && opt_.act.source == ScaleSource::kStatic && !opt_.static_act)
    throw Error(name_ + ": static activation scales need calibration statistics");
  if (!opt_.weight.enabled()) {
    if (opt_.act.enabled()) throw Error(name_ + ": quantized activations with float weights are not supported");
    float_layer_.emplace(weight, bias);  // a float layer (with run-time smoothing at most)
    return;
  }
  kernels::LinearQuantSpec spec;
  spec.weight = opt_.weight;
  spec.act = opt_.act;
  spec.static_act = opt_.static_act;
  spec.mode = opt_.mode;
  spec.path = opt_.path;
  spec.product = kernels::FakeQuantProduct::kSgemm;
  if (opt_.quantized_weight) {
    const QuantizedMatrix& q = *opt_.quantized_weight;
    if (q.rows != out_ || q.cols != in_)
      throw Error(name_ + ": quantized weight is " + std::to_string(q.rows) + "x" + std::to_string(q.cols) +
                  ", the layer " + std::to_string(out_) + "x" + std::to_string(in_));
    prepared_.emplace(q, bias.size() ? bias.data() : nullptr, std::move(spec), name_);
    opt_.quantized_weight = nullptr;
    return;
  }
  prepared_.emplace(weight, bias.size() ? bias.data() : nullptr, std::move(spec), name_);
}

MatrixF QuantizedLinear::quantized_input(const MatrixF& x) const {
  if (opt_.runtime_divisor.size() == 0) return x;
  MatrixF xs = x;
  for (long r = 0; r < xs.rows(); ++r) xs.row(r).array() /= opt_.runtime_divisor.transpose().array();
  return xs;
}

bool QuantizedLinear::rows_independent() const {
  const QuantSpec& a = opt_.act;
  if (!a.enabled()) return true;
  if (a.rounding == Rounding::kStochastic) return false;
  return a.source == ScaleSource::kStatic || a.granularity == Granularity::kPerRow ||
         a.granularity == Granularity::kPerGroup;
}

MatrixF QuantizedLinear::forward(const MatrixF& x) const {
  if (x.cols() != in_)
    throw Error(name_ + ": input has " + std::to_string(x.cols()) + " features, expected " + std::to_string(in_));
  // Without run-time smoothing the input is used as it is (no copy of x).
  if (opt_.runtime_divisor.size() == 0) return prepared_ ? prepared_->run(x) : float_layer_->forward(x);
  const MatrixF xs = quantized_input(x);
  return prepared_ ? prepared_->run(xs) : float_layer_->forward(xs);
}

MatrixF QuantizedLinear::forward_shared(const SharedInput& in) const {
  if (opt_.runtime_divisor.size() != 0) return forward(in.x());
  if (!prepared_) return float_layer_->forward_shared(in);
  if (in.x().cols() != in_) return forward(in.x());
  // W4A16: the input checked once and packed once for all its readers.
  if (prepared_->uses_integer_kernel() && !prepared_->quantizes_input()) {
    in.require_finite_once(name_ + " input");
    return prepared_->run_float(in.x(), in.packed_a(), FiniteCheck::kAlreadyChecked);
  }
  if (!prepared_->quantizes_input()) return forward(in.x());
  if (const kernels::Int8Matrix* codes = in.codes_for(*prepared_)) return prepared_->run(*codes);
  return prepared_->run(in.keep_codes(*prepared_, prepared_->quantize_input(in.x())));
}

}  // namespace sqsim
