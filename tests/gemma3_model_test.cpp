// Gemma 3 (sim/models/gemma3_model.h): tiny synthetic Hugging Face folders
// written here. The logits themselves are checked against transformers in
// tests/python/test_gemma3.py; here: the pieces against hand values, names
// and smoothing groups, smoothing keeping the logits, refusals, and the
// quantized presets through every kernel path and through `sqsim ppl`.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "base/error.h"
#include "kernels/kernel_path.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/attention.h"
#include "sim/models/gemma3_model.h"
#include "sim/models/load_model.h"
#include "tests/hf_fixtures.h"
#include "tests/run_sqsim.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

// 128 wide so that the 4-bit presets' groups of 128 fit; q width
// n_heads * head_dim = 4 * 40 = 160 differs from hidden, as in Gemma 3 270M.
struct GemmaDims {
  int vocab = 300, hidden = 128, layers = 3, heads = 4, kv_heads = 2, head_dim = 40, ffn = 256, window = 4;
};

// HF form: norm weights w around 0 (the gain is 1 + w). Channel 5 of the
// embeddings is an outlier so smoothing factors are far from 1.
Weights gemma_weights(const GemmaDims& d, unsigned seed) {
  Rng r(seed);
  Weights w;
  const uint64_t H = d.hidden, Q = uint64_t(d.heads) * d.head_dim, KV = uint64_t(d.kv_heads) * d.head_dim, F = d.ffn,
                 D = d.head_dim;
  std::vector<float> emb = r.normal(d.vocab * H, 1.0f);
  for (int t = 0; t < d.vocab; ++t) emb[size_t(t) * H + 5] *= 20.0f;
  w["model.embed_tokens.weight"] = {{uint64_t(d.vocab), H}, emb};
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                          "post_feedforward_layernorm"})
      w[p + n + ".weight"] = {{H}, r.normal(H, 0.3f)};
    w[p + "self_attn.q_norm.weight"] = {{D}, r.normal(D, 0.3f)};
    w[p + "self_attn.k_norm.weight"] = {{D}, r.normal(D, 0.3f)};
    w[p + "self_attn.q_proj.weight"] = {{Q, H}, r.normal(Q * H, 0.1f)};
    w[p + "self_attn.k_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.1f)};
    w[p + "self_attn.v_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.1f)};
    w[p + "self_attn.o_proj.weight"] = {{H, Q}, r.normal(H * Q, 0.1f)};
    w[p + "mlp.gate_proj.weight"] = {{F, H}, r.normal(F * H, 0.1f)};
    w[p + "mlp.up_proj.weight"] = {{F, H}, r.normal(F * H, 0.1f)};
    w[p + "mlp.down_proj.weight"] = {{H, F}, r.normal(H * F, 0.1f)};
  }
  w["model.norm.weight"] = {{H}, r.normal(H, 0.3f)};
  return w;
}

std::string gemma_config(const GemmaDims& d, const Overrides& o = {}) {
  const auto I = [](int v) { return std::to_string(v); };
  return config_json({{"architectures", "[\"Gemma3ForCausalLM\"]"}, {"model_type", "\"gemma3_text\""},
                      {"hidden_size", I(d.hidden)}, {"num_hidden_layers", I(d.layers)},
                      {"num_attention_heads", I(d.heads)}, {"num_key_value_heads", I(d.kv_heads)},
                      {"head_dim", I(d.head_dim)}, {"intermediate_size", I(d.ffn)}, {"vocab_size", I(d.vocab)},
                      {"sliding_window", I(d.window)}, {"query_pre_attn_scalar", "32"},
                      {"layer_types", "[\"sliding_attention\",\"sliding_attention\",\"full_attention\"]"},
                      {"rope_parameters", "{\"full_attention\":{\"rope_type\":\"default\",\"rope_theta\":100000.0},"
                                          "\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":1000.0}}"},
                      {"hidden_activation", "\"gelu_pytorch_tanh\""}, {"rms_norm_eps", "1e-06"},
                      {"final_logit_softcapping", "null"}, {"attn_logit_softcapping", "null"},
                      {"tie_word_embeddings", "true"}, {"attention_bias", "false"}},
                     o);
}

// A folder with the tokenizer of tests/hf_fixtures.h and the weights in F32.
std::string gemma_folder(const std::string& name, const GemmaDims& d, const Overrides& o = {}, unsigned seed = 3) {
  const std::string dir = temp_dir(name);
  write_text(dir + "/config.json", gemma_config(d, o));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, gemma_weights(d, seed), "F32");
  return dir;
}

const std::vector<int32_t> kTokens = {1, 7, 42, 99, 3, 250, 17, 17, 8, 120, 64, 2, 5, 280, 33, 11};

}  // namespace

