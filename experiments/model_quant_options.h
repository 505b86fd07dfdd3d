#pragma once
// The options that choose how a whole model is quantized (--quant PRESET and
// field-by-field overrides), shared by `sqsim ppl`, `sqsim paper-tables` and
// anything else that runs a quantized model.
#include <string>

#include "experiments/cli.h"
#include "quant/model_quant_config.h"

namespace sqsim::cli {

// --quant, --w-bits, --w-granularity, --a-bits, --a-granularity, --act-scale,
// --smooth, --smooth-all, --quantize-bmm, --kv-int8, --layers and the
// quantizer variants (--rounding, --scale-rule, ...).
void add_model_quant_options(po::options_description& d);

// The preset named by --quant with every override the user gave applied;
// validated.
ModelQuantConfig model_quant_config(const po::variables_map& vm);

// Lists the presets and their sources (for --help).
std::string preset_help();

}  // namespace sqsim::cli
