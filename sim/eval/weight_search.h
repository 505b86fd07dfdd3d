#pragma once
// The model-level weight searches of the 4-bit presets: GPTQ per layer from
// its input's Hessian, AWQ scales per group of layers sharing an input and
// clips per layer (docs/quantization.md, "GPTQ on a whole model", "AWQ"). The
// result is data that quantize_model (sim/eval/quantize_model.h) applies, so
// a search can be timed, reported and reused apart from building the model.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/quantized_linear.h"
#include "quant/model_quant_config.h"
#include "quant/quantize.h"
#include "sim/eval/weight_calibration.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

// One AWQ scale: folded into `prev` (a norm, or the linear layer before
// `layers`: its output rows divided) and into the columns of `layers`.
struct AwqGroupScale {
  std::string prev;
  bool prev_is_norm = true;
  std::vector<std::string> layers;
  float ratio = 0;              // r of AWQ's form, or alpha when smoothquant_form
  bool smoothquant_form = false;  // w4a8-sq-awq only: the SmoothQuant candidate won
  VectorF scales;
  std::vector<double> losses;  // per candidate (w4a8-sq-awq: the alphas, then the r)
};

struct WeightSearchResult {
  ModelQuantConfig::WeightMethod method = ModelQuantConfig::WeightMethod::kRtn;
  std::vector<AwqGroupScale> awq_scales;    // in block order (the order they are folded)
  std::map<std::string, MatrixF> awq_clip;  // layer -> [N, G] clip maxima
  std::map<std::string, QuantizedMatrix> gptq;  // layer -> GPTQ's codes
  std::map<std::string, double> gptq_loss;
};

struct WeightSearchOptions {
  kernels::EmulationMode mode = kernels::EmulationMode::kInteger;  // w4a8-sq-awq's W4A8 products
  kernels::KernelPath path = kernels::KernelPath::kAuto;
  std::function<void(const std::string&)> warn;      // e.g. fewer search tokens than columns
  std::function<void(size_t, size_t)> progress;      // (layers or groups done, total)
};

// What the calibration pass must keep for `config`'s method.
WeightCalibrationOptions weight_calibration_needs(const ModelQuantConfig& config, long sample_rows);

// The search of config.weight_method on the float model (not modified).
// `layers` as selected_layers gives them.
WeightSearchResult search_weights(const CausalLm& model, const ModelQuantConfig& config,
                                  const std::vector<std::string>& layers, const WeightCalibration& cal,
                                  const WeightSearchOptions& options = {});

// AWQ's weight side: each group's s into the weights of `layers` (columns
// times s) and, for a linear `prev`, its rows divided by s. Norms are the
// caller's (CausalLm::divide_norm).
void apply_awq_scales(std::map<std::string, MatrixF>& weights, const std::vector<AwqGroupScale>& groups);

}  // namespace sqsim
