// BLOOM: logits against an independent float64 forward (ALiBi, fused per-head
// qkv, embedding LayerNorm, tanh GELU), from HF folders and a GGUF file in
// llama.cpp's qkv order; smoothing groups and folding; refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "base/error.h"
#include "gguf_writer.h"
#include "hf_fixtures.h"
#include "kernels/kernel_path.h"
#include "quant/model_quant_config.h"
#include "quant/smoothing.h"
#include "sim/eval/calibration.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/bloom_model.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/linear_layer.h"

namespace sqsim_test {
namespace {

struct BloomDims {
  int vocab = 264, hidden = 24, layers = 2, heads = 6;  // 6 heads: ALiBi's not-a-power-of-two slopes
};

Weights bloom_weights(const BloomDims& d, unsigned seed, const std::string& prefix = "transformer.") {
  Rng r(seed);
  Weights w;
  const uint64_t H = d.hidden;
  w[prefix + "word_embeddings.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 1.0f)};
  auto ln = [&](const std::string& n) {
    w[n + ".weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[n + ".bias"] = {{H}, r.normal(H, 0.1f)};
  };
  auto lin = [&](const std::string& n, uint64_t out, uint64_t in) {
    w[n + ".weight"] = {{out, in}, r.normal(out * in, 0.3f)};
    w[n + ".bias"] = {{out}, r.normal(out, 0.1f)};
  };
  ln(prefix + "word_embeddings_layernorm");
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = prefix + "h." + std::to_string(l) + ".";
    ln(p + "input_layernorm");
    ln(p + "post_attention_layernorm");
    lin(p + "self_attention.query_key_value", 3 * H, H);
    lin(p + "self_attention.dense", H, H);
    lin(p + "mlp.dense_h_to_4h", 4 * H, H);
    lin(p + "mlp.dense_4h_to_h", H, 4 * H);
  }
  ln(prefix + "ln_f");
  return w;
}

std::string bloom_config(const BloomDims& d, const Overrides& o = {}) {
  const auto I = [](int v) { return std::to_string(v); };
  return config_json({{"architectures", "[\"BloomForCausalLM\"]"}, {"model_type", "\"bloom\""},
                      {"hidden_size", I(d.hidden)}, {"n_layer", I(d.layers)}, {"n_head", I(d.heads)},
                      {"vocab_size", I(d.vocab)}, {"layer_norm_epsilon", "1e-05"},
                      {"apply_residual_connection_post_layernorm", "false"}, {"pretraining_tp", "1"},
                      {"slow_but_exact", "false"}, {"tie_word_embeddings", "true"}},
                     o);
}

std::string bloom_dir(const std::string& name, const Weights& w, const BloomDims& d, const Overrides& o = {}) {
  const std::string dir = temp_dir(name);
  write_text(dir + "/config.json", bloom_config(d, o));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, w, "F32");
  return dir;
}

// HF BloomForCausalLM's forward written out in float64: the slopes from
// their definition (ALiBi paper: 2^(-8 i / n) for a power of two n, then the
// odd-indexed slopes of 2n for the heads left), scores + m * key position.
Mat bloom_reference(const Weights& w, const BloomDims& d, const std::vector<int32_t>& tokens,
                    const std::string& m = "transformer.") {
  const int hd = d.hidden / d.heads;
  int p = 1;
  while (p * 2 <= d.heads) p *= 2;
  std::vector<double> slope;
  for (int i = 1; i <= p; ++i) slope.push_back(std::pow(2.0, -8.0 * i / p));
  for (int i = 1; slope.size() < size_t(d.heads); i += 2) slope.push_back(std::pow(2.0, -8.0 * i / (2 * p)));
  auto W = [&](const std::string& n) -> const Tensor& { return w.at(m + n); };
  const Tensor& E = W("word_embeddings.weight");
  Mat x;
  for (int32_t t : tokens) x.emplace_back(E.v.begin() + t * d.hidden, E.v.begin() + (t + 1) * d.hidden);
  x = layer_norm_ref(x, W("word_embeddings_layernorm.weight"), W("word_embeddings_layernorm.bias"));
  const size_t T = tokens.size();
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    const Mat xn = layer_norm_ref(x, W(p + "input_layernorm.weight"), W(p + "input_layernorm.bias"));
    const Mat qkv = linear(xn, W(p + "self_attention.query_key_value.weight"), &W(p + "self_attention.query_key_value.bias"));
    Mat att(T, std::vector<double>(size_t(d.hidden)));
    for (int h = 0; h < d.heads; ++h) {
      const size_t q0 = size_t(h * 3 * hd), k0 = q0 + hd, v0 = k0 + hd;  // per head: q, k, v
      for (size_t i = 0; i < T; ++i) {
        std::vector<double> s(i + 1);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int c = 0; c < hd; ++c) dot += qkv[i][q0 + c] * qkv[j][k0 + c];
          s[j] = dot / std::sqrt(double(hd)) + slope[h] * double(j);
          mx = std::max(mx, s[j]);
        }
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int c = 0; c < hd; ++c) {
          double o = 0;
          for (size_t j = 0; j <= i; ++j) o += s[j] / sum * qkv[j][v0 + c];
          att[i][size_t(h * hd + c)] = o;
        }
      }
    }
    const Mat o = linear(att, W(p + "self_attention.dense.weight"), &W(p + "self_attention.dense.bias"));
    for (size_t t = 0; t < T; ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += o[t][c];
    const Mat hn = layer_norm_ref(x, W(p + "post_attention_layernorm.weight"), W(p + "post_attention_layernorm.bias"));
    Mat f = linear(hn, W(p + "mlp.dense_h_to_4h.weight"), &W(p + "mlp.dense_h_to_4h.bias"));
    for (auto& row : f)
      for (double& z : row) z = 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
    const Mat f2 = linear(f, W(p + "mlp.dense_4h_to_h.weight"), &W(p + "mlp.dense_4h_to_h.bias"));
    for (size_t t = 0; t < T; ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += f2[t][c];
  }
  return linear(layer_norm_ref(x, W("ln_f.weight"), W("ln_f.bias")), E);
}

