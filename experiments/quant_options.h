#pragma once
// The quantizer options every subcommand shares (bits, granularity, rounding,
// scale rule, clamp, static/dynamic), declared once and turned into QuantSpecs.
#include <string>

#include "experiments/cli.h"
#include "quant/quant_spec.h"

namespace sqsim::cli {

// Adds --rounding, --scale-rule, --clamp, --seed, --w-symmetric, --a-symmetric.
void add_quantizer_variant_options(po::options_description& d);

// Builds the weight or activation spec from bits, a granularity name and the
// variant options in vm.
QuantSpec weight_spec(int bits, const std::string& granularity, const po::variables_map& vm);
QuantSpec activation_spec(int bits, const std::string& granularity, const std::string& act_scale,
                          const po::variables_map& vm);

}  // namespace sqsim::cli
