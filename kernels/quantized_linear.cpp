#include "kernels/quantized_linear.h"

#include "kernels/gemm.h"
#include "kernels/quantize_activations.h"
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

PreparedLinear::PreparedLinear(const MatrixF& w, const float* bias, LinearQuantSpec spec, const std::string& what)
    : spec_(std::move(spec)), what_(what), in_(w.cols()), out_(w.rows()) {
  if (bias) bias_.assign(bias, bias + out_);
  prepare(nullptr, &w);
}

PreparedLinear::PreparedLinear(const QuantizedMatrix& qw, const float* bias, LinearQuantSpec spec,
                               const std::string& what)
    : spec_(std::move(spec)), what_(what), in_(qw.cols), out_(qw.rows) {
  if (bias) bias_.assign(bias, bias + out_);
  prepare(&qw, nullptr);
}

// The one place that decides how a quantized linear layer runs.
void PreparedLinear::prepare(const QuantizedMatrix* given, const MatrixF* w) {
  const std::string wname = what_ + " weight";
  if (spec_.act.enabled() && spec_.act.source == ScaleSource::kStatic && !spec_.static_act) {
    throw Error(what_ + " input: static activation scales need calibration statistics");
  }
  integer_ = spec_.mode == EmulationMode::kInteger && integer_path_supports(spec_.weight, spec_.act, in_);
  padded_k_ = in_;
  if (!integer_) {
    // Fake-quant: quantize and dequantize the weights once (float weights stay as they are).
    w_dequant_ = given ? dequantize(*given) : fake_quantize(*w, spec_.weight, wname);
    if (spec_.product == FakeQuantProduct::kSgemm) {
      sgemm_w_ = std::make_shared<const PackedB>(
          pack_b(w_dequant_.data(), w_dequant_.cols(), BLayout::kNK, w_dequant_.rows(), w_dequant_.cols()));
    }
    return;
  }
  QuantizedMatrix own;
  if (!given) own = quantize(*w, spec_.weight, wname);
  const QuantizedMatrix& qw = given ? *given : own;
  w_params_ = qw.params;  // the codes stay only in the packed weights' source
  // Ragged last groups: pad K with products that are exactly 0 (docs/quantization.md).
  padded_k_ = padded_reduction_length(spec_.act, spec_.weight, in_);
  const QuantizedMatrix padded = pad_columns(qw, padded_k_);
  // Float activations take int4 weights (W4A16); int8 activations take int4
  // weights when the spec fits them (W4A8), else int8 (W8A8).
  int4_ = !spec_.act.enabled() || (spec_.weight.bits <= 4 && int4_representable(spec_.weight));
  if (int4_) {
    w4_ = pack_s4_weights(to_int4(padded, wname), spec_.path, spec_.act.enabled() ? S4Use::kW4A8 : S4Use::kW4A16);
  } else {
    w8_ = pack_s8_weights(to_int8(padded, wname), spec_.path);
  }
}

MatrixF PreparedLinear::dequantized_weight() const {
  if (!integer_) return w_dequant_;
  // The quantized matrix again, from the codes the kernels keep (the first
  // in_ of padded_k_ columns), dequantized by the one formula.
  QuantizedMatrix q;
  q.rows = out_;
  q.cols = in_;
  q.spec = spec_.weight;
  q.params = w_params_;
  q.codes.resize(size_t(out_ * in_));
  for (long r = 0; r < out_; ++r)
    for (long c = 0; c < in_; ++c)
      q.codes[size_t(r * in_ + c)] =
          int16_t(int4_ ? w4_.source->code(r, c) : w8_.source->codes[size_t(r * padded_k_ + c)]);
  return dequantize(q);
}

MatrixF PreparedLinear::fake_quant_product(const MatrixF& xq) const {
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  if (spec_.product == FakeQuantProduct::kSgemm) {
    MatrixF y(xq.rows(), out_);
    SgemmArgs g;
    g.m = xq.rows();
    g.n = out_;
    g.k = in_;
    g.a = xq.data();
    g.lda = xq.cols();
    g.b = w_dequant_.data();
    g.ldb = w_dequant_.cols();
    g.layout = BLayout::kNK;
    g.c = y.data();
    g.ldc = y.cols();
    g.bias = bias;
    sgemm_parallel(g, sgemm_w_.get());  // fixed tiles: bits independent of the thread count
    return y;
  }
  MatrixF y;
  y.noalias() = xq * w_dequant_.transpose();
  if (bias) {
    for (Eigen::Index m = 0; m < y.rows(); ++m)
      for (Eigen::Index n = 0; n < y.cols(); ++n) y(m, n) = y(m, n) + bias[n];
  }
  return y;
}