TEST(Gemma3Pieces, GeluTanhMatchesHandValues) {
  // 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), evaluated in double by hand
  float g[4] = {1.0f, -1.0f, 0.0f, 2.0f};
  const float u[4] = {1.0f, 2.0f, 5.0f, 0.5f};
  gelu_tanh_mul(g, u, 4);
  EXPECT_NEAR(g[0], 0.8411920, 1e-6);
  EXPECT_NEAR(g[1], 2 * -0.1588080, 1e-6);
  EXPECT_EQ(g[2], 0.0f);
  EXPECT_NEAR(g[3], 0.5 * 1.9545977, 1e-6);
}

TEST(Gemma3Pieces, HeadNormNormalizesEachHeadAlone) {
  MatrixF x(1, 4);
  x << 3, 4, 1, 1;  // heads of width 2: rms sqrt(12.5) and 1
  VectorF w(2);
  w << 1.0f, 2.0f;
  rms_norm_heads(x, 2, w, 0.0f);
  EXPECT_NEAR(x(0, 0), 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x(0, 1), 2 * 4 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x(0, 2), 1.0, 1e-6);
  EXPECT_NEAR(x(0, 3), 2.0, 1e-6);
  EXPECT_THROW(rms_norm_heads(x, 3, w, 0.0f), Error);
}

// A window of W keys is attention over the last W keys alone; capping is
// cap * tanh(s / cap) of the scaled scores.
TEST(Gemma3Pieces, SlidingWindowAndSoftcapAttention) {
  const long T = 9, W = 3;
  const MatrixF q = MatrixF::Random(T, 8), k = MatrixF::Random(T, 8) * 3.0f, v = MatrixF::Random(T, 8);
  AttentionOptions opt;
  opt.window = W;
  opt.scale = 0.3f;
  const MatrixF got = causal_attention(q, k, v, 1, 1, 8, opt);
  for (long t = 0; t < T; ++t) {
    const long lo = std::max(0L, t - W + 1);
    VectorF s(t - lo + 1);
    for (long j = lo; j <= t; ++j) s(j - lo) = q.row(t).dot(k.row(j)) * 0.3f;
    s = (s.array() - s.maxCoeff()).exp().matrix();
    s /= s.sum();
    VectorF want = VectorF::Zero(8);
    for (long j = lo; j <= t; ++j) want += s(j - lo) * v.row(j).transpose();
    EXPECT_LT((got.row(t).transpose() - want).cwiseAbs().maxCoeff(), 1e-5f) << t;
  }
  // a cap far above the scores changes nothing measurable; a small one does
  opt.softcap = 1e4f;
  EXPECT_LT((causal_attention(q, k, v, 1, 1, 8, opt) - got).cwiseAbs().maxCoeff(), 1e-5f);
  opt.softcap = 0.5f;
  EXPECT_GT((causal_attention(q, k, v, 1, 1, 8, opt) - got).cwiseAbs().maxCoeff(), 1e-3f);
  // the old signature is the unwindowed, 1/sqrt(d)-scaled attention
  AttentionOptions plain;
  EXPECT_EQ(causal_attention(q, k, v, 1, 1, 8, plain), causal_attention(q, k, v, 1, 1, 8));
}

TEST(Gemma3Hf, LayerNamesGroupsAndGains) {
  const GemmaDims d;
  const std::string dir = gemma_folder("gemma3_names", d);
  LoadedModel m = load_model(dir);
  CausalLm& lm = *m.model;
  EXPECT_EQ(lm.architecture(), "gemma3");
  const std::vector<std::string> names = lm.linear_names();
  ASSERT_EQ(names.size(), size_t(7 * d.layers + 1));
  EXPECT_EQ(names[4], "model.layers.0.mlp.gate_proj");
  const auto groups = lm.smooth_groups();
  ASSERT_EQ(groups.size(), size_t(2 * d.layers));  // the post-norms feed no linear layer
  EXPECT_EQ(groups[0].norm, "model.layers.0.input_layernorm");
  EXPECT_EQ(groups[0].layers, (std::vector<std::string>{"model.layers.0.self_attn.q_proj",
                                                         "model.layers.0.self_attn.k_proj",
                                                         "model.layers.0.self_attn.v_proj"}));
  EXPECT_EQ(groups[1].norm, "model.layers.0.pre_feedforward_layernorm");
  EXPECT_EQ(groups[1].layers,
            (std::vector<std::string>{"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"}));
  // the held weight is the gain 1 + w
  const Weights w = gemma_weights(d, 3);
  EXPECT_EQ(lm.norm_weight("model.layers.1.input_layernorm")(7),
            1.0f + w.at("model.layers.1.input_layernorm.weight").v[7]);
  const MatrixF logits = lm.forward(kTokens);
  EXPECT_EQ(logits.rows(), long(kTokens.size()));
  EXPECT_TRUE(logits.allFinite());
  std::filesystem::remove_all(dir);
}

