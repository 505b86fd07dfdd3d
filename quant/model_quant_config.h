#pragma once
// How a whole model is quantized, as data: the weight and activation
// quantizers of its linear layers, SmoothQuant smoothing, the attention
// matmuls and the KV cache. The named presets (`--quant NAME`) are defined
// here and in docs/quantization.md ("Model presets"), each with its source.
#include <string>
#include <vector>

#include "quant/bmm_scheme.h"
#include "quant/observers.h"
#include "quant/quant_spec.h"
#include "quant/smoothing.h"

namespace sqsim {

struct ModelQuantConfig {
  std::string name = "fp";  // the preset it started from (overrides keep it)
  QuantSpec weight;         // bits 16 = float weights
  QuantSpec act;            // bits 16 = float activations (W4A16)
  // SmoothQuant smoothing of the layers that read a norm's output (q/k/v and
  // gate/up for Llama; q/k/v and fc1 for OPT), folded into the norm.
  bool smooth = false;
  Alpha alpha = 0.5f;
  // Also smooth o_proj and down_proj / fc2, whose inputs have no norm to fold
  // into: X / s is then applied at run time before quantization.
  bool smooth_all = false;
  // Mixture-of-experts models: the experts' w1/w3 smoothed with each expert's
  // own routed tokens, divided at run time (--moe-stats routed), instead of
  // every token's statistics folded into the norm (docs/quantization.md,
  // "Mixture of experts").
  bool moe_routed_stats = false;
  // The attention matmuls' operands (quant/bmm_scheme.h).
  BmmScheme bmm;
  // K and V stored as int8, per token and head (symmetric, dynamic).
  bool kv_int8 = false;
  // Static activation scales: the calibration observer that picks the clip
  // (quant/observers.h; absmax = the range statistics' own maximum).
  ObserverSpec act_observer;
  // Outlier Suppression (Wei et al. 2022): the norm's gamma moved into the
  // following linear weights (gamma migration), and static per-tensor
  // activation clips from token-wise clipping (the token_clip_quantile of the
  // per-token maxima, refined by the layer output error).
  bool gamma_migration = false;
  bool token_clipping = false;
  double token_clip_quantile = 0.99;
  // LLM.int8() (kernels/llm_int8.h): the input columns where some |x| reaches
  // the threshold are multiplied in float, the rest in int8 (per-channel int8
  // weights, per-token dynamic int8 activations).
  bool llm_int8 = false;
  float llm_int8_threshold = 6.0f;
  bool llm_int8_fp16 = false;  // round the float part's factors to float16 first
  // Comma-separated globs (fnmatch) over HF module paths of the linear layers
  // to quantize. lm_head stays float unless a glob names it without wildcards.
  std::string layers = "*";
  // Comma-separated globs over the quantized layers whose weights keep 8 bits
  // (same granularity and symmetry) while the others have `weight.bits` < 8:
  // mixed precision for 4-bit presets ("" = none). GPTQ's weights are not
  // used for these layers (round-to-nearest at 8 bits); AWQ's scales and
  // clips stay as searched.
  std::string w8_layers;
  // How 4-bit weights are chosen (docs/quantization.md, "GPTQ on a whole
  // model", "AWQ"): round-to-nearest, GPTQ from each layer's Hessian, or AWQ
  // scales and clips searched before round-to-nearest. Both need the weight
  // search calibration (sim/eval/weight_calibration.h).
  enum class WeightMethod { kRtn, kGptq, kAwq };
  WeightMethod weight_method = WeightMethod::kRtn;
  double gptq_damp = 0.01;      // share of the mean Hessian diagonal added to it, > 0
  bool gptq_act_order = false;  // columns by decreasing Hessian diagonal
  int awq_grid = 20;            // r = j / awq_grid, j = 0 .. awq_grid - 1
  // GPTQ's Hessians from the float model's inputs, or block by block from the
  // outputs of the already quantized blocks (gptq.py's llama.py: the default).
  enum class GptqInputs { kSequential, kFloat };
  GptqInputs gptq_inputs = GptqInputs::kSequential;
  // AWQ's objective for the norm groups (q/k/v, gate/up): the attention / MLP
  // module's output (llm-awq: the default) or the group's own linear outputs.
  enum class AwqObjective { kModule, kLinear };
  AwqObjective awq_objective = AwqObjective::kModule;

  bool quantizes_anything() const {
    return weight.enabled() || act.enabled() || bmm.enabled() || kv_int8 || llm_int8;
  }
  // Throws sqsim::Error naming the field on an impossible combination.
  void validate() const;
  // One line for reports: "w8 per-channel / a8 per-token dynamic, smooth alpha=0.5".
  std::string describe() const;
};

// The presets, in table order.
std::vector<std::string> preset_names();
// Throws sqsim::Error listing the names when `name` is unknown.
ModelQuantConfig preset_config(const std::string& name);
// One sentence: what the preset is and where it comes from.
std::string preset_source(const std::string& name);
// "rtn", "gptq", "awq".
std::string weight_method_name(ModelQuantConfig::WeightMethod m);

}  // namespace sqsim
