#pragma once
// The quantizer variant options every subcommand shares (--rounding,
// --scale-rule, --clamp, --seed, --w-symmetric, --a-symmetric), declared once.
#include "experiments/cli.h"
#include "experiments/quant_variant.h"
#include "experiments/sweep.h"

namespace sqsim::cli {

void add_quantizer_variant_options(po::options_description& d);
// What those options say (names parsed, errors naming the option).
QuantizerVariant quantizer_variant(const po::variables_map& vm);

// --alpha, --w-bits, --a-bits, --w-granularity, --a-granularity, --act-scale
// (lists) and the quantizer variants: the axes of a sweep.
void add_sweep_grid_options(po::options_description& d);
SweepGrid sweep_grid(const po::variables_map& vm);

}  // namespace sqsim::cli
