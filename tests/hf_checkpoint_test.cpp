// Hugging Face checkpoints: tiny synthetic Llama and OPT folders written by
// the test (config.json, safetensors, tokenizer.json) are loaded and their
// logits compared with independent float64 forward passes written here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <unistd.h>

#include "base/error.h"
#include "sim/models/causal_lm.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/load_model.h"
#include "sim/formats/json.h"
#include "sim/formats/safetensors_file.h"
#include "tests/hf_fixtures.h"

using namespace sqsim;
namespace fs = std::filesystem;
using namespace sqsim_test;

namespace {




std::string llama_config(const LlamaDims& d, bool tied, const Overrides& o = {}) {
  const auto I = [](int v) { return std::to_string(v); };
  return config_json({{"architectures", "[\"LlamaForCausalLM\"]"}, {"model_type", "\"llama\""},
                      {"hidden_size", I(d.hidden)}, {"num_hidden_layers", I(d.layers)},
                      {"num_attention_heads", I(d.heads)}, {"num_key_value_heads", I(d.kv_heads)},
                      {"intermediate_size", I(d.ffn)}, {"vocab_size", I(d.vocab)},
                      {"max_position_embeddings", "64"}, {"rms_norm_eps", "1e-05"}, {"rope_theta", "10000.0"},
                      {"hidden_act", "\"silu\""}, {"rope_scaling", "null"},
                      {"tie_word_embeddings", tied ? "true" : "false"}, {"torch_dtype", "\"float32\""}},
                     o);
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

// HF's rotate_half RoPE on every head of x.
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

Mat llama_reference(const Weights& w, const LlamaDims& d, const std::vector<int32_t>& tokens) {
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
    Mat g = linear(hn, w.at(p + "mlp.gate_proj.weight"));
    const Mat u = linear(hn, w.at(p + "mlp.up_proj.weight"));
    for (size_t t = 0; t < g.size(); ++t)
      for (size_t c = 0; c < g[t].size(); ++c) g[t][c] = g[t][c] / (1.0 + std::exp(-g[t][c])) * u[t][c];
    const Mat dn = linear(g, w.at(p + "mlp.down_proj.weight"));
    for (size_t t = 0; t < x.size(); ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += dn[t][c];
  }
  const Mat xn = rms(x, w.at("model.norm.weight"), d.eps);
  return linear(xn, w.count("lm_head.weight") ? w.at("lm_head.weight") : E);
}


const std::vector<int32_t> kTokens = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1};

std::string llama_dir(const std::string& name, bool tied, const std::string& dtype, const Weights& w,
                      const LlamaDims& d, int shards = 1) {
  const std::string dir = temp_dir(name);
  write_text(dir + "/config.json", llama_config(d, tied));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, w, dtype, shards);
  return dir;
}

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- Llama

TEST(HfLlama, RotateHalfRopeIsAdjacentRopeOnPermutedRows) {
  // llama.cpp's converter reorders each head's rows (h, j, i) -> (h, i, j);
  // adjacent-pair RoPE on the reordered rows equals rotate-half RoPE.
  const int heads = 2, d = 8;
  MatrixF x(5, heads * d);
  for (long i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.7f * float(i)) + 0.1f * float(i % 3);
  auto permute = [&](const MatrixF& m) {
    MatrixF p(m.rows(), m.cols());
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < d / 2; ++i)
        for (int j = 0; j < 2; ++j) p.col(h * d + 2 * i + j) = m.col(h * d + j * (d / 2) + i);
    return p;
  };
  MatrixF half = x, adj = permute(x);
  apply_rope_half(half, heads, d, 500.0f);
  apply_rope_adjacent(adj, heads, d, 500.0f);
  EXPECT_TRUE(permute(half).isApprox(adj, 1e-6f));
  EXPECT_FALSE(half.isApprox(x, 1e-3f));  // it did rotate
}

