#include "quant/quantize.h"

#include <cmath>

#include "quant/error.h"
#include "quant/rounding.h"

namespace sqsim {

QuantParams dynamic_params(const MatrixF& x, const QuantSpec& spec, const std::string& what) {
  return params_from_range(observe_range(x, spec, what), spec);
}

QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                         const std::string& what) {
  spec.validate(what);
  if (!spec.enabled()) throw Error(what + ": bits = 16 means not quantized; there are no codes");
  spec.validate_shape(x.rows(), x.cols(), what);
  const long expected = spec.num_params(x.rows(), x.cols());
  if (static_cast<long>(params.scale.size()) != expected ||
      static_cast<long>(params.zero_point.size()) != expected) {
    throw Error(what + ": " + std::to_string(params.scale.size()) +
                " quantization parameters for a tensor that needs " + std::to_string(expected));
  }
  const bool reciprocal = spec.symmetric && spec.scale_rule == ScaleRule::kReciprocal;
  if (reciprocal && static_cast<long>(params.multiplier.size()) != expected) {
    throw Error(what + ": reciprocal scale rule needs a multiplier per scale");
  }
  QuantizedMatrix q;
  q.rows = x.rows();
  q.cols = x.cols();
  q.spec = spec;
  q.params = params;
  q.codes.resize(static_cast<size_t>(q.rows) * q.cols);
  const int lo = spec.qmin(), hi = spec.qmax();
  for (long r = 0; r < q.rows; ++r) {
    const float* row = x.row(r).data();
    for (long c = 0; c < q.cols; ++c) {
      const float v = row[c];
      if (!std::isfinite(v)) {
        throw Error(what + ": " + (std::isnan(v) ? "NaN" : "Inf") + " at row " + std::to_string(r) +
                    ", channel " + std::to_string(c) + " (expected finite values)");
      }
      const long p = spec.param_index(r, c, q.cols);
      const uint64_t index = static_cast<uint64_t>(r) * q.cols + c;
      const float scaled = reciprocal ? v * params.multiplier[p] : v / params.scale[p];
      const float rounded = round_value(scaled, spec.rounding, spec.seed, index);
      int code;
      if (spec.symmetric) {
        code = clamp_to_int(rounded, lo, hi);
      } else {
        // round(x/s) + zp, clamped: the sum is formed in float, exact for any
        // code that survives the clamp.
        code = clamp_to_int(rounded + static_cast<float>(params.zero_point[p]), lo, hi);
      }
      q.codes[index] = static_cast<int16_t>(code);
    }
  }
  return q;
}

QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what) {
  return quantize(x, spec, dynamic_params(x, spec, what), what);
}

MatrixF dequantize(const QuantizedMatrix& q) {
  MatrixF out(q.rows, q.cols);
  for (long r = 0; r < q.rows; ++r) {
    float* row = out.row(r).data();
    for (long c = 0; c < q.cols; ++c) {
      const long p = q.spec.param_index(r, c, q.cols);
      row[c] = static_cast<float>(q.codes[r * q.cols + c] - q.params.zero_point[p]) * q.params.scale[p];
    }
  }
  return out;
}

MatrixF fake_quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what,
                      const QuantParams* static_params) {
  spec.validate(what);
  if (!spec.enabled()) {
    require_finite(x, what);
    return x;
  }
  if (static_params) return dequantize(quantize(x, spec, *static_params, what));
  return dequantize(quantize(x, spec, what));
}

}  // namespace sqsim