// SmoothQuant's fold on (1 + w) norms: the gain g = 1 + w is divided by s
// (w' = (1 + w) / s - 1 in HF's terms) and q/k/v, gate/up scaled by s: the
// logits stay within float tolerance, with factors from 0.05 to 20.
TEST(Gemma3Hf, SmoothingKeepsTheLogits) {
  const GemmaDims d;
  const std::string dir = gemma_folder("gemma3_smooth", d);
  LoadedModel m = load_model(dir);
  CausalLm& lm = *m.model;
  const MatrixF before = lm.forward(kTokens);
  const float scale = 1.0f + before.cwiseAbs().maxCoeff();

  // 1. the whole pipeline: calibration, SmoothQuant factors, folding, no quantization
  const CalibrationStats stats = calibrate(lm, {kTokens});
  ModelQuantConfig c = preset_config("fp");
  c.smooth = true;
  c.alpha = 0.8f;
  const QuantizeModelReport r = quantize_model(lm, c, &stats);
  EXPECT_EQ(r.smoothing.size(), size_t(2 * d.layers));
  const MatrixF after = lm.forward(kTokens);
  EXPECT_LT((after - before).cwiseAbs().maxCoeff(), 1e-4f * scale);
  EXPECT_NE(lm.norm_weight("model.layers.0.input_layernorm"), LoadedModel(load_model(dir)).model->norm_weight(
                                                                    "model.layers.0.input_layernorm"));

  // 2. extreme random factors folded by hand
  LoadedModel m2 = load_model(dir);
  Rng rng(9);
  for (const SmoothGroup& g : m2.model->smooth_groups()) {
    const std::vector<float> e = rng.normal(size_t(d.hidden), 1.0f);
    VectorF s(d.hidden);
    for (int i = 0; i < d.hidden; ++i) s(i) = std::exp(std::clamp(e[size_t(i)], -3.0f, 3.0f));
    m2.model->divide_norm(g.norm, s);
    for (const std::string& n : g.layers) {
      const auto& f = dynamic_cast<const FloatLinear&>(m2.model->linear(n));
      MatrixF wt = f.weight();
      for (long o = 0; o < wt.rows(); ++o) wt.row(o).array() *= s.transpose().array();
      m2.model->set_linear(n, std::make_unique<FloatLinear>(wt, f.bias()));
    }
  }
  const MatrixF after2 = m2.model->forward(kTokens);
  EXPECT_LT((after2 - before).cwiseAbs().maxCoeff(), 1e-4f * scale);
  // Dividing a post-norm (not a group: nothing downstream compensates) moves
  // the logits: the test can fail.
  m2.model->divide_norm("model.layers.0.post_attention_layernorm", VectorF::Constant(d.hidden, 2.0f));
  EXPECT_GT((m2.model->forward(kTokens) - after2).cwiseAbs().maxCoeff(), 1e-3f);
  std::filesystem::remove_all(dir);
}