TEST(HfLlama, LogitsMatchDoubleReferenceUntiedAndTied) {
  const LlamaDims d;
  for (const bool tied : {false, true}) {
    const Weights w = llama_weights(d, tied, tied ? 11 : 12);
    const std::string dir = llama_dir("llama", tied, "F32", w, d);
    const LoadedModel m = load_model(dir);
    EXPECT_EQ(m.model->architecture(), "llama");
    EXPECT_EQ(m.model->vocab_size(), d.vocab);
    EXPECT_FALSE(m.bos.has_value());
    expect_close(m.model->forward(kTokens), llama_reference(w, d, kTokens), 2e-4, tied ? "tied" : "untied");
    fs::remove_all(dir);
  }
}

TEST(HfLlama, RopeThetaFromTransformers5RopeParameters) {
  LlamaDims d;
  d.theta = 500.0;  // differs from the top-level rope_theta, which rope_parameters overrides
  const Weights w = llama_weights(d, true, 14);
  const std::string dir = llama_dir("rope_params", true, "F32", w, d);
  write_text(dir + "/config.json",
             llama_config(d, true, {{"rope_parameters", "{\"rope_type\":\"default\",\"rope_theta\":500.0}"}}));
  const LoadedModel m = load_model(dir);
  expect_close(m.model->forward(kTokens), llama_reference(w, d, kTokens), 2e-4, "theta 500");
  fs::remove_all(dir);
}

TEST(HfLlama, HalfPrecisionAndShardedCheckpointsLoad) {
  const LlamaDims d;
  const Weights w = llama_weights(d, false, 13);
  for (const char* dt : {"BF16", "F16"}) {
    const std::string dir = llama_dir(std::string("llama_") + dt, false, dt, w, d, 3);
    EXPECT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
    const LoadedModel m = load_model(dir);
    expect_close(m.model->forward(kTokens), llama_reference(rounded(w, dt), d, kTokens), 2e-4, dt);
    fs::remove_all(dir);
  }
}

// ---------------------------------------------------------------- OPT

TEST(HfOpt, LogitsMatchDoubleReference) {
  const OptDims d;
  // Hub OPT checkpoints store names without "model." (saved from OPTModel); both load.
  for (const std::string prefix : {"model.", ""}) {
    const Weights w = opt_weights(d, 21, prefix);
    const std::string dir = temp_dir("opt");
    write_text(dir + "/config.json", opt_config(d));
    write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, kBosTemplate));
    write_weights(dir, w, "F32", prefix.empty() ? 2 : 1);
    const LoadedModel m = load_model(dir);
    EXPECT_EQ(m.model->architecture(), "opt");
    ASSERT_TRUE(m.bos.has_value());
    EXPECT_EQ(*m.bos, 259);
    expect_close(m.model->forward(kTokens), opt_reference(w, d, kTokens, prefix + "decoder."), 2e-4,
                 "prefix '" + prefix + "'");
    // A window longer than max_position_embeddings is refused.
    EXPECT_THROW(m.model->forward(std::vector<int32_t>(size_t(d.max_pos + 1), 5)), Error);
    fs::remove_all(dir);
  }
}

