// Mixtral-style MoE: logits against an independent float64 forward (router
// softmax, top-k, renormalised, per-expert SwiGLU), expert layers by name,
// smoothing with and without compensating the router, both statistics
// modes, the quantized presets on every kernel path, refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"
#include "hf_fixtures.h"
#include "kernels/kernel_path.h"
#include "quant/model_quant_config.h"
#include "quant/smoothing.h"
#include "sim/eval/calibration.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/linear_layer.h"
#include "sim/models/mixtral_model.h"

namespace sqsim_test {
namespace {

struct MoeDims {
  int vocab = 264, hidden = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 48, experts = 4, top_k = 2;
  double eps = 1e-5, theta = 10000.0;
};

Weights mixtral_weights(const MoeDims& d, unsigned seed) {
  Rng r(seed);
  Weights w;
  const uint64_t H = d.hidden, KV = uint64_t(d.kv_heads) * (d.hidden / d.heads), F = d.ffn;
  w["model.embed_tokens.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 1.0f)};
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    w[p + "input_layernorm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[p + "post_attention_layernorm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[p + "self_attn.q_proj.weight"] = {{H, H}, r.normal(H * H, 0.3f)};
    w[p + "self_attn.k_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.3f)};
    w[p + "self_attn.v_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.3f)};
    w[p + "self_attn.o_proj.weight"] = {{H, H}, r.normal(H * H, 0.2f)};
    w[p + "block_sparse_moe.gate.weight"] = {{uint64_t(d.experts), H}, r.normal(d.experts * H, 0.5f)};
    for (int e = 0; e < d.experts; ++e) {
      const std::string x = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
      w[x + "w1.weight"] = {{F, H}, r.normal(F * H, 0.2f)};
      w[x + "w3.weight"] = {{F, H}, r.normal(F * H, 0.2f)};
      w[x + "w2.weight"] = {{H, F}, r.normal(H * F, 0.2f)};
    }
  }
  w["model.norm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
  w["lm_head.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 0.2f)};
  return w;
}

std::string mixtral_config(const MoeDims& d, const Overrides& o = {}) {
  const auto I = [](int v) { return std::to_string(v); };
  return config_json({{"architectures", "[\"MixtralForCausalLM\"]"}, {"model_type", "\"mixtral\""},
                      {"hidden_size", I(d.hidden)}, {"num_hidden_layers", I(d.layers)},
                      {"num_attention_heads", I(d.heads)}, {"num_key_value_heads", I(d.kv_heads)},
                      {"intermediate_size", I(d.ffn)}, {"vocab_size", I(d.vocab)},
                      {"num_local_experts", I(d.experts)}, {"num_experts_per_tok", I(d.top_k)},
                      {"max_position_embeddings", "64"}, {"rms_norm_eps", "1e-05"}, {"hidden_act", "\"silu\""},
                      {"rope_parameters", "{\"rope_theta\":10000.0,\"rope_type\":\"default\"}"},
                      {"sliding_window", "null"}, {"head_dim", "null"}, {"tie_word_embeddings", "false"}},
                     o);
}

std::string mixtral_dir(const std::string& name, const Weights& w, const MoeDims& d, const Overrides& o = {}) {
  const std::string dir = temp_dir(name);
  write_text(dir + "/config.json", mixtral_config(d, o));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, w, "F32");
  return dir;
}

Mat rms(const Mat& x, const Tensor& w, double eps) {
  Mat y = x;
  for (auto& row : y) {
    double ms = 0;
    for (double v : row) ms += v * v;
    const double inv = 1.0 / std::sqrt(ms / double(row.size()) + eps);
    for (size_t i = 0; i < row.size(); ++i) row[i] *= inv * w.v[i];
  }
  return y;
}

void rope_half(Mat& x, int heads, int d, double theta) {
  for (size_t t = 0; t < x.size(); ++t)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < d / 2; ++i) {
        const double a = double(t) * std::pow(theta, -2.0 * i / d);
        double& x0 = x[t][size_t(h * d + i)];
        double& x1 = x[t][size_t(h * d + i + d / 2)];
        const double u = x0, v = x1;
        x0 = u * std::cos(a) - v * std::sin(a);
        x1 = v * std::cos(a) + u * std::sin(a);
      }
}

// HF MixtralForCausalLM written out in float64.
Mat mixtral_reference(const Weights& w, const MoeDims& d, const std::vector<int32_t>& tokens) {
  const int hd = d.hidden / d.heads;
  const Tensor& E = w.at("model.embed_tokens.weight");
  Mat x;
  for (int32_t id : tokens) x.emplace_back(E.v.begin() + long(id) * d.hidden, E.v.begin() + long(id + 1) * d.hidden);
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const Mat xn = rms(x, w.at(p + "input_layernorm.weight"), d.eps);
    Mat q = linear(xn, w.at(p + "self_attn.q_proj.weight")), k = linear(xn, w.at(p + "self_attn.k_proj.weight"));
    const Mat v = linear(xn, w.at(p + "self_attn.v_proj.weight"));
    rope_half(q, d.heads, hd, d.theta);
    rope_half(k, d.kv_heads, hd, d.theta);
    Mat att(x.size(), std::vector<double>(size_t(d.hidden)));
    for (int h = 0; h < d.heads; ++h)
      attend(q, k, v, size_t(h * hd), size_t((h / (d.heads / d.kv_heads)) * hd), size_t(hd), 1.0 / std::sqrt(hd), att);
    const Mat o = linear(att, w.at(p + "self_attn.o_proj.weight"));
    for (size_t t = 0; t < x.size(); ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += o[t][c];
    const Mat hn = rms(x, w.at(p + "post_attention_layernorm.weight"), d.eps);
    const Mat logits = linear(hn, w.at(p + "block_sparse_moe.gate.weight"));
    for (size_t t = 0; t < x.size(); ++t) {
      std::vector<double> pr(logits[t]);
      const double mx = *std::max_element(pr.begin(), pr.end());
      double sum = 0;
      for (double& z : pr) sum += (z = std::exp(z - mx));
      std::vector<int> idx(size_t(d.experts));
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return pr[size_t(a)] > pr[size_t(b)]; });
      double top = 0;
      for (int s = 0; s < d.top_k; ++s) top += pr[size_t(idx[size_t(s)])];
      for (int s = 0; s < d.top_k; ++s) {
        const int e = idx[size_t(s)];
        const std::string xp = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
        Mat g = linear({hn[t]}, w.at(xp + "w1.weight"));
        const Mat u = linear({hn[t]}, w.at(xp + "w3.weight"));
        for (size_t c = 0; c < g[0].size(); ++c) g[0][c] = g[0][c] / (1.0 + std::exp(-g[0][c])) * u[0][c];
        const Mat y = linear(g, w.at(xp + "w2.weight"));
        for (int c = 0; c < d.hidden; ++c) x[t][c] += pr[size_t(e)] / top * y[0][c];
      }
    }
  }
  return linear(rms(x, w.at("model.norm.weight"), d.eps), w.at("lm_head.weight"));
}

const std::vector<int32_t> kTokens = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1, 7, 250, 31, 64, 128};

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

MixtralModel& as_mixtral(LoadedModel& m) { return dynamic_cast<MixtralModel&>(*m.model); }

// Puts a float layer with weight w (no bias: Mixtral has none) in place of n.
void lm_set(CausalLm& m, const std::string& n, MatrixF w) { m.set_linear(n, std::make_unique<FloatLinear>(std::move(w))); }

TEST(Mixtral, LogitsMatchDoubleReferenceAndExpertsHaveNames) {
  const MoeDims d;
  const Weights w = mixtral_weights(d, 41);
  const std::string dir = mixtral_dir("mixtral", w, d);
  LoadedModel m = load_model(dir);
  EXPECT_EQ(m.model->architecture(), "mixtral");
  expect_close(m.model->forward(kTokens), mixtral_reference(w, d, kTokens), 2e-4, "mixtral");
  const std::vector<std::string> names = m.model->linear_names();
  ASSERT_EQ(names.size(), size_t(d.layers * (4 + 3 * d.experts) + 1));
  EXPECT_EQ(names[4], "model.layers.0.block_sparse_moe.experts.0.w1");
  EXPECT_EQ(names[5], "model.layers.0.block_sparse_moe.experts.0.w3");
  EXPECT_EQ(names[6], "model.layers.0.block_sparse_moe.experts.0.w2");
  EXPECT_EQ(m.model->linear("model.layers.1.block_sparse_moe.experts.3.w2").in_features(), d.ffn);
  EXPECT_THROW(m.model->linear("model.layers.1.block_sparse_moe.experts.4.w2"), Error);
  EXPECT_THROW(m.model->linear("model.layers.1.block_sparse_moe.gate"), Error);  // the router is no LinearLayer
  // Every token picks top_k distinct experts.
  for (const std::vector<int>& r : as_mixtral(m).routing(kTokens))
    for (size_t t = 0; t < kTokens.size(); ++t) EXPECT_NE(r[2 * t], r[2 * t + 1]);
  fs::remove_all(dir);
}

// Windows stacked through one forward, one after a shared prefix, give the
// logits of each window alone: experts see rows of several windows at once,
// and each row's result depends on that row only.
TEST(Mixtral, WindowsWithPrefixesEqualTheWholeWindow) {
  const MoeDims d;
  const std::string dir = mixtral_dir("mixtral_win", mixtral_weights(d, 47), d);
  const LoadedModel m = load_model(dir);
  const std::vector<int32_t> ctx(kTokens.begin(), kTokens.begin() + 9), end(kTokens.begin() + 9, kTokens.end());
  const MatrixF whole = m.model->forward(kTokens), first = m.model->forward(ctx);
  const MatrixF w = m.model->forward_windows({{ctx, 0}, {end, 0, 0}});
  ASSERT_EQ(w.rows(), long(ctx.size() + kTokens.size() - ctx.size()));
  const float tol = 1e-4f * (1.0f + whole.cwiseAbs().maxCoeff());
  EXPECT_LT((w.topRows(long(ctx.size())) - first).cwiseAbs().maxCoeff(), tol);
  EXPECT_LT((w.bottomRows(long(end.size())) - whole.bottomRows(long(end.size()))).cwiseAbs().maxCoeff(), tol);
  fs::remove_all(dir);
}

// Smoothing post_attention_layernorm changes what the router reads: without
// compensating its weights the routing changes; divide_norm compensates
// them and the logits and the routing stay.
TEST(Mixtral, SmoothingMustCompensateTheRouter) {
  const MoeDims d;
  const std::string dir = mixtral_dir("mixtral_smooth", mixtral_weights(d, 42), d);
  LoadedModel m = load_model(dir);
  MixtralModel& moe = as_mixtral(m);
  const MatrixF before = moe.forward(kTokens);
  const auto routes_before = moe.routing(kTokens);
  const CalibrationStats stats = calibrate(moe, {kTokens, std::vector<int32_t>(kTokens.rbegin(), kTokens.rend())});
  const std::vector<SmoothGroup> groups = moe.smooth_groups();
  ASSERT_EQ(groups.size(), size_t(2 * d.layers));
  EXPECT_EQ(groups[1].norm, "model.layers.0.post_attention_layernorm");
  ASSERT_EQ(groups[1].layers.size(), size_t(2 * d.experts));  // every expert's w1 and w3
  std::vector<MatrixF> routers_before;
  for (int l = 0; l < d.layers; ++l) routers_before.push_back(moe.router(l));
  std::vector<VectorF> factors;
  for (const SmoothGroup& g : groups) {
    const VectorF s = group_smoothing_factors(moe, g, stats, 0.8f);
    factors.push_back(s);
    moe.divide_norm(g.norm, s);
    for (const std::string& n : g.layers) {
      const auto& f = dynamic_cast<const FloatLinear&>(moe.linear(n));
      lm_set(moe, n, smoothed_weight(f.weight(), s));
    }
  }
  EXPECT_LT((moe.forward(kTokens) - before).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + before.cwiseAbs().maxCoeff()));
  EXPECT_EQ(moe.routing(kTokens), routes_before);
  EXPECT_NE(moe.router(0), routers_before[0]);  // the router's columns were scaled

