#pragma once
// Puts a ModelQuantConfig into a float model: SmoothQuant smoothing folded
// into the norms (quant/smoothing.h), every selected linear layer replaced by
// a QuantizedLinear, and the attention-matmul hooks when the BMMs or the KV
// cache are quantized. Calibration statistics come from sim/eval/calibration.h.
#include <map>
#include <string>
#include <vector>

#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/weight_search.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

struct QuantizeModelOptions {
  kernels::EmulationMode mode = kernels::EmulationMode::kInteger;
  kernels::KernelPath path = kernels::KernelPath::kAuto;
  // Per smoothing group (keyed by the norm's HF path): α replacing config.alpha.
  std::map<std::string, float> alpha_per_group;
  // GPTQ's weights or AWQ's scales and clips (sim/eval/weight_search.h):
  // required when config.weight_method is not round-to-nearest.
  const WeightSearchResult* weight_search = nullptr;
};

struct SmoothingRecord {
  std::string norm;                 // or the layer, for run-time smoothing
  std::vector<std::string> layers;
  float alpha = 0;
  float act_absmax_before = 0, act_absmax_after = 0;  // max over channels
  float weight_absmax_before = 0, weight_absmax_after = 0;
};

struct QuantizeModelReport {
  std::vector<std::string> quantized;  // layers replaced by QuantizedLinear
  int integer_layers = 0;              // of those, how many run the integer kernels
  std::vector<SmoothingRecord> smoothing;
};

// The linear layers `config.layers` (comma-separated fnmatch globs, blanks
// around each removed) selects among the model's, in the model's order; an
// empty item in the list, or a list that selects nothing, is refused naming
// --layers. lm_head is selected only by its exact name.
std::vector<std::string> selected_layers(const CausalLm& model, const ModelQuantConfig& config);

// `stats` (calibration of the float model) is needed for smoothing and static
// activation scales; throws naming what is missing otherwise. The model must
// still be float (every linear a FloatLinear).
QuantizeModelReport quantize_model(CausalLm& model, const ModelQuantConfig& config, const CalibrationStats* stats,
                                   const QuantizeModelOptions& options = {});

// SmoothQuant smoothing factors of one group from calibration statistics.
VectorF group_smoothing_factors(const CausalLm& model, const SmoothGroup& group, const CalibrationStats& stats,
                                float alpha);

// Per-layer α: for each smoothing group, the α of `grid` that minimizes the
// group's relative output error sum ||Y' - Y||² / sum ||Y||² on the calibration
// sample rows (stats[...].sample), Y' computed with config's quantizers
// (ties: the smaller α). Keyed by the norm's HF path.
std::map<std::string, float> search_alpha_per_group(const CausalLm& model, const ModelQuantConfig& config,
                                                    const CalibrationStats& stats, const std::vector<float>& grid,
                                                    const QuantizeModelOptions& options = {});

}  // namespace sqsim
