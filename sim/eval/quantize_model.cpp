#include "sim/eval/quantize_model.h"

#include <fnmatch.h>

#include <algorithm>
#include <limits>
#include <set>

#include "base/error.h"
#include "base/str.h"
#include "quant/awq.h"
#include "quant/error_metrics.h"
#include "quant/scales.h"
#include "quant/smoothing.h"
#include "quant/observers.h"
#include "sim/models/llm_int8_layer.h"
#include "sim/models/mixtral_model.h"
#include "sim/models/quantized_attention.h"
#include "sim/models/quantized_linear_layer.h"

namespace sqsim {

namespace {

const FloatLinear& float_layer(const CausalLm& m, const std::string& name) {
  const auto* f = dynamic_cast<const FloatLinear*>(&m.linear(name));
  if (!f) throw Error(name + ": already replaced (quantize a freshly loaded float model)");
  return *f;
}

const LayerInputStats& stats_of(const CalibrationStats& stats, const std::string& name) {
  const auto it = stats.find(name);
  if (it == stats.end() || it->second.tokens == 0)
    throw Error(name + ": no calibration statistics for this layer's input");
  return it->second;
}

// Static activation parameters from the (smoothed) calibration range; with an
// observer other than absmax, the per-tensor clip it picks from the
// histogram of the (smoothed) calibration sample rows.
QuantParams static_params(const LayerInputStats& s, const VectorF& divisor, const QuantSpec& spec,
                          const ObserverSpec& observer, const std::string& name) {
  if (observer.kind != ObserverKind::kAbsmax) {
    if (s.sample.rows() == 0)
      throw Error(name + ": --observer " + observer_name(observer) + " needs calibration sample rows");
    AbsHistogram h(observer.bins);
    MatrixF x = s.sample;
    if (divisor.size()) x.array().rowwise() /= divisor.transpose().array();
    for (long r = 0; r < x.rows(); ++r) h.add(x.row(r).data(), x.cols(), name + " calibration sample");
    const float c = observer_clip(h, observer, spec.bits);
    RangeStats r;
    r.absmax = {c};
    r.min = {-c};
    r.max = {c};
    return params_from_range(r, spec);
  }
  VectorF absmax = s.absmax, mn = s.min, mx = s.max;
  if (divisor.size()) {
    // A negative divisor (gamma migration of a negative gamma) swaps min and max.
    absmax.array() /= divisor.array().abs();
    const VectorF a = mn.array() / divisor.array(), b = mx.array() / divisor.array();
    mn = a.cwiseMin(b);
    mx = a.cwiseMax(b);
  }
  RangeStats r;
  if (spec.granularity == Granularity::kPerTensor) {
    r.absmax = {absmax.maxCoeff()};
    r.min = {mn.minCoeff()};
    r.max = {mx.maxCoeff()};
  } else {  // per input channel
    r.absmax.assign(absmax.data(), absmax.data() + absmax.size());
    r.min.assign(mn.data(), mn.data() + mn.size());
    r.max.assign(mx.data(), mx.data() + mx.size());
  }
  return params_from_range(r, spec);
}

float abs_max(const MatrixF& m) { return m.size() ? m.cwiseAbs().maxCoeff() : 0.0f; }

QuantParams per_tensor_clip_params(float c, const QuantSpec& spec) {
  RangeStats r;
  r.absmax = {c};
  r.min = {-c};
  r.max = {c};
  return params_from_range(r, spec);
}

// Outlier Suppression's token-wise clipping of one input x shared by the
// layers `names` (weights `ws`, already migrated): the coarse clip (quantile
// of the per-token maxima), then the candidate with the smallest summed
// squared output error against the float layers (docs/quantization.md,
// "Outlier Suppression").
float token_clip(const MatrixF& x, const std::vector<const MatrixF*>& ws, const std::vector<std::string>& names,
                 const ModelQuantConfig& config, const QuantizeModelOptions& options) {
  const std::string what = names.front() + " calibration sample";
  const float c0 = token_quantile_clip(x, config.token_clip_quantile, what);
  const float top = x.cwiseAbs().maxCoeff();
  std::vector<float> candidates = {c0};
  for (int j = 0; j <= 40; ++j) candidates.push_back(0.5f * c0 + (top - 0.5f * c0) * float(j) / 40.0f);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::vector<MatrixF> ref;
  for (const MatrixF* w : ws) ref.push_back(x * w->transpose());
  float best = c0;
  double best_err = std::numeric_limits<double>::infinity();
  for (float c : candidates) {
    const QuantParams p = per_tensor_clip_params(c, config.act);
    double err = 0;
    for (size_t i = 0; i < ws.size(); ++i) {
      const MatrixF y = kernels::quantized_linear(x, *ws[i], nullptr, config.weight, config.act, &p, options.mode,
                                                  options.path, names[i])
                            .y;
      err += (y - ref[i]).cast<double>().squaredNorm();
    }
    if (err < best_err) {
      best_err = err;
      best = c;
    }
  }
  return best;
}

}  // namespace

namespace {

// The names matching a comma list of globs (fnmatch), in `names`' order;
// lm_head only when a glob names it exactly. Errors name `option`.
std::vector<std::string> matching(const std::vector<std::string>& names, const std::string& globs_text,
                                  const std::string& option, const std::string& of_what) {
  // The comma list as every list option is read (base/str.h): an empty item is refused.
  const std::vector<std::string> globs = split_list(globs_text, option);
  std::vector<std::string> out;
  for (const std::string& n : names) {
    for (const std::string& g : globs) {
      const bool explicit_name = g == n;
      if (explicit_name || (n != "lm_head" && fnmatch(g.c_str(), n.c_str(), 0) == 0)) {
        out.push_back(n);
        break;
      }
    }
  }
  if (out.empty()) throw Error(option + " '" + globs_text + "': matches no " + of_what);
  return out;
}

}  // namespace

std::vector<std::string> selected_layers(const CausalLm& model, const ModelQuantConfig& config) {
  return matching(model.linear_names(), config.layers, "--layers", "linear layer of the model");
}

namespace {

// The input statistics of the group's members that saw calibration tokens.
// In a dense model that is every member; an expert of a mixture of experts
// sees only the tokens routed to it, possibly none.
std::vector<const VectorF*> seen_act_absmax(const SmoothGroup& group, const CalibrationStats& stats) {
  std::vector<const VectorF*> acts;
  for (const std::string& n : group.layers)
    if (const auto it = stats.find(n); it != stats.end() && it->second.tokens > 0) acts.push_back(&it->second.absmax);
  return acts;
}

}  // namespace

VectorF group_smoothing_factors(const CausalLm& model, const SmoothGroup& group, const CalibrationStats& stats,
                                float alpha) {
  // The model adapter of smoothing_group_factors: the input statistics of
  // every member that saw tokens (one norm's output: equal, or for the experts
  // of a MoE block, each its routed part of it) and every member's weight.
  std::vector<const VectorF*> acts = seen_act_absmax(group, stats);
  if (acts.empty()) stats_of(stats, group.layers.front());  // throws, naming the layer
  std::vector<MatrixF> weights;  // unpacked copies (FloatLinear keeps the packed one only)
  for (const std::string& n : group.layers) weights.push_back(float_layer(model, n).weight());
  std::vector<const MatrixF*> ws;
  for (const MatrixF& w : weights) ws.push_back(&w);
  return smoothing_group_factors(acts, ws, alpha, group.norm);
}

namespace {

// What quantize_model decides before it builds the layers: the float weights
// after smoothing or gamma migration, what each input is divided by (and which
// of those divisions run at run time), and Outlier Suppression's clips.
struct Plan {
  std::map<std::string, MatrixF> weights;
  std::map<std::string, VectorF> biases;  // empty vector: no bias
  std::map<std::string, VectorF> divisor;
  std::map<std::string, VectorF> runtime;
  std::map<std::string, float> clip;
  std::set<std::string> changed;  // weights changed with no input divisor (AWQ's rows of up_proj)
  std::set<std::string> w8;       // quantized layers whose weights keep 8 bits (--w8-layers)
};

bool any_chosen(const std::vector<std::string>& layers, const std::set<std::string>& chosen) {
  return std::any_of(layers.begin(), layers.end(), [&](const std::string& n) { return chosen.count(n) > 0; });
}

// Folds s into the group's norm and weights (smoothing and gamma migration alike).
void fold_into_norm(CausalLm& model, Plan& plan, const SmoothGroup& g, const VectorF& s, SmoothingRecord& rec) {
  model.divide_norm(g.norm, s);
  for (const std::string& n : g.layers) {
    rec.weight_absmax_before = std::max(rec.weight_absmax_before, abs_max(plan.weights[n]));
    smooth_weight(plan.weights[n], s);
    rec.weight_absmax_after = std::max(rec.weight_absmax_after, abs_max(plan.weights[n]));
    plan.divisor[n] = s;
  }
}

// Outlier Suppression: s = gamma (1 where gamma is 0).
void migrate_gamma(CausalLm& model, Plan& plan, const std::set<std::string>& chosen, QuantizeModelReport& report) {
  for (const SmoothGroup& g : model.smooth_groups()) {
    if (!any_chosen(g.layers, chosen)) continue;
    VectorF s = model.norm_weight(g.norm);
    for (long c = 0; c < s.size(); ++c)
      if (s[c] == 0.0f) s[c] = 1.0f;
    SmoothingRecord rec{g.norm, g.layers, 0, 0, 0, 0, 0};
    fold_into_norm(model, plan, g, s, rec);
    report.smoothing.push_back(rec);
  }
}

float alpha_for(const std::string& key, const ModelQuantConfig& config, const QuantizeModelOptions& options) {
  const auto a = options.alpha_per_group.find(key);
  return a != options.alpha_per_group.end() ? a->second : *config.alpha;
}

// SmoothQuant: each group's s folded into its norm; with smooth_all, the
// inputs with no norm to fold into (o_proj, down_proj / fc2) divided at run time.
void smooth(CausalLm& model, Plan& plan, const std::vector<std::string>& chosen_list,
            const std::set<std::string>& chosen, const ModelQuantConfig& config, const CalibrationStats& stats,
            const QuantizeModelOptions& options, QuantizeModelReport& report) {
  std::set<std::string> grouped;
  for (const SmoothGroup& g : model.smooth_groups()) {
    grouped.insert(g.layers.begin(), g.layers.end());
    if (!any_chosen(g.layers, chosen)) continue;
    // A MoE expert no calibration token was routed to ("routed" statistics,
    // its own group) has nothing to smooth with: it is left as it is.
    if (seen_act_absmax(g, stats).empty() && g.norm.find(".experts.") != std::string::npos) continue;
    const float alpha = alpha_for(g.norm, config, options);
    const VectorF s = group_smoothing_factors(model, g, stats, alpha);
    SmoothingRecord rec{g.norm, g.layers, alpha, 0, 0, 0, 0};
    VectorF act = *seen_act_absmax(g, stats).front();
    for (const VectorF* a : seen_act_absmax(g, stats)) act = act.cwiseMax(*a);
    rec.act_absmax_before = act.maxCoeff();
    rec.act_absmax_after = (act.array() / s.array()).maxCoeff();
    fold_into_norm(model, plan, g, s, rec);
    report.smoothing.push_back(rec);
  }
  if (!config.smooth_all) return;
  for (const std::string& n : chosen_list) {
    if (grouped.count(n) || n == "lm_head") continue;
    const float alpha = alpha_for(n, config, options);
    const VectorF s = group_smoothing_factors(model, SmoothGroup{n, {n}}, stats, alpha);
    SmoothingRecord rec{n, {n}, alpha, 0, 0, abs_max(plan.weights[n]), 0};
    const VectorF& act = stats_of(stats, n).absmax;
    rec.act_absmax_before = act.maxCoeff();
    rec.act_absmax_after = (act.array() / s.array()).maxCoeff();
    smooth_weight(plan.weights[n], s);
    rec.weight_absmax_after = abs_max(plan.weights[n]);
    plan.divisor[n] = s;
    plan.runtime[n] = s;
    report.smoothing.push_back(rec);
  }
}

// Outlier Suppression's clips, one per input (a smoothing group's layers share one).
void clip_token_wise(const CausalLm& model, Plan& plan, const std::vector<std::string>& chosen_list,
                     const std::set<std::string>& chosen, const ModelQuantConfig& config,
                     const CalibrationStats& stats, const QuantizeModelOptions& options) {
  std::vector<std::vector<std::string>> inputs;
  std::set<std::string> grouped;
  for (const SmoothGroup& g : model.smooth_groups()) {
    std::vector<std::string> members;
    for (const std::string& n : g.layers)
      if (chosen.count(n)) members.push_back(n);
    if (!members.empty()) inputs.push_back(members);
    grouped.insert(g.layers.begin(), g.layers.end());
  }
  for (const std::string& n : chosen_list)
    if (!grouped.count(n)) inputs.push_back({n});
  for (const std::vector<std::string>& members : inputs) {
    const LayerInputStats& st = stats_of(stats, members.front());
    if (st.sample.rows() == 0) throw Error(members.front() + ": token-wise clipping needs calibration sample rows");
    MatrixF x = st.sample;
    const auto d = plan.divisor.find(members.front());
    if (d != plan.divisor.end()) x.array().rowwise() /= d->second.transpose().array();
    std::vector<const MatrixF*> ws;
    for (const std::string& n : members) ws.push_back(&plan.weights[n]);
    const float c = token_clip(x, ws, members, config, options);
    for (const std::string& n : members) plan.clip[n] = c;
  }
}

// AWQ: each group's s folded into its norm (or its preceding layer's rows)
// and its layers' columns, then the clips (docs/quantization.md, "AWQ").
void apply_awq(CausalLm& model, Plan& plan, const std::set<std::string>& chosen, const ModelQuantConfig& config,
               const WeightSearchResult& ws, QuantizeModelReport& report) {
  for (const AwqGroupScale& g : ws.awq_scales) {
    for (const std::string& n : g.layers)
      if (!chosen.count(n)) throw Error(n + ": the AWQ search scaled a layer --layers does not select");
    if (g.prev_is_norm) model.divide_norm(g.prev, g.scales);
    SmoothingRecord rec{g.prev, g.layers, g.ratio, 0, 0, 0, 0};
    for (const std::string& n : g.layers) rec.weight_absmax_before = std::max(rec.weight_absmax_before, abs_max(plan.weights[n]));
    apply_awq_scales(plan.weights, {g});
    for (const std::string& n : g.layers) {
      rec.weight_absmax_after = std::max(rec.weight_absmax_after, abs_max(plan.weights[n]));
      plan.divisor[n] = g.scales;
    }
    if (!g.prev_is_norm) {
      // The previous layer's output channels are divided by s: its bias too
      // (OPT's fc1 and v_proj have one).
      VectorF& b = plan.biases.at(g.prev);
      if (b.size()) b.array() /= g.scales.array();
      plan.changed.insert(g.prev);  // rebuilt even when not chosen
    }
    report.smoothing.push_back(rec);
  }
  for (const auto& [n, clip] : ws.awq_clip) {
    if (!chosen.count(n)) throw Error(n + ": the AWQ search clipped a layer --layers does not select");
    awq_apply_clip(plan.weights.at(n), clip, config.weight);
  }
}

// The layer that replaces a chosen one.
std::unique_ptr<LinearLayer> make_layer(const std::string& n, const VectorF& bias, const Plan& plan,
                                        const ModelQuantConfig& config, const CalibrationStats* stats,
                                        const QuantizeModelOptions& options, bool* integer) {
  const MatrixF& w = plan.weights.at(n);
  if (config.llm_int8) {
    kernels::LlmInt8Options lo;
    lo.threshold = config.llm_int8_threshold;
    lo.fp16_outliers = config.llm_int8_fp16;
    lo.path = options.path;
    *integer = true;
    return std::make_unique<LlmInt8Linear>(w, bias, lo, n);
  }
  QuantizedLinearOptions o;
  o.weight = config.weight;
  const bool w8 = plan.w8.count(n) > 0;
  if (w8) o.weight.bits = 8;
  o.act = config.act;
  o.mode = options.mode;
  o.path = options.path;
  if (plan.runtime.count(n)) o.runtime_divisor = plan.runtime.at(n);
  if (options.weight_search && !w8) {
    const auto g = options.weight_search->gptq.find(n);
    if (g != options.weight_search->gptq.end()) o.quantized_weight = &g->second;
  }
  if (plan.clip.count(n)) {
    o.static_act = per_tensor_clip_params(plan.clip.at(n), config.act);
  } else if (config.act.enabled() && config.act.source == ScaleSource::kStatic) {
    const auto d = plan.divisor.find(n);
    o.static_act = static_params(stats_of(*stats, n), d != plan.divisor.end() ? d->second : VectorF(), config.act,
                                 config.act_observer, n);
  }
  auto q = std::make_unique<QuantizedLinear>(w, bias, o, n);
  *integer = q->uses_integer_kernel();
  return q;
}

}  // namespace

QuantizeModelReport quantize_model(CausalLm& model, const ModelQuantConfig& config, const CalibrationStats* stats,
                                   const QuantizeModelOptions& options) {
  config.validate();
  if (auto* moe = dynamic_cast<MixtralModel*>(&model))
    moe->set_smooth_stats(config.moe_routed_stats ? MoeSmoothStats::kRouted : MoeSmoothStats::kAll);
  else if (config.moe_routed_stats)
    throw Error("--moe-stats routed: the " + model.architecture() + " model has no experts");
  QuantizeModelReport report;
  const std::vector<std::string> chosen_list = selected_layers(model, config);
  const std::set<std::string> chosen(chosen_list.begin(), chosen_list.end());
  const bool needs_stats = config.smooth || (config.act.enabled() && config.act.source == ScaleSource::kStatic);
  if (needs_stats && !stats)
    throw Error("--quant " + config.name + ": smoothing and static scales need calibration (--calib-text)");

  Plan plan;
  if (!config.w8_layers.empty()) {
    const std::vector<std::string> w8 = matching(chosen_list, config.w8_layers, "--w8-layers", "quantized layer");
    plan.w8.insert(w8.begin(), w8.end());
  }
  // The steps below edit the plan's copies of the weights; without any of
  // them (round-to-nearest, nothing smoothed, clipped or migrated) each
  // weight is copied only when its layer is built, so the float32 copies of
  // all the weights never exist at once (25 GiB for a 7B model kept in bf16:
  // docs/memory.md).
  const bool edits_weights = config.gamma_migration || config.smooth || config.token_clipping ||
                             config.weight_method != ModelQuantConfig::WeightMethod::kRtn;
  for (const std::string& n : model.linear_names()) {
    if (edits_weights) plan.weights[n] = float_layer(model, n).weight();
    plan.biases[n] = float_layer(model, n).bias();
  }
  if (config.gamma_migration) migrate_gamma(model, plan, chosen, report);
  if (config.smooth) smooth(model, plan, chosen_list, chosen, config, *stats, options, report);
  if (config.token_clipping) clip_token_wise(model, plan, chosen_list, chosen, config, *stats, options);
  if (config.weight_method != ModelQuantConfig::WeightMethod::kRtn) {
    const WeightSearchResult* ws = options.weight_search;
    if (!ws || ws->method != config.weight_method)
      throw Error("--quant " + config.name + ": needs the " + weight_method_name(config.weight_method) +
                  " search's result (sim/eval/weight_search.h)");
    if (config.weight_method == ModelQuantConfig::WeightMethod::kAwq) apply_awq(model, plan, chosen, config, *ws, report);
    if (config.weight_method == ModelQuantConfig::WeightMethod::kGptq)
      for (const std::string& n : chosen_list)
        if (!ws->gptq.count(n)) throw Error(n + ": the GPTQ search has no weights for this layer");
  }

  // Each layer's float weight copy is freed once its layer is built (the
  // replaced layer with it), so memory falls as the loop goes (docs/memory.md).
  for (const std::string& n : model.linear_names()) {
    const VectorF& bias = plan.biases.at(n);
    if (!chosen.count(n)) {
      if (plan.divisor.count(n) || plan.changed.count(n)) model.replace_linear(n, std::make_unique<FloatLinear>(std::move(plan.weights[n]), bias));
      plan.weights.erase(n);
      continue;
    }
    if (!plan.weights.count(n)) plan.weights[n] = float_layer(model, n).weight();
    bool integer = false;
    model.replace_linear(n, make_layer(n, bias, plan, config, stats, options, &integer));
    plan.weights.erase(n);
    if (integer) ++report.integer_layers;
    report.quantized.push_back(n);
  }
  model.attention_matmuls = quantized_attention_matmuls(config.bmm, config.kv_int8, options.mode, options.path);
  return report;
}

std::map<std::string, float> search_alpha_per_group(const CausalLm& model, const ModelQuantConfig& config,
                                                    const CalibrationStats& stats, const std::vector<float>& grid,
                                                    const QuantizeModelOptions& options) {
  if (grid.empty()) throw Error("alpha search: empty grid");
  std::map<std::string, float> best;
  for (const SmoothGroup& g : model.smooth_groups()) {
    const MatrixF& x = stats_of(stats, g.layers.front()).sample;
    if (x.rows() == 0) throw Error(g.norm + ": the per-layer alpha search needs calibration sample rows");
    // Float references, once per layer.
    std::vector<MatrixF> y_ref;
    for (const std::string& n : g.layers) y_ref.push_back(x * float_layer(model, n).weight().transpose());
    double best_err = std::numeric_limits<double>::infinity();
    for (float alpha : grid) {
      const VectorF s = group_smoothing_factors(model, g, stats, alpha);
      MatrixF xs = x;
      smooth_activations(xs, s);
      double err = 0, ref = 0;
      for (size_t i = 0; i < g.layers.size(); ++i) {
        MatrixF w = float_layer(model, g.layers[i]).weight();
        smooth_weight(w, s);
        QuantParams st;
        const bool is_static = config.act.enabled() && config.act.source == ScaleSource::kStatic;
        if (is_static) st = static_params(stats_of(stats, g.layers[i]), s, config.act, config.act_observer, g.layers[i]);
        const MatrixF y = kernels::quantized_linear(xs, w, nullptr, config.weight, config.act, is_static ? &st : nullptr,
                                                    options.mode, options.path, g.layers[i])
                              .y;
        err += (y - y_ref[i]).cast<double>().squaredNorm();
        ref += y_ref[i].cast<double>().squaredNorm();
      }
      const double rel = ref > 0 ? err / ref : err;
      if (rel < best_err) {
        best_err = rel;
        best[g.norm] = alpha;
      }
    }
  }
  return best;
}

}  // namespace sqsim
