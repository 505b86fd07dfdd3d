#include "quant/model_quant_config.h"

#include <cmath>
#include <sstream>

#include "base/error.h"

namespace sqsim {

namespace {

QuantSpec int_spec(int bits, bool symmetric, const std::string& granularity, TensorRole role) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  parse_granularity(granularity, role, s);
  return s;
}
QuantSpec weights(int bits, bool symmetric, const std::string& g) {
  return int_spec(bits, symmetric, g, TensorRole::kWeight);
}
QuantSpec acts(const std::string& g, ScaleSource source = ScaleSource::kDynamic) {
  QuantSpec s = int_spec(8, true, g, TensorRole::kActivation);
  s.source = source;
  return s;
}
QuantSpec none() {
  QuantSpec s;
  s.bits = 16;
  return s;
}

struct Preset {
  const char* name;
  const char* source;
  ModelQuantConfig (*make)();
};

ModelQuantConfig base(const char* name, QuantSpec w, QuantSpec a, bool smooth) {
  ModelQuantConfig c;
  c.name = name;
  c.weight = w;
  c.act = a;
  c.smooth = smooth;
  return c;
}

ModelQuantConfig weight_method(const char* name, const std::string& groups, ModelQuantConfig::WeightMethod m) {
  ModelQuantConfig c = base(name, weights(4, false, groups), none(), false);
  c.weight_method = m;
  return c;
}

// Group size of the 4-bit presets is part of the name; SmolLM2's 576-wide
// inputs give ragged last groups for 128 and 256 (docs/quantization.md).
const Preset kPresets[] = {
    {"fp", "the float32 model (GGUF weights dequantized at load): the baseline of every table",
     [] { return base("fp", none(), none(), false); }},
    {"w8a8", "SmoothQuant paper, Table 4 'W8A8': naive int8, per-tensor weights, per-tensor dynamic activations",
     [] { return base("w8a8", weights(8, true, "per-tensor"), acts("per-tensor"), false); }},
    {"zeroquant",
     "ZeroQuant (Yao et al. 2022) as in SmoothQuant Table 4: group-wise int8 weights (groups of 64), per-token "
     "dynamic int8 activations",
     [] { return base("zeroquant", weights(8, true, "group64"), acts("per-token"), false); }},
    {"sq-o1", "SmoothQuant-O1 (paper Table 3): smoothing, per-tensor weights, per-token dynamic activations",
     [] { return base("sq-o1", weights(8, true, "per-tensor"), acts("per-token"), true); }},
    {"sq-o2", "SmoothQuant-O2: smoothing, per-tensor weights, per-tensor dynamic activations",
     [] { return base("sq-o2", weights(8, true, "per-tensor"), acts("per-tensor"), true); }},
    {"sq-o3", "SmoothQuant-O3: smoothing, per-tensor weights, per-tensor static activations (calibrated)",
     [] { return base("sq-o3", weights(8, true, "per-tensor"), acts("per-tensor", ScaleSource::kStatic), true); }},
    {"w8a8-pc",
     "mit-han-lab/smoothquant's Llama evaluation setting without smoothing: per-channel int8 weights, per-token "
     "dynamic int8 activations",
     [] { return base("w8a8-pc", weights(8, true, "per-channel"), acts("per-token"), false); }},
    {"sq-w8a8-pc", "the same with SmoothQuant smoothing (mit-han-lab/smoothquant's Llama setting)",
     [] { return base("sq-w8a8-pc", weights(8, true, "per-channel"), acts("per-token"), true); }},
    {"w4a16-g64", "round-to-nearest asymmetric 4-bit weights in groups of 64, float activations",
     [] { return base("w4a16-g64", weights(4, false, "group64"), none(), false); }},
    {"w4a16-g128", "round-to-nearest asymmetric 4-bit weights in groups of 128 (SmoothQuant+'s baseline)",
     [] { return base("w4a16-g128", weights(4, false, "group128"), none(), false); }},
    {"w4a16-g256", "round-to-nearest asymmetric 4-bit weights in groups of 256",
     [] { return base("w4a16-g256", weights(4, false, "group256"), none(), false); }},
    {"sqplus-g64", "SmoothQuant+ (Pan et al. 2023): smoothing, then asymmetric 4-bit weights in groups of 64",
     [] { return base("sqplus-g64", weights(4, false, "group64"), none(), true); }},
    {"sqplus-g128", "SmoothQuant+: smoothing, then asymmetric 4-bit weights in groups of 128 (the paper's setting)",
     [] { return base("sqplus-g128", weights(4, false, "group128"), none(), true); }},
    {"sqplus-g256", "SmoothQuant+: smoothing, then asymmetric 4-bit weights in groups of 256",
     [] { return base("sqplus-g256", weights(4, false, "group256"), none(), true); }},
    {"llm-int8",
     "LLM.int8() (Dettmers et al. 2022, SmoothQuant Table 4): per-channel int8 weights, per-token int8 "
     "activations, input columns with some |x| >= 6 multiplied in float",
     [] {
       ModelQuantConfig c = base("llm-int8", weights(8, true, "per-channel"), acts("per-token"), false);
       c.llm_int8 = true;
       return c;
     }},
    {"sq-llm-int8",
     "SmoothQuant + LLM.int8(): smoothing first, then the decomposition (fewer columns reach the threshold)",
     [] {
       ModelQuantConfig c = base("sq-llm-int8", weights(8, true, "per-channel"), acts("per-token"), true);
       c.llm_int8 = true;
       return c;
     }},
    {"outlier-suppression",
     "Outlier Suppression (Wei et al. 2022, SmoothQuant Table 4): gamma migration, per-tensor int8 weights, "
     "per-tensor static int8 activations clipped token-wise (0.99 quantile of token maxima, refined by output error)",
     [] {
       ModelQuantConfig c = base("outlier-suppression", weights(8, true, "per-tensor"),
                                 acts("per-tensor", ScaleSource::kStatic), false);
       c.gamma_migration = true;
       c.token_clipping = true;
       return c;
     }},
    {"w4a8-sq",
     "smoothing, asymmetric 4-bit weights in groups of 128, per-token dynamic int8 activations (W4A8 through the "
     "int8 x int4 kernel)",
     [] { return base("w4a8-sq", weights(4, false, "group128"), acts("per-token"), true); }},
    {"gptq-g64", "GPTQ (Frantar et al. 2022): asymmetric 4-bit weights in groups of 64 from each layer's Hessian",
     [] { return weight_method("gptq-g64", "group64", ModelQuantConfig::WeightMethod::kGptq); }},
    {"gptq-g128", "GPTQ: asymmetric 4-bit weights in groups of 128 (damping 0.01, blocks of 128)",
     [] { return weight_method("gptq-g128", "group128", ModelQuantConfig::WeightMethod::kGptq); }},
    {"gptq-g256", "GPTQ: asymmetric 4-bit weights in groups of 256",
     [] { return weight_method("gptq-g256", "group256", ModelQuantConfig::WeightMethod::kGptq); }},
    {"awq-g64",
     "AWQ (Lin et al. 2023) as mit-han-lab/llm-awq: searched scales mean|x|^r and clips, then asymmetric 4-bit "
     "weights in groups of 64",
     [] { return weight_method("awq-g64", "group64", ModelQuantConfig::WeightMethod::kAwq); }},
    {"awq-g128", "AWQ: searched scales and clips, asymmetric 4-bit weights in groups of 128 (llm-awq's setting)",
     [] { return weight_method("awq-g128", "group128", ModelQuantConfig::WeightMethod::kAwq); }},
    {"awq-g256", "AWQ: searched scales and clips, asymmetric 4-bit weights in groups of 256",
     [] { return weight_method("awq-g256", "group256", ModelQuantConfig::WeightMethod::kAwq); }},
    {"w4a8-sq-awq",
     "SmoothQuant + AWQ (W4A8): per-group scale searched over SmoothQuant's alpha and AWQ's r with int4 group "
     "weights and per-token int8 activations in the loop, through the int8 x int4 kernel",
     [] {
       ModelQuantConfig c = base("w4a8-sq-awq", weights(4, false, "group128"), acts("per-token"), false);
       c.weight_method = ModelQuantConfig::WeightMethod::kAwq;
       return c;
     }},
};

std::string spec_text(const QuantSpec& s, TensorRole role) {
  if (!s.enabled()) return "float";
  std::string t = std::to_string(s.bits) + "-bit " + (s.symmetric ? "sym " : "asym ") + granularity_name(s, role);
  if (role == TensorRole::kActivation) t += " " + scale_source_name(s.source);
  return t;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const Preset& p : kPresets) out.push_back(p.name);
  return out;
}