const std::vector<int32_t> kTokens = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1, 7, 250, 31};

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Bloom, AlibiSlopesByHand) {
  const VectorF s8 = alibi_slopes(8);  // 2^-1 .. 2^-8
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(s8[i], std::ldexp(1.0f, -(i + 1))) << i;
  const VectorF s6 = alibi_slopes(6);  // four of 2^-2i, then 2^-1, 2^-3 (odd ones of eight heads)
  const float want6[] = {0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f, 0.125f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(s6[i], want6[i]) << i;
  EXPECT_FLOAT_EQ(alibi_slopes(1)[0], 1.0f / 256.0f);
  EXPECT_THROW(alibi_slopes(0), Error);
}

TEST(Bloom, GeluIsTheTanhApproximation) {
  MatrixF h(40, 3);
  for (long t = 0; t < h.rows(); ++t) h.row(t) << 0.0f, 1.0f, -2.0f;
  bloom_gelu(h);
  for (long t = 0; t < h.rows(); ++t) {
    EXPECT_FLOAT_EQ(h(t, 0), 0.0f);
    EXPECT_NEAR(h(t, 1), 0.841192, 1e-6);  // 0.5 (1 + tanh(0.79788456 * 1.044715))
    EXPECT_NEAR(h(t, 2), -0.0454023, 1e-6);
  }
}

TEST(Bloom, LogitsMatchDoubleReferenceWithAndWithoutPrefix) {
  const BloomDims d;
  // Hub BLOOM checkpoints (saved from BloomModel) store names without "transformer."; both load.
  for (const std::string prefix : {"transformer.", ""}) {
    const Weights w = bloom_weights(d, 31, prefix);
    const std::string dir = bloom_dir("bloom", w, d);
    const LoadedModel m = load_model(dir);
    EXPECT_EQ(m.model->architecture(), "bloom");
    expect_close(m.model->forward(kTokens), bloom_reference(w, d, kTokens, prefix), 2e-4, "prefix '" + prefix + "'");
    fs::remove_all(dir);
  }
}

// A window after a shared prefix gets the ALiBi positions of the whole window.
TEST(Bloom, WindowsWithPrefixesEqualTheWholeWindow) {
  const BloomDims d;
  const std::string dir = bloom_dir("bloom_win", bloom_weights(d, 32), d);
  const LoadedModel m = load_model(dir);
  const std::vector<int32_t> ctx(kTokens.begin(), kTokens.begin() + 9), end(kTokens.begin() + 9, kTokens.end());
  const MatrixF whole = m.model->forward(kTokens);
  const MatrixF w = m.model->forward_windows({{ctx, 0}, {end, 0, 0}});
  ASSERT_EQ(w.rows(), long(kTokens.size()));
  EXPECT_LT((w - whole).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + whole.cwiseAbs().maxCoeff()));
  fs::remove_all(dir);
}

