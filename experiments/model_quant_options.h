#pragma once
// The options that choose how a whole model is quantized (--quant PRESET and
// field-by-field overrides), shared by `sqsim ppl`, `sqsim paper-tables` and
// anything else that runs a quantized model.
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/quant_eval.h"
#include "quant/model_quant_config.h"

namespace sqsim::cli {

// --quant, --w-bits, --w-granularity, --a-bits, --a-granularity, --act-scale,
// --smooth, --smooth-all, --bmm and --bmm-* (--quantize-bmm), --kv-int8, --layers and the
// quantizer variants (--rounding, --scale-rule, ...).
void add_model_quant_options(po::options_description& d);

// The preset named by --quant with every override the user gave applied;
// validated.
ModelQuantConfig model_quant_config(const po::variables_map& vm);
// The same for `preset` instead of --quant's value (commands that take a list
// of presets apply the same overrides to each).
ModelQuantConfig model_quant_config(const po::variables_map& vm, const std::string& preset);

// A preset file (`--quant FILE`; docs/quantization.md, "Preset files"):
// 'name = value' lines, '#' comments; 'preset = NAME' names the named preset
// it starts from, every other name is a --quant override without its dashes
// (w-bits, layers, w8-layers, ...). The config's name is the file's stem.
// Errors name the file and line.
ModelQuantConfig preset_file_config(const std::string& path);
// The preset-file lines that make what --quant and the overrides in `vm` say,
// but --layers / --w8-layers (whoever writes the file adds those).
std::string preset_file_lines(const po::variables_map& vm);

// --calib-text, --calib-samples, --calib-seq-len, --holdout-tokens,
// --alpha-grid: how quantized models are calibrated. With add_run_options'
// --mode and --kernel, what eval_options reads.
void add_eval_options(po::options_description& d);
EvalOptions eval_options(const po::variables_map& vm, const std::string& model);
// "0:1:0.05,0.85" -> values in [0, 1] ('none' refused).
std::vector<float> parse_alpha_grid(const std::string& text, const std::string& option);

// Lists the presets and their sources (for --help).
std::string preset_help();

}  // namespace sqsim::cli