ModelQuantConfig preset_config(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p.make();
  std::string all;
  for (const Preset& p : kPresets) all += std::string(all.empty() ? "" : ", ") + p.name;
  throw Error("--quant '" + name + "': unknown preset (expected one of " + all + ")");
}

std::string preset_source(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p.source;
  return "custom configuration";
}

std::string weight_method_name(ModelQuantConfig::WeightMethod m) {
  switch (m) {
    case ModelQuantConfig::WeightMethod::kRtn: return "rtn";
    case ModelQuantConfig::WeightMethod::kGptq: return "gptq";
    case ModelQuantConfig::WeightMethod::kAwq: return "awq";
  }
  return "?";
}

void ModelQuantConfig::validate() const {
  bmm.validate();
  if (weight.enabled()) weight.validate("weights of --quant " + name);
  if (act.enabled()) {
    act.validate("activations of --quant " + name);
    if (!weight.enabled())
      throw Error("--quant " + name + ": quantized activations with float weights are not supported (expected "
                  "--w-bits 2..8 or --a-bits 16)");
    if (act.source == ScaleSource::kStatic &&
        act.granularity != Granularity::kPerTensor && act.granularity != Granularity::kPerColumn)
      throw Error("--quant " + name + ": static activation scales need per-tensor or per-channel granularity");
  }
  if (act_observer.kind != ObserverKind::kAbsmax) {
    if (!act.enabled() || act.source != ScaleSource::kStatic || act.granularity != Granularity::kPerTensor ||
        !act.symmetric)
      throw Error("--observer " + observer_name(act_observer) + ": observers pick static symmetric per-tensor "
                  "activation scales, and --quant " + name + " has none (try sq-o3, or --act-scale static)");
  }
  if (token_clipping) {
    if (!act.enabled() || act.source != ScaleSource::kStatic || act.granularity != Granularity::kPerTensor ||
        !act.symmetric)
      throw Error("--quant " + name + ": token-wise clipping sets static symmetric per-tensor activation scales");
    if (act_observer.kind != ObserverKind::kAbsmax)
      throw Error("--observer " + observer_name(act_observer) + ": --quant " + name +
                  " picks its clips by token-wise clipping");
    if (!(token_clip_quantile > 0 && token_clip_quantile <= 1))
      throw Error("--token-clip-quantile " + std::to_string(token_clip_quantile) + ": expected a number in (0, 1]");
  }
  if (!w8_layers.empty() && !(weight.enabled() && weight.bits < 8))
    throw Error("--w8-layers: --quant " + name + " has no weights below 8 bits to raise to 8");
  if (gamma_migration && smooth)
    throw Error("--quant " + name + ": gamma migration and SmoothQuant smoothing both rescale the norms; pick one");
  if (llm_int8) {
    const bool w_ok = weight.bits == 8 && weight.symmetric && weight.granularity == Granularity::kPerRow;
    const bool a_ok = act.bits == 8 && act.symmetric && act.granularity == Granularity::kPerRow &&
                      act.source == ScaleSource::kDynamic;
    if (!w_ok || !a_ok)
      throw Error("--quant " + name + ": LLM.int8() needs per-channel int8 weights and per-token dynamic int8 "
                  "activations");
    if (!(llm_int8_threshold > 0) || !std::isfinite(llm_int8_threshold))
      throw Error("--llm-int8-threshold " + std::to_string(llm_int8_threshold) + ": expected a positive number");
    if (smooth_all) throw Error("--smooth-all: not supported with LLM.int8() (no run-time divisor in its layers)");
  }
  if (smooth && !alpha) throw Error("--quant " + name + ": smoothing needs an alpha (not 'none')");
  if (smooth_all && !smooth) throw Error("--smooth-all needs smoothing (a preset with smoothing or --smooth true)");
  if (moe_routed_stats && !smooth)
    throw Error("--moe-stats routed needs smoothing (a preset with smoothing or --smooth true)");
  if (layers.empty()) throw Error("--layers: empty glob list");
  if (weight_method != WeightMethod::kRtn) {
    const std::string m = weight_method_name(weight_method);
    if (!weight.enabled() || weight.symmetric || weight.granularity != Granularity::kPerGroup)
      throw Error("--quant " + name + ": " + m + " chooses asymmetric group-wise weights (expected --w-granularity "
                  "group<G> and asymmetric weights)");
    if (llm_int8 || gamma_migration || token_clipping)
      throw Error("--quant " + name + ": " + m + " does not combine with LLM.int8() or Outlier Suppression");
    if (weight_method == WeightMethod::kAwq && act.enabled() && act.source == ScaleSource::kStatic)
      throw Error("--quant " + name + ": the AWQ W4A8 search measures dynamic activation scales (expected "
                  "--act-scale dynamic)");
    if (weight_method == WeightMethod::kGptq && act.enabled())
      throw Error("--quant " + name + ": GPTQ here is weight-only (expected --a-bits 16)");
    if (weight_method == WeightMethod::kAwq && smooth)
      throw Error("--quant " + name + ": AWQ scales and SmoothQuant smoothing both rescale the norms; pick one");
  }
  if (!(gptq_damp > 0) || !std::isfinite(gptq_damp))
    throw Error("--gptq-damp " + std::to_string(gptq_damp) + ": expected a positive share of the mean Hessian "
                "diagonal (GPTQ uses 0.01)");
  if (awq_grid < 1) throw Error("--awq-grid " + std::to_string(awq_grid) + ": expected at least 1");
}