TEST(Bloom, SmoothingGroupsAndFoldingKeepTheLogits) {
  const BloomDims d;
  const std::string dir = bloom_dir("bloom_fold", bloom_weights(d, 33), d);
  LoadedModel m = load_model(dir);
  CausalLm& lm = *m.model;
  const std::vector<std::string> names = lm.linear_names();
  ASSERT_EQ(names.size(), size_t(4 * d.layers + 1));
  EXPECT_EQ(names[0], "transformer.h.0.self_attention.query_key_value");
  EXPECT_EQ(names[3], "transformer.h.0.mlp.dense_4h_to_h");
  const auto groups = lm.smooth_groups();
  ASSERT_EQ(groups.size(), size_t(2 * d.layers));
  EXPECT_EQ(groups[0].norm, "transformer.h.0.input_layernorm");
  EXPECT_EQ(groups[0].layers, std::vector<std::string>{"transformer.h.0.self_attention.query_key_value"});
  EXPECT_EQ(groups[1].norm, "transformer.h.0.post_attention_layernorm");
  EXPECT_EQ(groups[1].layers, std::vector<std::string>{"transformer.h.0.mlp.dense_h_to_4h"});

  // SmoothQuant's factors from calibration (alpha 0.5), folded into each
  // LayerNorm's weight and bias and the fused qkv / dense_h_to_4h columns:
  // the float logits stay the same.
  const MatrixF before = lm.forward(kTokens);
  const CalibrationStats stats = calibrate(lm, {kTokens, std::vector<int32_t>(kTokens.rbegin(), kTokens.rend())});
  for (const SmoothGroup& g : groups) {
    const VectorF s = group_smoothing_factors(lm, g, stats, 0.5f);
    EXPECT_GT((s.array() - 1.0f).abs().maxCoeff(), 0.05f) << g.norm;  // a real change
    lm.divide_norm(g.norm, s);
    for (const std::string& n : g.layers) {
      const auto& f = dynamic_cast<const FloatLinear&>(lm.linear(n));
      MatrixF wt = f.weight();
      smooth_weight(wt, s);
      lm.set_linear(n, std::make_unique<FloatLinear>(wt, f.bias()));
    }
  }
  const MatrixF after = lm.forward(kTokens);
  EXPECT_LT((after - before).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + before.cwiseAbs().maxCoeff()));
  // The test can fail: a norm divided without compensating its layer changes the logits.
  lm.divide_norm("transformer.h.1.input_layernorm", VectorF::Constant(d.hidden, 2.0f));
  EXPECT_GT((lm.forward(kTokens) - after).cwiseAbs().maxCoeff(), 1e-2f);
  EXPECT_THROW(lm.divide_norm("transformer.h.7.input_layernorm", VectorF::Ones(d.hidden)), Error);
  fs::remove_all(dir);
}

