#pragma once
// Quantization parameters (scale, zero point) per parameter group, and the
// range statistics they are derived from. observe_range + params_from_range is
// the only place a scale is computed (docs/quantization.md).
#include <cstdint>
#include <string>
#include <vector>

#include "quant/quant_spec.h"
#include "base/tensor.h"

namespace sqsim {

// Per parameter group: absmax, min and max of the elements it covers.
struct RangeStats {
  std::vector<float> absmax, min, max;
  size_t size() const { return absmax.size(); }
};

// Per parameter group: the dequantization scale, the zero point (0 when
// symmetric) and, for the reciprocal scale rule, the multiplier applied
// before rounding.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  std::vector<float> multiplier;  // empty unless scale_rule == kReciprocal
};

// The statistics of x for the spec's granularity.
RangeStats observe_range(const MatrixF& x, const QuantSpec& spec, const std::string& what,
                         FiniteCheck check = FiniteCheck::kCheck);
// observe_range(x, coarse) from observe_range(x, fine) without x, where every
// coarse group is a run of whole fine groups in row-major order: per-tensor
// from per-row or per-group, per-row from per-group, group G from group g when
// g divides G. The fine groups are folded in order with the same std::max /
// std::min, so the result is observe_range's, bit for bit (signed zeros
// included: the first extreme in row-major order is kept either way).
// can_coarsen_range says whether `fine` can give `coarse`.
bool can_coarsen_range(const QuantSpec& fine, const QuantSpec& coarse);
RangeStats coarsen_range(const RangeStats& fine, const QuantSpec& fine_spec, const QuantSpec& coarse_spec, long rows,
                         long cols);
// Static calibration: widens `into` by `more` (elementwise absmax/max up, min down).
void merge_range(RangeStats& into, const RangeStats& more, const std::string& what);
QuantParams params_from_range(const RangeStats& range, const QuantSpec& spec);

}  // namespace sqsim