std::string ModelQuantConfig::describe() const {
  std::ostringstream o;
  o << "W: " << spec_text(weight, TensorRole::kWeight) << "; A: " << spec_text(act, TensorRole::kActivation);
  if (smooth) o << "; smoothing alpha=" << alpha_name(alpha) << (smooth_all ? " (all layers)" : "");
  if (moe_routed_stats) o << "; MoE experts smoothed with routed statistics";
  if (gamma_migration) o << "; gamma migration";
  if (token_clipping) o << "; token-wise clipping (quantile " << token_clip_quantile << ")";
  if (act_observer.kind != ObserverKind::kAbsmax) o << "; observer " << observer_name(act_observer);
  if (llm_int8)
    o << "; LLM.int8() threshold " << llm_int8_threshold << (llm_int8_fp16 ? " (fp16 outlier product)" : "");
  if (bmm.enabled()) o << "; BMM " << bmm.describe();
  if (kv_int8) o << "; int8 KV";
  if (weight_method == WeightMethod::kGptq)
    o << "; GPTQ damp " << gptq_damp << (gptq_act_order ? " act-order" : "")
      << (gptq_inputs == GptqInputs::kFloat ? ", float inputs" : ", sequential inputs");
  if (weight_method == WeightMethod::kAwq)
    o << (act.enabled() ? "; scales searched (SmoothQuant alpha or AWQ r, grid " : "; AWQ scales (grid ") << awq_grid
      << (act.enabled() ? "" : awq_objective == AwqObjective::kLinear ? ", linear outputs" : ", module outputs")
      << (act.enabled() ? ") with W4A8 in the loop" : ") and clips");
  if (layers != "*") o << "; layers " << layers;
  if (!w8_layers.empty()) o << "; 8-bit weights " << w8_layers;
  return o.str();
}

}  // namespace sqsim
