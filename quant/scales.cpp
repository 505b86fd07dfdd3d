#include "quant/scales.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/error.h"
#include "quant/rounding.h"

namespace sqsim {

RangeStats observe_range(const MatrixF& x, const QuantSpec& spec, const std::string& what) {
  spec.validate(what);
  spec.validate_shape(x.rows(), x.cols(), what);
  const long n = spec.num_params(x.rows(), x.cols());
  RangeStats r;
  r.absmax.assign(n, 0.0f);
  r.min.assign(n, std::numeric_limits<float>::infinity());
  r.max.assign(n, -std::numeric_limits<float>::infinity());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const float* row = x.row(i).data();
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      const float v = row[j];
      if (!std::isfinite(v)) {
        throw Error(what + ": " + (std::isnan(v) ? "NaN" : "Inf") + " at row " + std::to_string(i) +
                    ", channel " + std::to_string(j) + " (expected finite values)");
      }
      const long p = spec.param_index(i, j, x.cols());
      r.absmax[p] = std::max(r.absmax[p], std::fabs(v));
      r.min[p] = std::min(r.min[p], v);
      r.max[p] = std::max(r.max[p], v);
    }
  }
  return r;
}

void merge_range(RangeStats& into, const RangeStats& more, const std::string& what) {
  if (into.size() == 0) {
    into = more;
    return;
  }
  if (into.size() != more.size()) {
    throw Error(what + ": calibration batches disagree on the number of scale groups (" +
                std::to_string(into.size()) + " vs " + std::to_string(more.size()) + ")");
  }
  for (size_t i = 0; i < into.size(); ++i) {
    into.absmax[i] = std::max(into.absmax[i], more.absmax[i]);
    into.min[i] = std::min(into.min[i], more.min[i]);
    into.max[i] = std::max(into.max[i], more.max[i]);
  }
}

QuantParams params_from_range(const RangeStats& range, const QuantSpec& spec) {
  QuantParams p;
  const size_t n = range.size();
  p.scale.resize(n);
  p.zero_point.assign(n, 0);
  const float qmax = static_cast<float>(spec.qmax());
  if (spec.symmetric) {
    const float denom = spec.scale_rule == ScaleRule::kHalfRange
                            ? static_cast<float>((1 << spec.bits) - 1) / 2.0f
                            : qmax;
    if (spec.scale_rule == ScaleRule::kReciprocal) p.multiplier.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const float a = std::max(range.absmax[i], 1e-5f);
      p.scale[i] = a / denom;
      if (spec.scale_rule == ScaleRule::kReciprocal) p.multiplier[i] = qmax / a;
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float s = std::max(range.max[i] - range.min[i], 1e-5f) / qmax;
      p.scale[i] = s;
      // The zero point is rounded with the codes' mode; a stochastic one is
      // keyed by the group index, so it is still a pure function of the input.
      const float zp = round_value(-range.min[i] / s, spec.rounding, spec.seed, i);
      p.zero_point[i] = clamp_to_int(zp, 0, spec.qmax());
    }
  }
  return p;
}

}  // namespace sqsim