  // The same smoothing with the router left as it was: other experts are chosen.
  for (int l = 0; l < d.layers; ++l) moe.set_router(l, routers_before[size_t(l)]);
  const auto routes_uncompensated = moe.routing(kTokens);
  long changed = 0;
  for (size_t l = 0; l < routes_before.size(); ++l)
    for (size_t i = 0; i < routes_before[l].size(); ++i) changed += routes_before[l][i] != routes_uncompensated[l][i];
  EXPECT_GT(changed, 0);
  EXPECT_GT((moe.forward(kTokens) - before).cwiseAbs().maxCoeff(), 1e-2f);
  fs::remove_all(dir);
}

// "routed" statistics: each expert its own factors from its own tokens,
// divided at run time; the router and the norm are untouched.
TEST(Mixtral, RoutedStatisticsSmoothEachExpertAtRunTime) {
  const MoeDims d;
  const std::string dir = mixtral_dir("mixtral_routed", mixtral_weights(d, 43), d);
  LoadedModel m = load_model(dir);
  MixtralModel& moe = as_mixtral(m);
  moe.set_smooth_stats(MoeSmoothStats::kRouted);
  const MatrixF before = moe.forward(kTokens);
  const CalibrationStats stats = calibrate(moe, {kTokens, std::vector<int32_t>(kTokens.rbegin(), kTokens.rend())});
  const std::vector<SmoothGroup> groups = moe.smooth_groups();
  ASSERT_EQ(groups.size(), size_t(d.layers * (1 + d.experts)));
  EXPECT_EQ(groups[1].norm, "model.layers.0.block_sparse_moe.experts.0.input_scale");
  EXPECT_EQ(groups[1].layers, (std::vector<std::string>{"model.layers.0.block_sparse_moe.experts.0.w1",
                                                        "model.layers.0.block_sparse_moe.experts.0.w3"}));
  const MatrixF router0 = moe.router(0);
  const VectorF norm0 = moe.norm_weight("model.layers.0.post_attention_layernorm");
  // Each expert's own input statistics differ from the others' (only its tokens).
  const VectorF& a0 = stats.at("model.layers.0.block_sparse_moe.experts.0.w1").absmax;
  const VectorF& a1 = stats.at("model.layers.0.block_sparse_moe.experts.1.w1").absmax;
  EXPECT_GT((a0 - a1).cwiseAbs().maxCoeff(), 0.0f);
  for (const SmoothGroup& g : groups) {
    const VectorF s = group_smoothing_factors(moe, g, stats, 0.5f);
    moe.divide_norm(g.norm, s);
    for (const std::string& n : g.layers)
      lm_set(moe, n, smoothed_weight(dynamic_cast<const FloatLinear&>(moe.linear(n)).weight(), s));
    if (g.norm.find("input_scale") != std::string::npos)
      EXPECT_LT((moe.norm_weight(g.norm).cwiseProduct(s) - VectorF::Ones(d.hidden)).cwiseAbs().maxCoeff(), 1e-5f);
  }
  EXPECT_LT((moe.forward(kTokens) - before).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + before.cwiseAbs().maxCoeff()));
  EXPECT_EQ(moe.router(0), router0);
  EXPECT_EQ(moe.norm_weight("model.layers.0.post_attention_layernorm"), norm0);
  fs::remove_all(dir);
}