// The quantized presets run through the integer kernels; every kernel path
// gives the reference path's logits bit for bit.
TEST(Bloom, QuantizedPresetsGiveTheReferenceBitsOnEveryKernelPath) {
  BloomDims d;
  d.hidden = 128, d.heads = 4;  // sqplus-g128: groups of 128 input channels
  const std::string dir = bloom_dir("bloom_quant", bloom_weights(d, 34), d);
  const std::vector<std::vector<int32_t>> calib = {kTokens, std::vector<int32_t>(kTokens.rbegin(), kTokens.rend())};
  for (const char* preset : {"sq-o1", "sqplus-g128", "w8a8"}) {
    ModelQuantConfig config = preset_config(preset);
    MatrixF ref;
    for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
      LoadedModel m = load_model(dir);
      const CalibrationStats stats = calibrate(*m.model, calib);
      QuantizeModelOptions o;
      o.path = p;
      quantize_model(*m.model, config, &stats, o);
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

TEST(Bloom, RefusesUnsupportedConfigsAndMisshapedFusedTensors) {
  const BloomDims d;
  const Weights w = bloom_weights(d, 35);
  std::string dir = bloom_dir("bloom_bad", w, d, {{"apply_residual_connection_post_layernorm", "true"}});
  std::string e = load_error(dir);
  EXPECT_EQ(e, dir + "/config.json: \"apply_residual_connection_post_layernorm\" true is not supported");
  write_text(dir + "/config.json", bloom_config(d, {{"slow_but_exact", "true"}, {"pretraining_tp", "2"}}));
  e = load_error(dir);
  EXPECT_EQ(e.rfind(dir + "/config.json", 0), 0u) << e;
  EXPECT_NE(e.find("\"slow_but_exact\""), std::string::npos) << e;
  write_text(dir + "/config.json", bloom_config(d, {{"n_head", "5"}}));
  EXPECT_NE(load_error(dir).find("hidden size 24 not a multiple of head count 5"), std::string::npos);
  fs::remove_all(dir);

  Weights bad = w;  // a fused qkv with two thirds of its rows
  Tensor& qkv = bad["transformer.h.1.self_attention.query_key_value.weight"];
  qkv.shape = {48, 24};
  qkv.v.resize(48 * 24);
  dir = bloom_dir("bloom_badqkv", bad, d);
  EXPECT_EQ(load_error(dir), dir + ": tensor transformer.h.1.self_attention.query_key_value.weight has shape [48, 24], "
                                   "expected [72, 24] from config.json");
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- GGUF

void kv_u32(Bytes& b, const std::string& k, uint32_t v) { b.str(k), b.u32(4), b.u32(v); }

// The weights as llama.cpp's converter writes them: attn_qkv's rows [q; k; v].
std::string bloom_gguf(const Weights& w, const BloomDims& d, bool ffn_ok = true) {
  Bytes kv;
  kv.str("general.architecture"), kv.u32(8), kv.str("bloom");
  kv_u32(kv, "bloom.block_count", uint32_t(d.layers));
  kv_u32(kv, "bloom.embedding_length", uint32_t(d.hidden));
  kv_u32(kv, "bloom.feed_forward_length", uint32_t((ffn_ok ? 4 : 3) * d.hidden));
  kv_u32(kv, "bloom.attention.head_count", uint32_t(d.heads));
  kv.str("bloom.attention.layer_norm_epsilon"), kv.u32(6), kv.f32(1e-5f);
  const int hd = d.hidden / d.heads;
  std::vector<TensorSpec> ts;
  for (const auto& [name, t] : w) {
    std::vector<float> v = t.v;
    std::string g = name;
    if (name.find("query_key_value") != std::string::npos) {  // per head [q k v] -> [all q; all k; all v]
      const size_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
      for (int h = 0; h < d.heads; ++h)
        for (int part = 0; part < 3; ++part)
          for (int r = 0; r < hd; ++r)
            std::copy_n(t.v.begin() + ((3 * h + part) * hd + r) * cols, cols,
                        v.begin() + ((part * d.heads + h) * hd + r) * cols);
    }
    const std::map<std::string, std::string> top = {{"transformer.word_embeddings.weight", "token_embd.weight"},
                                                    {"transformer.word_embeddings_layernorm.weight", "token_embd_norm.weight"},
                                                    {"transformer.word_embeddings_layernorm.bias", "token_embd_norm.bias"},
                                                    {"transformer.ln_f.weight", "output_norm.weight"},
                                                    {"transformer.ln_f.bias", "output_norm.bias"}};
    if (top.count(name)) {
      g = top.at(name);
    } else {
      const std::map<std::string, std::string> in_block = {
          {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"},
          {"self_attention.query_key_value", "attn_qkv"}, {"self_attention.dense", "attn_output"},
          {"mlp.dense_h_to_4h", "ffn_up"}, {"mlp.dense_4h_to_h", "ffn_down"}};
      const size_t a = std::string("transformer.h.").size(), dot = name.find('.', a);
      const auto [module, suffix] = split_weight_suffix(name.substr(dot + 1));
      g = "blk." + name.substr(a, dot - a) + "." + in_block.at(module) + suffix;
    }
    std::vector<uint64_t> dims(t.shape.rbegin(), t.shape.rend());
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    ts.push_back({g, dims, 0, bytes});
  }
  const std::string path = temp_dir("bloom_gguf") + "/bloom.gguf";
  const std::vector<uint8_t> f = build(3, 6, kv.b, ts);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(f.data()), std::streamsize(f.size()));
  return path;
}

TEST(Bloom, GgufInLlamaCppQkvOrderGivesTheSameLogits) {
  const BloomDims d;
  const Weights w = bloom_weights(d, 36);
  const std::string path = bloom_gguf(w, d);
  const BloomModel m = BloomModel::load_gguf(path);
  EXPECT_EQ(m.config().vocab, d.vocab);
  expect_close(m.forward(kTokens), bloom_reference(w, d, kTokens), 2e-4, "gguf");
  const std::string bad = bloom_gguf(w, d, /*ffn_ok=*/false);
  try {
    BloomModel::load_gguf(bad);
    ADD_FAILURE() << "loaded a GGUF with a wrong feed_forward_length";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), bad + ": bloom.feed_forward_length must be 4 * bloom.embedding_length");
  }
  fs::remove_all(fs::path(path).parent_path());
}

}  // namespace
}  // namespace sqsim_test
