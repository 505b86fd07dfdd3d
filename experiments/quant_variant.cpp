#include "experiments/quant_variant.h"

#include "base/error.h"

namespace sqsim::cli {

std::string settings_text(const QuantizerVariant& v) {
  return "rounding=" + rounding_name(v.rounding) + "\nscale-rule=" + scale_rule_name(v.scale_rule) +
         "\nclamp=" + (v.clamp == ClampRange::kNarrow ? "narrow" : "full") + "\nseed=" + std::to_string(v.seed) +
         "\nw-symmetric=" + (v.w_symmetric ? "1" : "0") + "\na-symmetric=" + (v.a_symmetric ? "1" : "0") + "\n";
}

namespace {

QuantSpec common(int bits, const QuantizerVariant& v, bool symmetric) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.rounding = v.rounding;
  s.scale_rule = v.scale_rule;
  s.clamp = v.clamp;
  s.seed = v.seed;
  if (!symmetric) {
    // Variants of the symmetric scale do not apply to zero-point quantizers.
    s.scale_rule = ScaleRule::kReference;
    s.clamp = ClampRange::kFull;
  }
  return s;
}

}  // namespace

QuantSpec weight_spec(int bits, const std::string& granularity, const QuantizerVariant& v) {
  QuantSpec s = common(bits, v, v.w_symmetric);
  parse_granularity(granularity, TensorRole::kWeight, s);
  s.validate("--w-bits/--w-granularity");
  return s;
}

QuantSpec activation_spec(int bits, const std::string& granularity, const std::string& act_scale,
                          const QuantizerVariant& v) {
  QuantSpec s = common(bits, v, v.a_symmetric);
  parse_granularity(granularity, TensorRole::kActivation, s);
  s.source = parse_scale_source(act_scale);
  if (s.source == ScaleSource::kStatic &&
      (s.granularity == Granularity::kPerRow || s.granularity == Granularity::kPerGroup)) {
    throw Error("--act-scale static with --a-granularity " + granularity +
                ": static scales cannot follow tokens they have not seen (expected per-tensor or per-channel)");
  }
  s.validate("--a-bits/--a-granularity");
  return s;
}

}  // namespace sqsim::cli