TEST(HfOpt, LayerNamesGroupsAndNormFolding) {
  const OptDims d;
  const Weights w = opt_weights(d, 22);
  const std::string dir = temp_dir("opt_fold");
  write_text(dir + "/config.json", opt_config(d));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, kBosTemplate));
  write_weights(dir, w, "F32");
  LoadedModel m = load_model(dir);
  CausalLm& lm = *m.model;
  const std::vector<std::string> names = lm.linear_names();
  ASSERT_EQ(names.size(), size_t(6 * d.layers + 1));
  EXPECT_EQ(names[0], "model.decoder.layers.0.self_attn.q_proj");
  EXPECT_EQ(names[5], "model.decoder.layers.0.fc2");
  EXPECT_EQ(names.back(), "lm_head");
  const auto groups = lm.smooth_groups();
  ASSERT_EQ(groups.size(), size_t(2 * d.layers));
  EXPECT_EQ(groups[1].norm, "model.decoder.layers.0.final_layer_norm");
  EXPECT_EQ(groups[1].layers, std::vector<std::string>{"model.decoder.layers.0.fc1"});

  // SmoothQuant's folding: dividing a LayerNorm's weight AND bias by s and
  // scaling the input columns of the layers it feeds by s changes nothing.
  const MatrixF before = lm.forward(kTokens);
  Rng r(5);
  for (const SmoothGroup& g : groups) {
    const std::vector<float> sv = r.normal(size_t(d.hidden), 0.3f, 1.5f);
    VectorF s(d.hidden);
    for (int c = 0; c < d.hidden; ++c) s(c) = std::abs(sv[c]) + 0.2f;
    lm.divide_norm(g.norm, s);
    for (const std::string& n : g.layers) {
      const auto& f = dynamic_cast<const FloatLinear&>(lm.linear(n));
      MatrixF wt = f.weight();
      for (long o = 0; o < wt.rows(); ++o) wt.row(o).array() *= s.transpose().array();
      lm.set_linear(n, std::make_unique<FloatLinear>(wt, f.bias()));
    }
  }
  const MatrixF after = lm.forward(kTokens);
  EXPECT_LT((after - before).cwiseAbs().maxCoeff(), 2e-3f * (1.0f + before.cwiseAbs().maxCoeff()));
  // Without folding the bias the result would differ: check the test can fail.
  VectorF two = VectorF::Constant(d.hidden, 2.0f);
  lm.divide_norm("model.decoder.final_layer_norm", two);
  EXPECT_GT((lm.forward(kTokens) - after).cwiseAbs().maxCoeff(), 1e-2f);
  EXPECT_THROW(lm.divide_norm("model.decoder.layers.9.final_layer_norm", two), Error);
  EXPECT_THROW(lm.linear("model.decoder.layers.0.mlp.fc1"), Error);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- refusals

TEST(HfCheckpoint, RefusesBadConfigsNamingTheKey) {
  const OptDims od;
  const LlamaDims ld;
  const std::string dir = temp_dir("badcfg");
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, opt_weights(od, 1), "F32");
  struct Case {
    std::string config;
    const char* message;
  } cases[] = {
      {opt_config(od, {{"do_layer_norm_before", "false"}}), "\"do_layer_norm_before\" false"},
      {opt_config(od, {{"word_embed_proj_dim", "16"}}), "\"word_embed_proj_dim\" 16 differs from hidden_size 32"},
      {opt_config(od, {{"activation_function", "\"gelu\""}}), "\"activation_function\" must be \"relu\""},
      {opt_config(od, {{"num_attention_heads", "5"}}), "hidden size 32 not a multiple of head count 5"},
      {opt_config(od, {{"ffn_dim", "-1"}}), "\"ffn_dim\" must be a positive integer"},
      {opt_config(od, {{"hidden_size", "32.5"}}), "\"hidden_size\" must be an integer"},
      {opt_config(od, {{"hidden_size", ""}}), "missing key \"hidden_size\""},
      {opt_config(od, {{"model_type", "\"gpt2\""}}), "model_type \"gpt2\" is not supported"},
      {llama_config(ld, true, {{"rope_scaling", "{\"type\":\"ntk-by-parts\",\"factor\":2.0}"}}),
       "\"rope_scaling.rope_type\" \"ntk-by-parts\" is not supported"},
      {llama_config(ld, true, {{"rope_parameters", "{\"rope_type\":\"llama3\",\"rope_theta\":5e5}"}}),
       "\"rope_parameters.factor\" must be positive"},
      {llama_config(ld, true, {{"hidden_act", "\"gelu\""}}), "\"hidden_act\" must be \"silu\""},
      {llama_config(ld, true, {{"num_key_value_heads", "3"}}), "head count 4 not a multiple of kv head count 3"},
      {"{\"model_type\":\"opt\",", "JSON error at byte"},
  };
  for (const Case& c : cases) {
    write_text(dir + "/config.json", c.config);
    const std::string e = load_error(dir);
    EXPECT_EQ(e.rfind(dir + "/config.json", 0), 0u) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.config << " -> " << e;
  }
  fs::remove_all(dir);
}