// The quantized presets through the integer kernels, both statistics modes:
// every kernel path gives the reference path's logits bit for bit.
TEST(Mixtral, QuantizedPresetsGiveTheReferenceBitsOnEveryKernelPath) {
  MoeDims d;
  d.hidden = 128, d.ffn = 128, d.layers = 1;  // sqplus-g128: groups of 128 input channels
  const std::string dir = mixtral_dir("mixtral_quant", mixtral_weights(d, 44), d);
  const std::vector<std::vector<int32_t>> calib = {kTokens, std::vector<int32_t>(kTokens.rbegin(), kTokens.rend())};
  for (const MoeSmoothStats mode : {MoeSmoothStats::kAll, MoeSmoothStats::kRouted})
    for (const char* preset : {"sq-o1", "sqplus-g128"}) {
      MatrixF ref;
      for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
        LoadedModel m = load_model(dir);
        as_mixtral(m).set_smooth_stats(mode);
        const CalibrationStats stats = calibrate(*m.model, calib);
        QuantizeModelOptions o;
        o.path = p;
        quantize_model(*m.model, preset_config(preset), &stats, o);
        const MatrixF logits = m.model->forward(kTokens);
        ASSERT_TRUE(logits.allFinite()) << preset;
        if (p == kernels::KernelPath::kReference)
          ref = logits;
        else
          EXPECT_EQ(logits, ref) << preset << " " << kernels::kernel_path_name(p);
      }
    }
  fs::remove_all(dir);
}