MatrixF PreparedLinear::run(const MatrixF& x, MatrixF* x_dequant) const {
  if (x.cols() != in_) {
    throw Error(what_ + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(in_));
  }
  const std::string xname = what_ + " input";
  const QuantParams* st = spec_.static_act ? &*spec_.static_act : nullptr;
  if (!spec_.act.enabled()) {
    // Float activations: checked, then used as they are (fake_quantize of a
    // disabled spec is this check and a copy).
    if (!integer_) {
      require_finite(x, xname);
      if (x_dequant) *x_dequant = x;
      return fake_quant_product(x);
    }
    // W4A16: x packed for the float kernel here, which also tells whether it
    // is finite (no second pass over x unless it is not, to name the value).
    const PackedA packed = pack_a(x.data(), x.cols(), x.rows(), x.cols());
    if (packed.empty() || !packed.finite) require_finite(x, xname);
    if (x_dequant) *x_dequant = x;
    return run_float(x, packed, FiniteCheck::kAlreadyChecked);
  }
  if (!integer_) {
    MatrixF xq = fake_quantize(x, spec_.act, xname, st);
    MatrixF y = fake_quant_product(xq);
    if (x_dequant) *x_dequant = std::move(xq);
    return y;
  }
  if (x_dequant) {
    const QuantizedMatrix qx = st ? quantize(x, spec_.act, *st, xname) : quantize(x, spec_.act, xname);
    *x_dequant = dequantize(qx);
    return run(padded_k_ == qx.cols ? to_int8(qx, xname) : to_int8(pad_columns(qx, padded_k_), xname));
  }
  return run(quantize_input(x));
}

MatrixF PreparedLinear::run_float(const MatrixF& x, const PackedA& packed_a, FiniteCheck check) const {
  if (spec_.act.enabled() || !integer_) return run(x);
  if (x.cols() != in_) {
    throw Error(what_ + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(in_));
  }
  if (check == FiniteCheck::kCheck) require_finite(x, what_ + " input");
  // a ragged last group's padding: +0 columns (kernels/gemm.h)
  return linear_f32s4(x, w4_, bias_.empty() ? nullptr : bias_.data(), &packed_a);
}

Int8Matrix PreparedLinear::quantize_input(const MatrixF& x) const {
  if (!quantizes_input()) throw Error(what_ + ": quantize_input on a layer that does not quantize its input");
  if (x.cols() != in_) {
    throw Error(what_ + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(in_));
  }
  // The same codes as quantize(), rows quantized in parallel where each row stands alone.
  const QuantParams* st = spec_.static_act ? &*spec_.static_act : nullptr;
  return quantize_activations_int8(x, spec_.act, st, padded_k_, what_ + " input");
}

bool PreparedLinear::same_input_codes(const PreparedLinear& o) const {
  const QuantSpec &a = spec_.act, &b = o.spec_.act;
  const bool same_spec = a.bits == b.bits && a.symmetric == b.symmetric && a.granularity == b.granularity &&
                         a.group_size == b.group_size && a.source == b.source && a.rounding == b.rounding &&
                         a.scale_rule == b.scale_rule && a.clamp == b.clamp && a.seed == b.seed;
  const auto& s = spec_.static_act;
  const auto& t = o.spec_.static_act;
  const bool same_static = s.has_value() == t.has_value() &&
                           (!s || (s->scale == t->scale && s->zero_point == t->zero_point &&
                                   s->multiplier == t->multiplier));
  return quantizes_input() && o.quantizes_input() && in_ == o.in_ && padded_k_ == o.padded_k_ && same_spec &&
         same_static;
}

MatrixF PreparedLinear::run(const Int8Matrix& a) const {
  if (!integer_ || !spec_.act.enabled()) {
    throw Error(what_ + ": int8 activations given to a layer that does not run the int8 kernels");
  }
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  return int4_ ? linear_s8s4(a, w4_, bias) : linear_s8s8(a, w8_, bias);
}

QuantizedLinearResult quantized_linear(const MatrixF& x, const MatrixF& w, const float* bias,
                                       const QuantSpec& weight, const QuantSpec& act,
                                       const QuantParams* static_act, EmulationMode mode,
                                       KernelPath path, const std::string& what) {
  if (x.cols() != w.cols()) {
    throw Error(what + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(w.cols()));
  }
  LinearQuantSpec spec;
  spec.weight = weight;
  spec.act = act;
  if (static_act) spec.static_act = *static_act;
  spec.mode = mode;
  spec.path = path;
  spec.product = FakeQuantProduct::kEigen;
  const PreparedLinear layer(w, bias, std::move(spec), what);
  QuantizedLinearResult r;
  r.y = layer.run(x, &r.x_dequant);
  r.w_dequant = layer.dequantized_weight();
  r.used_integer_kernel = layer.uses_integer_kernel();
  return r;
}

}  // namespace sqsim::kernels
