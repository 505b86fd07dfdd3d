#include "sim/eval/weight_search.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <set>

#include "base/error.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/smoothing.h"
#include "kernels/quantized_linear.h"

namespace sqsim {

namespace {

MatrixF float_weight(const CausalLm& m, const std::string& name) {
  const auto* f = dynamic_cast<const FloatLinear*>(&m.linear(name));
  if (!f) throw Error(name + ": already replaced (the weight search reads a freshly loaded float model)");
  return f->weight();
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The layer before `target` whose output channels are target's input
// channels one to one (llm-awq's pairs): Llama up_proj -> down_proj, OPT
// fc1 -> fc2 (the ReLU between commutes with a positive per-channel scale),
// and v_proj -> o_proj / out_proj only when their weights have one shape (no
// GQA). The previous layer's rows and bias are divided by the scales.
std::string chained_prev(const CausalLm& model, const std::set<std::string>& all, const std::string& target) {
  std::string arch = model.architecture();
  // Mistral, Qwen2, Qwen3 have Llama's layer names (Phi-3's fused up/v are not chained)
  if (arch == "mistral" || arch == "qwen2" || arch == "qwen3") arch = "llama";
  if (arch != "llama" && arch != "opt") return "";
  const std::string down = arch == "llama" ? "mlp.down_proj" : "fc2", up = arch == "llama" ? "mlp.up_proj" : "fc1";
  const std::string out = arch == "llama" ? "self_attn.o_proj" : "self_attn.out_proj";
  std::string prev;
  if (ends_with(target, down)) prev = target.substr(0, target.size() - down.size()) + up;
  if (ends_with(target, out)) {
    prev = target.substr(0, target.size() - out.size()) + "self_attn.v_proj";
    if (!all.count(prev)) return "";
    const MatrixF &v = float_weight(model, prev), &o = float_weight(model, target);
    if (v.rows() != o.rows() || v.cols() != o.cols()) return "";
  }
  return all.count(prev) ? prev : "";
}

// llm-awq does not clip q and k: the Q·K^T product amplifies their errors.
bool clipped(const std::string& layer) { return !ends_with(layer, "q_proj") && !ends_with(layer, "k_proj"); }

std::vector<AwqGroupScale> awq_groups(const CausalLm& model, const std::vector<std::string>& layers) {
  const std::vector<std::string> names = model.linear_names();
  const std::set<std::string> all(names.begin(), names.end()), chosen(layers.begin(), layers.end());
  auto position = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  std::vector<std::pair<long, AwqGroupScale>> found;
  std::set<std::string> grouped;
  for (const SmoothGroup& g : model.smooth_groups()) {
    AwqGroupScale a;
    a.prev = g.norm;
    for (const std::string& n : g.layers)
      if (chosen.count(n)) a.layers.push_back(n);
    grouped.insert(g.layers.begin(), g.layers.end());
    if (!a.layers.empty()) found.emplace_back(position(a.layers.front()), a);
  }
  for (const std::string& n : layers) {
    if (grouped.count(n)) continue;
    const std::string prev = chained_prev(model, all, n);
    if (prev.empty()) continue;
    AwqGroupScale a;
    a.prev = prev;
    a.prev_is_norm = false;
    a.layers = {n};
    found.emplace_back(position(n), a);
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<AwqGroupScale> out;
  for (auto& [p, a] : found) out.push_back(std::move(a));
  return out;
}

// Progress from parallel workers: one caller at a time.
void report(const WeightSearchOptions& o, size_t done, size_t total) {
  static std::mutex m;
  if (!o.progress) return;
  std::lock_guard<std::mutex> lock(m);
  o.progress(done, total);
}

// Every 512th-ish row as llm-awq's input_feat[0::n // 512].
MatrixF clip_rows(const MatrixF& sample) {
  const long step = std::max<long>(1, sample.rows() / 512);
  const long n = (sample.rows() + step - 1) / step;
  MatrixF out(n, sample.cols());
  for (long i = 0; i < n; ++i) out.row(i) = sample.row(i * step);
  return out;
}

// "model.layers.3.self_attn.q_proj" -> 3 and "self_attn.q_proj"; -1 outside the blocks.
int block_of(const std::string& n, std::string* rest) {
  static const std::string p = "model.layers.";
  if (n.compare(0, p.size(), p) != 0) return -1;
  size_t i = p.size(), j = i;
  while (j < n.size() && std::isdigit(static_cast<unsigned char>(n[j]))) ++j;
  if (j == i || j >= n.size() || n[j] != '.') return -1;
  if (rest) *rest = n.substr(j + 1);
  return std::stoi(n.substr(i, j - i));
}

// Which of a Llama block's inputs the layer reads.
const MatrixF& block_input(const CausalLm::BlockInputs& in, const std::string& layer) {
  std::string rest;
  block_of(layer, &rest);
  if (rest == "self_attn.q_proj" || rest == "self_attn.k_proj" || rest == "self_attn.v_proj" ||
      rest == "self_attn.qkv_proj")
    return in.attn;
  if (rest == "self_attn.o_proj") return in.o;
  if (rest == "mlp.gate_proj" || rest == "mlp.up_proj" || rest == "mlp.gate_up_proj") return in.mlp;
  if (rest == "mlp.down_proj") return in.down;
  throw Error(layer + ": not a linear layer of a Llama block (the block-by-block searches know q/k/v/o, gate/up/down)");
}

std::vector<long> window_sizes(const WeightCalibration& cal) {
  if (cal.windows.empty()) throw Error("weight search: the calibration kept no search windows");
  std::vector<long> sizes;
  for (const auto& w : cal.windows) sizes.push_back(long(w.size()));
  return sizes;
}

// The float layer with weight w and the model's bias of `name`.
std::unique_ptr<FloatLinear> float_layer(const CausalLm& m, const std::string& name, MatrixF w) {
  const auto* f = dynamic_cast<const FloatLinear*>(&m.linear(name));
  return std::make_unique<FloatLinear>(std::move(w), f ? f->bias() : VectorF());
}

// llm-awq's module objective (docs/quantization.md, "AWQ"): for every ratio,
// the group's weights W' = Q(W s) / s put in place of the model's for one
// forward of the attention module (q/k/v groups) or the MLP (gate/up) of
// block l on its float inputs; L(r) = mean over rows and outputs of
// (module output - float module output)^2, in float64.
void search_module_scales(const CausalLm& model, AwqGroupScale& g, int l, bool attention,
                          const CausalLm::BlockInputs& in, const std::vector<long>& sizes,
                          const std::vector<float>& grid, const VectorF& mean_abs, const QuantSpec& spec) {
  const MatrixF& x = attention ? in.attn : in.mlp;
  auto module = [&](const CausalLm::LinearOverrides& use) {
    return attention ? model.attention_module(l, x, sizes, use) : model.mlp_module(l, x, use);
  };
  const MatrixF ref = module({});
  double best = std::numeric_limits<double>::infinity();
  g.losses.clear();
  for (float r : grid) {
    const VectorF s = awq_scales(mean_abs, r, g.prev);
    std::vector<std::unique_ptr<FloatLinear>> layers;
    CausalLm::LinearOverrides use;
    for (const std::string& n : g.layers) {
      layers.push_back(float_layer(model, n, awq_scaled_fake_quant(float_weight(model, n), s, spec, n)));
      use[n] = layers.back().get();
    }
    const double loss = (module(use) - ref).cast<double>().squaredNorm() / double(ref.size());
    g.losses.push_back(loss);
    if (loss < best) {
      best = loss;
      g.ratio = r;
      g.scales = s;
    }
  }
  if (!std::isfinite(best)) throw Error(g.prev + ": every AWQ ratio gave a non-finite module-output loss");
}

// w4a8-sq-awq: SmoothQuant's candidates, then AWQ's, each measured with the
// preset's int8 activations and int4 weights on the sample rows
// (docs/quantization.md, "SmoothQuant + AWQ, W4A8").
void search_w4a8(AwqGroupScale& g, const WeightInputStats& in, const std::vector<const MatrixF*>& ws,
                 const std::vector<float>& grid, const ModelQuantConfig& config, const WeightSearchOptions& options) {
  const MatrixF& x = in.sample;
  if (x.rows() == 0) throw Error(g.layers.front() + ": w4a8-sq-awq needs sample rows of the input");
  std::vector<MatrixF> ref;
  long outputs = 0;
  for (const MatrixF* w : ws) {
    ref.push_back(x * w->transpose());
    outputs += w->rows();
  }
  struct Candidate {
    bool sq;
    float value;
  };
  std::vector<Candidate> cands;
  for (int j = 0; j <= 20; ++j) cands.push_back({true, float(j) / 20.0f});
  for (float r : grid) cands.push_back({false, r});
  std::vector<const VectorF*> acts(ws.size(), &in.absmax);
  double best = std::numeric_limits<double>::infinity();
  for (const Candidate& c : cands) {
    const VectorF s = c.sq ? smoothing_group_factors(acts, ws, c.value, g.prev) : awq_scales(in.mean_abs(), c.value, g.prev);
    MatrixF xs = x;
    smooth_activations(xs, s);
    double err = 0;
    for (size_t i = 0; i < ws.size(); ++i) {
      MatrixF w = *ws[i];
      smooth_weight(w, s);
      const MatrixF y = kernels::quantized_linear(xs, w, nullptr, config.weight, config.act, nullptr, options.mode,
                                                  options.path, g.layers[i])
                            .y;
      err += (y - ref[i]).cast<double>().squaredNorm();
    }
    const double loss = err / (double(x.rows()) * double(outputs));
    g.losses.push_back(loss);
    if (loss < best) {
      best = loss;
      g.ratio = c.value;
      g.smoothquant_form = c.sq;
      g.scales = s;
    }
  }
  if (!std::isfinite(best)) throw Error(g.prev + ": every w4a8-sq-awq candidate gave a non-finite loss");
}

WeightSearchResult search_awq(const CausalLm& model, const ModelQuantConfig& config,
                              const std::vector<std::string>& layers, const WeightCalibration& cal,
                              const WeightSearchOptions& options) {
  WeightSearchResult res;
  res.method = ModelQuantConfig::WeightMethod::kAwq;
  const std::vector<float> grid = awq_ratio_grid(config.awq_grid);
  std::map<std::string, MatrixF> weights;
  for (const std::string& n : layers) weights[n] = float_weight(model, n);
  std::vector<AwqGroupScale> groups = awq_groups(model, layers);
  for (const AwqGroupScale& g : groups)
    if (!g.prev_is_norm) weights[g.prev] = float_weight(model, g.prev);
  // 1. Scales: every search on the float weights (the groups' layers are
  // disjoint, so the groups run in parallel; each result is the same as alone).
  std::atomic<size_t> done{0};
  const size_t total = groups.size() + layers.size();
  const bool w4a8 = config.act.enabled();
  // The norm groups judged on their module's output (llm-awq): block by
  // block over the search windows on the float model, the module forwards
  // themselves parallel inside.
  const bool by_module =
      !w4a8 && config.awq_objective == ModelQuantConfig::AwqObjective::kModule && model.has_blocks();
  std::vector<char> module_group(groups.size(), 0);
  if (by_module) {
    std::map<int, std::vector<size_t>> of_block;  // block -> its norm groups
    for (size_t i = 0; i < groups.size(); ++i)
      if (groups[i].prev_is_norm) {
        const int l = block_of(groups[i].layers.front(), nullptr);
        if (l < 0) throw Error(groups[i].prev + ": an AWQ norm group outside the blocks");
        of_block[l].push_back(i);
        module_group[i] = 1;
      }
    const std::vector<long> sizes = window_sizes(cal);
    MatrixF x = model.embed_windows(cal.windows);
    const int last = of_block.empty() ? -1 : of_block.rbegin()->first;
    for (int l = 0; l <= last; ++l) {
      CausalLm::BlockInputs in;
      MatrixF next = model.forward_block(l, x, sizes, &in);
      for (size_t i : of_block[l]) {
        AwqGroupScale& g = groups[i];
        std::string rest;
        block_of(g.layers.front(), &rest);
        const bool attention = rest.compare(0, 9, "self_attn") == 0;
        search_module_scales(model, g, l, attention, in, sizes, grid, cal.of(g.layers.front()).mean_abs(),
                             config.weight);
        report(options, ++done, total);
      }
      x = std::move(next);
    }
  }
  tbb::parallel_for(size_t(0), groups.size(), [&](size_t i) {
    if (module_group[i]) return;
    AwqGroupScale& g = groups[i];
    const WeightInputStats& in = cal.of(g.layers.front());
    std::vector<const MatrixF*> ws;
    for (const std::string& n : g.layers) ws.push_back(&weights.at(n));
    if (w4a8) {
      search_w4a8(g, in, ws, grid, config, options);
      report(options, ++done, total);
      return;
    }
    if (in.xtx.rows() != ws.front()->cols())
      throw Error(g.layers.front() + ": the weight-search calibration kept no x^T x of its input");
    const Eigen::MatrixXf gram = (in.xtx / double(in.tokens)).cast<float>();
    const AwqScaleResult r = awq_search_scales(gram, ws, in.mean_abs(), grid, config.weight, g.prev);
    g.ratio = r.ratio;
    g.scales = r.scales;
    g.losses = r.losses;
    report(options, ++done, total);
  });
  std::map<std::string, VectorF> divisor;  // layer -> s its input is divided by
  for (const AwqGroupScale& g : groups)
    for (const std::string& n : g.layers) divisor[n] = g.scales;
  apply_awq_scales(weights, groups);
  // 2. Clips on the scaled weights and the inputs divided by s, layers in parallel.
  std::vector<MatrixF> clips(layers.size());
  tbb::parallel_for(size_t(0), layers.size(), [&](size_t i) {
    const std::string& n = layers[i];
    if (clipped(n) && !w4a8) {
      MatrixF x = clip_rows(cal.of(n).sample);
      const auto d = divisor.find(n);
      if (d != divisor.end()) smooth_activations(x, d->second);
      clips[i] = awq_search_clip(x, weights.at(n), config.weight, n);
    }
    report(options, ++done, total);
  });
  for (size_t i = 0; i < layers.size(); ++i)
    if (clipped(layers[i]) && !w4a8) res.awq_clip[layers[i]] = std::move(clips[i]);
  res.awq_scales = std::move(groups);
  return res;
}

void warn_few_tokens(const WeightSearchOptions& options, const std::string& layer, long tokens, long cols) {
  if (tokens < cols && options.warn)
    options.warn(layer + ": " + std::to_string(tokens) + " search tokens for " + std::to_string(cols) +
                 " input columns: the Hessian is singular and only the damping makes it invertible "
                 "(raise --search-windows)");
}

// gptq.py's llama.py (docs/quantization.md, "GPTQ on a whole model"): block
// l's layers get their Hessians from block l's float forward on the output
// of the blocks < l with their GPTQ weights (dequantized, in float); then
// block l's output with its own GPTQ weights feeds block l + 1.
WeightSearchResult search_gptq_sequential(const CausalLm& model, const std::vector<std::string>& layers,
                                          const WeightCalibration& cal, const GptqOptions& o,
                                          const WeightSearchOptions& options, WeightSearchResult& res) {
  if (!model.has_blocks())
    throw Error("--gptq-inputs sequential: " + model.architecture() +
                " has no block-level forward (the Llama-like families have one; pass --gptq-inputs float)");
  std::map<int, std::vector<std::string>> of_block;
  for (const std::string& n : layers) {
    const int l = block_of(n, nullptr);
    if (l < 0) throw Error(n + ": --gptq-inputs sequential quantizes the blocks' layers only");
    of_block[l].push_back(n);
  }
  const std::vector<long> sizes = window_sizes(cal);
  MatrixF x = model.embed_windows(cal.windows);
  size_t done = 0;
  const int last = of_block.empty() ? -1 : of_block.rbegin()->first;
  for (int l = 0; l <= last; ++l) {
    const std::vector<std::string>& names = of_block[l];
    if (names.empty()) {
      x = model.forward_block(l, x, sizes);
      continue;
    }
    CausalLm::BlockInputs in;
    model.forward_block(l, x, sizes, &in);
    std::vector<GptqResult> out(names.size());
    tbb::parallel_for(size_t(0), names.size(), [&](size_t i) {
      const MatrixF& xs = block_input(in, names[i]);
      MatrixD s;
      long row = 0;  // x^T x window by window, as the calibration pass sums it
      for (long n : sizes) {
        add_window_xtx(s, xs.middleRows(row, n));
        row += n;
      }
      mirror_xtx(s);
      const MatrixD h = s * (2.0 / double(xs.rows()));
      out[i] = gptq_quantize(float_weight(model, names[i]), h, o, names[i]);
    });
    std::vector<std::unique_ptr<FloatLinear>> quantized;
    CausalLm::LinearOverrides use;
    for (size_t i = 0; i < names.size(); ++i) {
      warn_few_tokens(options, names[i], in.attn.rows(), model.linear(names[i]).in_features());
      quantized.push_back(float_layer(model, names[i], dequantize(out[i].q)));
      use[names[i]] = quantized.back().get();
      res.gptq_loss[names[i]] = out[i].loss;
      res.gptq[names[i]] = std::move(out[i].q);
      report(options, ++done, layers.size());
    }
    x = model.forward_block(l, x, sizes, nullptr, use);
  }
  return res;
}

WeightSearchResult search_gptq(const CausalLm& model, const ModelQuantConfig& config,
                               const std::vector<std::string>& layers, const WeightCalibration& cal,
                               const WeightSearchOptions& options) {
  WeightSearchResult res;
  res.method = ModelQuantConfig::WeightMethod::kGptq;
  GptqOptions o;
  o.bits = config.weight.bits;
  o.group_size = config.weight.group_size;
  o.damp = config.gptq_damp;
  o.block = 128;
  o.act_order = config.gptq_act_order;
  if (config.gptq_inputs == ModelQuantConfig::GptqInputs::kSequential)
    return search_gptq_sequential(model, layers, cal, o, options, res);
  // Layers in parallel: each one's result does not depend on the others.
  std::vector<GptqResult> out(layers.size());
  std::atomic<size_t> done{0};
  tbb::parallel_for(size_t(0), layers.size(), [&](size_t i) {
    const std::string& n = layers[i];
    const WeightInputStats& in = cal.of(n);
    const MatrixF& w = float_weight(model, n);
    if (in.xtx.rows() != w.cols()) throw Error(n + ": the weight-search calibration kept no Hessian of its input");
    const MatrixD h = in.xtx * (2.0 / double(in.tokens));
    out[i] = gptq_quantize(w, h, o, n);
    report(options, ++done, layers.size());
  });
  for (size_t i = 0; i < layers.size(); ++i) {
    const WeightInputStats& in = cal.of(layers[i]);
    warn_few_tokens(options, layers[i], in.tokens, model.linear(layers[i]).in_features());
    res.gptq_loss[layers[i]] = out[i].loss;
    res.gptq[layers[i]] = std::move(out[i].q);
  }
  return res;
}

}  // namespace

WeightCalibrationOptions weight_calibration_needs(const ModelQuantConfig& config, long sample_rows) {
  WeightCalibrationOptions o;
  // Sequential GPTQ computes its Hessians block by block (no calibration statistics).
  if (config.weight_method == ModelQuantConfig::WeightMethod::kGptq)
    o.xtx = config.gptq_inputs == ModelQuantConfig::GptqInputs::kFloat;
  if (config.weight_method == ModelQuantConfig::WeightMethod::kAwq) {
    o.xtx = !config.act.enabled();  // w4a8-sq-awq measures on rows (activations quantized)
    o.absmax = config.act.enabled();
    o.mean_abs = true;
    o.sample_rows = sample_rows;
  }
  return o;
}

WeightSearchResult search_weights(const CausalLm& model, const ModelQuantConfig& config,
                                  const std::vector<std::string>& layers, const WeightCalibration& cal,
                                  const WeightSearchOptions& options) {
  switch (config.weight_method) {
    case ModelQuantConfig::WeightMethod::kGptq: return search_gptq(model, config, layers, cal, options);
    case ModelQuantConfig::WeightMethod::kAwq: return search_awq(model, config, layers, cal, options);
    case ModelQuantConfig::WeightMethod::kRtn: break;
  }
  return WeightSearchResult{};
}

void apply_awq_scales(std::map<std::string, MatrixF>& weights, const std::vector<AwqGroupScale>& groups) {
  for (const AwqGroupScale& g : groups) {
    for (const std::string& n : g.layers) smooth_weight(weights.at(n), g.scales);
    if (!g.prev_is_norm) {
      MatrixF& p = weights.at(g.prev);
      if (p.rows() != g.scales.size())
        throw Error(g.prev + ": " + std::to_string(p.rows()) + " output rows for " +
                    std::to_string(g.scales.size()) + " AWQ scales");
      for (long c = 0; c < p.rows(); ++c) p.row(c) /= g.scales[c];
    }
  }
}

}  // namespace sqsim