// Integer kernels promise the reference's bits: the whole model's logits are
// identical on every path, for W8A8 (smoothed), W4A16 groups and SmoothQuant+.
TEST(Gemma3Hf, EveryKernelPathGivesBitIdenticalLogits) {
  const GemmaDims d;
  const std::string dir = gemma_folder("gemma3_paths", d);
  LoadedModel base = load_model(dir);
  const CalibrationStats stats = calibrate(*base.model, {kTokens});
  const MatrixF fp = base.model->forward(kTokens);
  for (const char* preset : {"sq-o1", "sq-o3", "w4a16-g128", "sqplus-g128"}) {
    MatrixF ref;
    for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
      LoadedModel m = load_model(dir);
      QuantizeModelOptions o;
      o.path = p;
      quantize_model(*m.model, preset_config(preset), &stats, o);
      const MatrixF logits = m.model->forward(kTokens);
      if (p == kernels::KernelPath::kReference) {
        ref = logits;
        EXPECT_NE(ref, fp) << preset << " quantizes something";
        EXPECT_LT((ref - fp).cwiseAbs().maxCoeff(), 0.5f * (1.0f + fp.cwiseAbs().maxCoeff())) << preset;
      } else {
        EXPECT_EQ(logits, ref) << preset << " " << kernels::kernel_path_name(p);
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Gemma3Hf, PresetsRunThroughSqsimPpl) {
  const GemmaDims d;
  const std::string dir = gemma_folder("gemma3_ppl", d);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i) + "\n";
  write_text(dir + "/text.txt", text);
  for (const char* preset : {"fp", "sq-o1", "sqplus-g128"}) {
    const CliRun r = run(std::string("ppl --model ") + dir + " --text " + dir + "/text.txt --calib-text " + dir +
                         "/text.txt --calib-samples 4 --calib-seq-len 64 --holdout-tokens 64 --quant " + preset +
                         " --seq-len 64 --max-tokens 256 --threads 2");
    EXPECT_EQ(r.status, 0) << preset << ": " << r.out;
    EXPECT_NE(r.out.find("ppl"), std::string::npos) << r.out;
  }
  std::filesystem::remove_all(dir);
}

TEST(Gemma3Hf, RefusesBadConfigsAndTensorsNamingTheKey) {
  const GemmaDims d;
  struct Case {
    Overrides config;
    const char* message;
  } cases[] = {
      {{{"hidden_activation", "\"gelu\""}}, "\"hidden_activation\" must be \"gelu_pytorch_tanh\", got \"gelu\""},
      {{{"rope_parameters", "{\"full_attention\":{\"rope_type\":\"yarn\",\"factor\":8.0}}"}},
       "\"rope_parameters.full_attention\" rope_type \"yarn\" is not supported (default or linear)"},
      {{{"rope_parameters", "{\"sliding_attention\":{\"rope_type\":\"linear\",\"factor\":8.0}}"}},
       "\"rope_parameters.sliding_attention\" rope_type \"linear\" is not supported (default)"},
      {{{"use_bidirectional_attention", "true"}}, "\"use_bidirectional_attention\" true is not supported"},
      {{{"attn_logit_softcapping", "50.0"}}, "\"attn_logit_softcapping\" must be null"},
      {{{"dtype", "\"float64\""}}, "\"dtype\" \"float64\" is not supported"},
      {{{"attention_bias", "true"}}, "\"attention_bias\" true is not supported"},
      {{{"sliding_window", "null"}}, "\"sliding_window\" null is not supported"},
      {{{"layer_types", "[\"sliding_attention\"]"}}, "1 layer types for 3 layers"},
      {{{"layer_types", "[\"sliding_attention\",\"chunked_attention\",\"full_attention\"]"}},
       "\"layer_types\" entries must be"},
      {{{"num_key_value_heads", "3"}}, "head count 4 not a multiple of kv head count 3"},
      {{{"model_type", "\"gemma3\""}}, "config.json: missing key \"text_config\""},
  };
  const std::string dir = gemma_folder("gemma3_bad", d);
  for (const Case& c : cases) {
    write_text(dir + "/config.json", gemma_config(d, c.config));
    try {
      load_model(dir);
      ADD_FAILURE() << "accepted " << c.message;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
      EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  // a tensor whose shape disagrees with the config: file, tensor and shapes named
  write_text(dir + "/config.json", gemma_config(d));
  Weights w = gemma_weights(d, 3);
  w["model.layers.1.self_attn.k_norm.weight"] = {{uint64_t(d.head_dim + 1)}, std::vector<float>(d.head_dim + 1)};
  write_weights(dir, w, "F32");
  try {
    load_model(dir);
    ADD_FAILURE() << "accepted a misshapen k_norm";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor model.layers.1.self_attn.k_norm.weight has shape [41], expected [40]"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

// forward_windows (perplexity and eval batches) gives each window forward()'s
// bits, with a shared prefix too: RoPE tables and the sliding window are read
// at the window's absolute positions.
TEST(Gemma3Hf, WindowsAndPrefixesGiveTheForwardBits) {
  const GemmaDims d;
  const std::string dir = gemma_folder("gemma3_windows", d);
  LoadedModel m = load_model(dir);
  const std::vector<int32_t> a(kTokens.begin(), kTokens.begin() + 10), b(kTokens.begin() + 3, kTokens.end());
  const std::vector<int32_t> c = {9, 8, 7, 6, 5, 4};
  std::vector<int32_t> ac = a;
  ac.insert(ac.end(), c.begin(), c.end());
  const MatrixF fa = m.model->forward(a), fb = m.model->forward(b), fac = m.model->forward(ac);
  const MatrixF got = m.model->forward_windows({{a, 0, -1}, {b, 4, -1}, {c, 0, 0}});
  ASSERT_EQ(got.rows(), long(a.size() + b.size() - 4 + c.size()));
  EXPECT_EQ(MatrixF(got.topRows(10)), fa);
  EXPECT_EQ(MatrixF(got.middleRows(10, long(b.size()) - 4)), MatrixF(fb.bottomRows(long(b.size()) - 4)));
  EXPECT_EQ(MatrixF(got.bottomRows(long(c.size()))), MatrixF(fac.bottomRows(long(c.size()))));
  std::filesystem::remove_all(dir);
}