TEST(HfCheckpoint, RefusesMissingAndMisshapedTensors) {
  const LlamaDims d;
  Weights w = llama_weights(d, true, 3);
  w.erase("model.layers.1.mlp.up_proj.weight");
  std::string dir = llama_dir("missing", true, "F32", w, d);
  EXPECT_EQ(load_error(dir), dir + ": checkpoint has no tensor model.layers.1.mlp.up_proj.weight (needed by the llama config)");
  fs::remove_all(dir);

  w = llama_weights(d, true, 3);
  w["model.layers.0.self_attn.k_proj.weight"].shape = {32, 16};  // transposed
  dir = llama_dir("shape", true, "F32", w, d);
  EXPECT_EQ(load_error(dir),
            dir + ": tensor model.layers.0.self_attn.k_proj.weight has shape [32, 16], expected [16, 32] from config.json");
  fs::remove_all(dir);

  w = llama_weights(d, true, 3);
  dir = llama_dir("nan", true, "F32", w, d);
  fs::remove(dir + "/tokenizer.json");
  EXPECT_NE(load_error(dir).find("no tokenizer.json"), std::string::npos) << load_error(dir);
  fs::remove(dir + "/config.json");
  EXPECT_NE(load_error(dir).find("no config.json"), std::string::npos) << load_error(dir);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- tokenizer.json

TEST(HfTokenizer, MergesInBothFormsAndTemplateBos) {
  for (const bool arrays : {false, true}) {
    const HfTokenizer t =
        tokenizer_from_hf_json(parse_json(tokenizer_json(arrays, kByteLevel, kBosTemplate), "tok.json"), "tok.json");
    EXPECT_EQ(t.tokenizer.pre_tokenizer(), "gpt2");
    EXPECT_EQ(t.tokenizer.encode("the the</s>"), (std::vector<int32_t>{116, 257, 258, 259})) << arrays;
    ASSERT_TRUE(t.bos.has_value());
    EXPECT_EQ(*t.bos, 259);
    EXPECT_EQ(t.tokenizer.decode({116, 257, 258}), "the the");
  }
  const std::string digits =
      R"({"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},)" + kByteLevel + "]}";
  const HfTokenizer s = tokenizer_from_hf_json(parse_json(tokenizer_json(false, digits, "null"), "t"), "t");
  EXPECT_EQ(s.tokenizer.pre_tokenizer(), "smollm");
  EXPECT_FALSE(s.bos.has_value());
  EXPECT_EQ(s.tokenizer.encode("12"), (std::vector<int32_t>{'1', '2'}));
}

TEST(HfTokenizer, RefusesWhatItDoesNotImplementByName) {
  auto err = [](const std::string& json) -> std::string {
    try {
      tokenizer_from_hf_json(parse_json(json, "tok.json"), "tok.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(err(tokenizer_json(false, R"({"type":"Whitespace"})", "null")).find("pre_tokenizer type \"Whitespace\""),
            std::string::npos);
  EXPECT_NE(err(tokenizer_json(false, R"({"type":"ByteLevel","add_prefix_space":true})", "null"))
                .find("add_prefix_space true"),
            std::string::npos);
  EXPECT_NE(err(tokenizer_json(false, kByteLevel, R"({"type":"RobertaProcessing"})"))
                .find("post_processor type \"RobertaProcessing\""),
            std::string::npos);
  std::string with_norm = tokenizer_json(false, kByteLevel, "null");
  with_norm.replace(with_norm.find("\"normalizer\":null"), 17, R"("normalizer":{"type":"NFC"})");
  EXPECT_NE(err(with_norm).find("\"normalizer\" is not supported"), std::string::npos);
  std::string gap = tokenizer_json(false, kByteLevel, "null");
  gap.replace(gap.find("\"id\":259"), 8, "\"id\":261");
  EXPECT_NE(err(gap).find("no token has id 259"), std::string::npos) << err(gap);
  std::string ign = tokenizer_json(false, kByteLevel, "null");
  ign.replace(ign.find("\"ignore_merges\":false"), 21, "\"ignore_merges\":true");
  EXPECT_NE(err(ign).find("ignore_merges"), std::string::npos);
}
