#pragma once
// The quantizer variants every command shares (rounding, scale rule, clamp,
// seed, symmetry), and the weight / activation specs built from them.
#include <string>

#include "quant/quant_spec.h"

namespace sqsim::cli {

struct QuantizerVariant {
  Rounding rounding = Rounding::kHalfEven;
  ScaleRule scale_rule = ScaleRule::kReference;
  ClampRange clamp = ClampRange::kFull;
  unsigned long long seed = 0;  // of stochastic rounding
  bool w_symmetric = true, a_symmetric = true;
};

// "rounding=half-even\nscale-rule=...\n...": what a journal records of it.
std::string settings_text(const QuantizerVariant& v);

// The weight or activation spec of `bits` and a granularity name with the
// variant applied; validated (errors name --w-bits/--w-granularity or
// --a-bits/--a-granularity, and --act-scale).
QuantSpec weight_spec(int bits, const std::string& granularity, const QuantizerVariant& v);
QuantSpec activation_spec(int bits, const std::string& granularity, const std::string& act_scale,
                          const QuantizerVariant& v);

}  // namespace sqsim::cli