// One calibration token reaches only top_k of the experts: "all" smooths
// every expert with the statistics of those that saw it (the norm's output),
// "routed" leaves the others unsmoothed; neither refuses.
TEST(Mixtral, ExpertsWithoutCalibrationTokensAreHandled) {
  const MoeDims d;
  const std::string dir = mixtral_dir("mixtral_unseen", mixtral_weights(d, 46), d);
  for (const MoeSmoothStats mode : {MoeSmoothStats::kAll, MoeSmoothStats::kRouted}) {
    LoadedModel m = load_model(dir);
    as_mixtral(m).set_smooth_stats(mode);
    const CalibrationStats stats = calibrate(*m.model, {{kTokens[0]}});
    long unseen = 0;
    for (const auto& [name, st] : stats) unseen += st.tokens == 0;
    EXPECT_EQ(unseen, long(d.layers * (d.experts - d.top_k) * 3));  // w1, w3, w2 of each expert left out
    ModelQuantConfig c = preset_config("sq-o1");
    c.moe_routed_stats = mode == MoeSmoothStats::kRouted;
    const QuantizeModelReport r = quantize_model(*m.model, c, &stats);
    EXPECT_EQ(r.smoothing.size(), size_t(mode == MoeSmoothStats::kAll ? 2 * d.layers : d.layers * (1 + d.top_k)));
    EXPECT_TRUE(m.model->forward(kTokens).allFinite());
  }
  fs::remove_all(dir);
}

TEST(Mixtral, RefusesTopKAboveTheExpertsAndMisshapedExperts) {
  const MoeDims d;
  const Weights w = mixtral_weights(d, 45);
  std::string dir = mixtral_dir("mixtral_bad", w, d, {{"num_experts_per_tok", "5"}});
  EXPECT_EQ(load_error(dir), dir + "/config.json: \"num_experts_per_tok\" 5 exceeds \"num_local_experts\" 4");
  write_text(dir + "/config.json", mixtral_config(d, {{"sliding_window", "4096"}}));
  EXPECT_EQ(load_error(dir), dir + "/config.json: \"sliding_window\" is not supported (must be null)");
  fs::remove_all(dir);
  Weights bad = w;
  bad["model.layers.1.block_sparse_moe.experts.2.w3.weight"].shape = {uint64_t(d.hidden), uint64_t(d.ffn)};
  dir = mixtral_dir("mixtral_badw", bad, d);
  EXPECT_EQ(load_error(dir), dir + ": tensor model.layers.1.block_sparse_moe.experts.2.w3.weight has shape [32, 48], "
                                   "expected [48, 32] from config.json");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sqsim_test
