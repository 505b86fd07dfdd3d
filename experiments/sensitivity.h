#pragma once
// `sqsim sensitivity` as a library function: which parts of a model cost a
// preset its accuracy. For each unit (a linear layer, a group of layers that
// read one input, or a transformer block) the preset is applied to that unit
// alone with the rest in float ("only"), and to everything but that unit
// ("all but"); each model's KL divergence against the float model (computed
// once, kept in memory) and perplexity ± stderr over a fixed token budget.
// One calibration serves every unit (QuantEvaluator caches it). Ranked table
// (Markdown, LaTeX, CSV) and an SVG plot; every measurement journaled, so
// --resume measures only what is missing.
#include <string>
#include <vector>

#include "experiments/quant_eval.h"
#include "experiments/run_options.h"
#include "sim/eval/kl_divergence.h"

namespace sqsim::cli {

struct SensitivityUnit {
  std::string name;                 // "model.layers.3" (block), "model.layers.3.self_attn.qkv" (group), a layer
  std::vector<std::string> layers;  // its linear layers, in model order
};
// The units of `kind` ("layer", "group", "block") over `layers` (model order).
// group: the layers of one block that read the same input (q/k/v, gate/up;
// every other layer alone). block: the layers under "...layers.N.". Layers
// outside any block (lm_head) are their own unit. Errors name --unit.
std::vector<SensitivityUnit> sensitivity_units(const std::vector<std::string>& layers, const std::string& kind);

// One model's distance from the float model over the budget.
struct SensitivityScore {
  KlStats kl;
  MeanStderr ppl;
  double seconds = 0;
};
// The journal record of a score (mean KL, its stderr, median, p99, max,
// same-top-1, its stderr, ppl, its stderr, seconds last) and back.
std::vector<std::string> score_fields(const SensitivityScore& s);
SensitivityScore score_from_fields(const std::vector<std::string>& f, const std::string& where);

struct SensitivityJob {
  EvalOptions eval;
  int threads = 0;
  std::string text;
  int seq_len = 512;
  long max_tokens = 4096;
  ModelQuantConfig config;  // the preset (its --layers: which layers may be quantized at all)
  std::string unit = "block";
  bool reverse = true;  // also "all but" each unit
  // Mixed precision (0: off): greedy by the "only" ranking, the fewest units
  // kept in float for the whole model's KL <= target_kl and / or its
  // perplexity / the float model's <= target_ppl_ratio. Written as
  // mixed_precision.md, mixed_precision.preset (a `--quant FILE` preset
  // file) and, kept in float, mixed_precision.layers (a --layers value).
  double target_kl = 0, target_ppl_ratio = 0;
  bool keep_8bit = false;   // keep units at 8-bit weights instead of float (4-bit presets)
  std::string preset_lines;  // the preset and its overrides as preset-file lines (mixed_precision.preset)
  OutputOptions output;  // a directory
  std::string settings;  // options as given (the journal's settings)
  std::string command;   // as typed, for provenance
};

int run_sensitivity_job(const SensitivityJob& job);

}  // namespace sqsim::cli
