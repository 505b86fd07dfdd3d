// The Llama-like families (Mistral, Qwen2, Qwen3, Phi-3) and RoPE scaling:
// each variant's piece against a hand-computed or independent value, then
// whole synthetic models: smoothing keeps their logits, Phi-3's fused layers
// equal Llama's split ones, every kernel path gives the reference's bits,
// and Hugging Face folders with unsupported features or misshapen fused
// tensors are refused naming the file and the key or tensor. The logits
// against transformers: tests/python/test_hf_llama_variants.py.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "base/error.h"
#include "kernels/kernel_path.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/quantize_model.h"
#include "sim/formats/json.h"
#include "sim/models/attention.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/llama_model.h"
#include "sim/models/load_model.h"
#include "sim/models/rope_scaling.h"
#include "tests/hf_fixtures.h"
#include "tests/llama_variant_fixtures.h"
#include "tests/run_sqsim.h"
#include "tests/random_weights.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

constexpr double kPi = 3.14159265358979323846;

sqsim::WeightSource random_weights() { return sqsim_test::random_weights(0.2f, 0.3f); }

// A small config of each family (sizes that groups of 64 divide).
LlamaConfig small_config(const std::string& arch) {
  LlamaConfig c;
  c.arch = arch;
  c.n_layers = 2;
  c.hidden = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn = 128;
  c.vocab = 50;
  c.rope_style = RopeStyle::Half;
  if (arch == "mistral") c.sliding_window = 5;
  if (arch == "qwen2") c.qkv_bias = true;
  if (arch == "qwen3") c.qk_norm = true, c.head_dim = 32;  // q = 128 != hidden
  if (arch == "phi3") c.fused = true;
  c.validate(arch);
  return c;
}

std::vector<int32_t> tokens(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = int32_t(rng() % 50);
  return t;
}

double max_rel_err(const MatrixF& got, const MatrixF& want) {
  return ((got - want).cwiseAbs().array() / (1.0f + want.cwiseAbs().array())).maxCoeff();
}

const char* const kFamilies[] = {"mistral", "qwen2", "qwen3", "phi3"};

}  // namespace

// ---------------------------------------------------------------- pieces

TEST(SlidingWindow, EachQuerySeesItsLastWindowOfKeysOnHookedAndUnhookedPaths) {
  const long T = 9, d = 4, W = 3;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  MatrixF q(T, d), k(T, d), v(T, d);
  for (MatrixF* m : {&q, &k, &v})
    for (long i = 0; i < m->size(); ++i) m->data()[i] = nd(rng);
  const MatrixF got = causal_attention(q, k, v, 1, 1, int(d), {}, 0, W);
  AttentionMatmuls hooked;  // a heads hook with float products: the whole-window path
  hooked.heads = [](int, const MatrixF&, const MatrixF&, const MatrixF&, int) { return HeadMatmuls{}; };
  const MatrixF got_hooked = causal_attention(q, k, v, 1, 1, int(d), hooked, 0, W);
  for (long t = 0; t < T; ++t) {
    // softmax over keys max(0, t-W+1)..t, in double
    std::vector<double> p;
    double sum = 0;
    for (long j = std::max(0L, t - W + 1); j <= t; ++j) {
      p.push_back(std::exp(double(q.row(t).dot(k.row(j))) / std::sqrt(double(d))));
      sum += p.back();
    }
    for (long c = 0; c < d; ++c) {
      double o = 0;
      for (long j = std::max(0L, t - W + 1), i = 0; j <= t; ++j, ++i) o += p[size_t(i)] / sum * v(j, c);
      EXPECT_NEAR(got(t, c), o, 1e-5) << t << "," << c;
      EXPECT_NEAR(got_hooked(t, c), o, 1e-5) << t << "," << c;
    }
  }
  // a window at least T long is plain causal attention, bit for bit
  EXPECT_EQ(causal_attention(q, k, v, 1, 1, int(d), {}, 0, T), causal_attention(q, k, v, 1, 1, int(d)));
}

TEST(HeadRmsNorm, NormalizesEveryHeadOnItsOwn) {
  MatrixF x(1, 4);
  x << 3, 4, 1, -1;
  VectorF w(2);
  w << 2, 0.5f;
  head_rms_norm(x, w, 2, 0.0f);
  // head 0: rms sqrt(12.5); head 1: rms 1
  EXPECT_NEAR(x(0, 0), 3 / std::sqrt(12.5) * 2, 1e-6);
  EXPECT_NEAR(x(0, 1), 4 / std::sqrt(12.5) * 0.5, 1e-6);
  EXPECT_NEAR(x(0, 2), 2.0, 1e-6);
  EXPECT_NEAR(x(0, 3), -0.5, 1e-6);
}

TEST(RopeScaling, EachVariantFollowsItsFormula) {
  const int d = 8;
  const double base = 10000;
  auto plain = [&](int i) { return std::pow(base, -2.0 * i / d); };
  RopeScaling s;
  RopeFrequencies f = rope_frequencies(s, d, base, 10);
  ASSERT_EQ(f.inv_freq.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(f.inv_freq[size_t(i)], plain(i));

  s.type = "linear", s.factor = 4;
  f = rope_frequencies(s, d, base, 10);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(f.inv_freq[size_t(i)], plain(i) / 4);
  EXPECT_EQ(f.attention_factor, 1.0);

  // dynamic NTK: plain up to max_positions, then base * (f L / max - (f - 1))^(d / (d - 2))
  s.type = "dynamic", s.factor = 2, s.max_positions = 16;
  EXPECT_DOUBLE_EQ(rope_frequencies(s, d, base, 16).inv_freq[1], plain(1));
  const double grown = base * std::pow(2.0 * 32 / 16 - 1.0, 8.0 / 6.0);
  EXPECT_NEAR(rope_frequencies(s, d, base, 32).inv_freq[1], std::pow(grown, -2.0 / 8), 1e-15);

  // llama3 with original context 2π·100: wavelengths 2π·10000^(i/4) are 2π, 2π·10, 2π·100, 2π·1000;
  // low_freq_wavelen = 2π·100, high = 2π·25: pair 3 divided, pairs 0, 1 kept, pair 2 blended (smooth 0)
  s = RopeScaling{};
  s.type = "llama3", s.factor = 8, s.low_freq_factor = 1, s.high_freq_factor = 4, s.original_max = 0;
  s.original_max = int(std::round(2 * kPi * 100));  // 628: wavelength 2π·100 ≈ 628.3 > 628
  f = rope_frequencies(s, d, base, 10);
  EXPECT_DOUBLE_EQ(f.inv_freq[0], plain(0));
  EXPECT_DOUBLE_EQ(f.inv_freq[1], plain(1));
  EXPECT_DOUBLE_EQ(f.inv_freq[3], plain(3) / 8);
  EXPECT_DOUBLE_EQ(f.inv_freq[2], plain(2) / 8);  // wavelen 628.3 > 628: the low-frequency side
  s.original_max = 1000;  // pair 2: wavelen 628.3 between 250 and 1000, smooth = (1000/628.3 - 1) / 3
  f = rope_frequencies(s, d, base, 10);
  const double sm = (1000 / (2 * kPi * 100) - 1) / 3;
  EXPECT_NEAR(f.inv_freq[2], (1 - sm) * plain(2) / 8 + sm * plain(2), 1e-15);

  // yarn: attention factor 0.1 ln(factor) + 1; the fastest pair kept, the slowest interpolated
  s = RopeScaling{};
  s.type = "yarn", s.factor = 4, s.original_max = 64;
  f = rope_frequencies(s, d, base, 10);
  EXPECT_NEAR(f.attention_factor, 0.1 * std::log(4.0) + 1, 1e-15);
  EXPECT_DOUBLE_EQ(f.inv_freq[0], plain(0));
  EXPECT_DOUBLE_EQ(f.inv_freq[3], plain(3) / 4);
  s.attention_factor = 0.75;
  EXPECT_EQ(rope_frequencies(s, d, base, 10).attention_factor, 0.75);

  // longrope: short factors up to the original context, long ones after; sqrt(1 + ln f / ln orig)
  s = RopeScaling{};
  s.type = "longrope", s.factor = 0, s.original_max = 16, s.max_positions = 64;  // factor 0: 64 / 16
  s.short_factor = {1, 2, 3, 4}, s.long_factor = {5, 6, 7, 8};
  EXPECT_DOUBLE_EQ(rope_frequencies(s, d, base, 16).inv_freq[2], plain(2) / 3);
  f = rope_frequencies(s, d, base, 17);
  EXPECT_DOUBLE_EQ(f.inv_freq[2], plain(2) / 7);
  EXPECT_NEAR(f.attention_factor, std::sqrt(1 + std::log(4.0) / std::log(16.0)), 1e-15);
  s.short_factor.pop_back();
  EXPECT_THROW(rope_frequencies(s, d, base, 3), Error);
}

// ---------------------------------------------------------------- whole models

TEST(LlamaVariants, SmoothingGroupsFollowTheFamily) {
  const LlamaModel phi3 = LlamaModel::from_weights(small_config("phi3"), random_weights());
  const std::vector<SmoothGroup> g = phi3.smooth_groups();
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0].norm, "model.layers.0.input_layernorm");
  EXPECT_EQ(g[0].layers, std::vector<std::string>{"model.layers.0.self_attn.qkv_proj"});
  EXPECT_EQ(g[1].layers, std::vector<std::string>{"model.layers.0.mlp.gate_up_proj"});
  EXPECT_EQ(phi3.linear("model.layers.1.self_attn.qkv_proj").in_features(), 64);
  EXPECT_EQ(phi3.linear("model.layers.1.self_attn.qkv_proj").out_features(), 64 + 2 * 32);
  EXPECT_EQ(phi3.linear("model.layers.1.mlp.gate_up_proj").out_features(), 256);
  EXPECT_EQ(phi3.architecture(), "phi3");
  // Qwen3's q_norm / k_norm feed no linear layer: not groups, but norms by name
  const LlamaModel qwen3 = LlamaModel::from_weights(small_config("qwen3"), random_weights());
  ASSERT_EQ(qwen3.smooth_groups().size(), 4u);
  EXPECT_EQ(qwen3.smooth_groups()[1].norm, "model.layers.0.post_attention_layernorm");
  EXPECT_EQ(qwen3.norm_weight("model.layers.1.self_attn.k_norm").size(), 32);
  EXPECT_EQ(qwen3.linear("model.layers.0.self_attn.o_proj").in_features(), 128);
}

// SmoothQuant's factors folded into the norms and the weights (no
// quantization) keep every family's logits, fused layers included.
TEST(LlamaVariants, SmoothingKeepsTheLogitsOfEveryFamily) {
  for (const char* arch : kFamilies) {
    LlamaModel m = LlamaModel::from_weights(small_config(arch), random_weights());
    const std::vector<int32_t> t = tokens(12, 1);
    const MatrixF before = m.forward(t);
    const CalibrationStats stats = calibrate(m, {tokens(16, 2), tokens(16, 3)});
    ModelQuantConfig smooth_only = preset_config("fp");  // float weights and activations
    smooth_only.smooth = true;
    smooth_only.alpha = 0.8f;
    const QuantizeModelReport r = quantize_model(m, smooth_only, &stats);
    ASSERT_EQ(r.smoothing.size(), 4u) << arch;
    EXPECT_GT(r.smoothing[0].act_absmax_before, r.smoothing[0].act_absmax_after * 1.01f) << arch;
    EXPECT_LT(max_rel_err(m.forward(t), before), 1e-4) << arch;
  }
}

// Phi-3's fused qkv_proj / gate_up_proj are Llama's q, k, v / gate, up stacked by rows.
TEST(LlamaVariants, FusedPhi3EqualsLlamaWithTheSplitWeights) {
  const LlamaConfig pc = small_config("phi3");
  const LlamaModel phi3 = LlamaModel::from_weights(pc, random_weights());
  LlamaConfig lc = small_config("llama");
  const WeightSource fused = random_weights();
  WeightSource split;
  split.has = fused.has;
  split.load = [&](const std::string& name, long rows, long cols) {
    auto part = [&](const std::string& from, long first) {
      const long total = from.find("qkv") != std::string::npos ? 128 : 256;
      return MatrixF(fused.load(from, total, cols).middleRows(first, rows));
    };
    const std::string p = name.substr(0, name.find("self_attn.") != std::string::npos ? name.find("self_attn.")
                                                                                      : name.find("mlp."));
    if (name.find("q_proj") != std::string::npos) return part(p + "self_attn.qkv_proj.weight", 0);
    if (name.find("k_proj") != std::string::npos) return part(p + "self_attn.qkv_proj.weight", 64);
    if (name.find("v_proj") != std::string::npos) return part(p + "self_attn.qkv_proj.weight", 96);
    if (name.find("gate_proj") != std::string::npos) return part(p + "mlp.gate_up_proj.weight", 0);
    if (name.find("up_proj") != std::string::npos) return part(p + "mlp.gate_up_proj.weight", 128);
    return fused.load(name, rows, cols);
  };
  const LlamaModel llama = LlamaModel::from_weights(lc, split);
  const std::vector<int32_t> t = tokens(10, 4);
  EXPECT_LT(max_rel_err(phi3.forward(t), llama.forward(t)), 1e-5);
}

// Quantized presets through the integer kernels: every path the reference's bits.
TEST(LlamaVariants, EveryKernelPathGivesTheReferenceLogits) {
  for (const char* arch : kFamilies) {
    for (const char* preset : {"sq-o1", "sqplus-g64"}) {
      MatrixF ref;
      for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
        LlamaModel m = LlamaModel::from_weights(small_config(arch), random_weights());
        const CalibrationStats stats = calibrate(m, {tokens(16, 2), tokens(16, 3)});
        QuantizeModelOptions o;
        o.path = p;
        quantize_model(m, preset_config(preset), &stats, o);
        const MatrixF logits = m.forward(tokens(12, 1));
        ASSERT_TRUE(logits.allFinite()) << arch << " " << preset;
        if (p == kernels::KernelPath::kReference)
          ref = logits;
        else
          EXPECT_EQ(logits, ref) << arch << " " << preset << " " << kernels::kernel_path_name(p);
      }
    }
  }
}

// ---------------------------------------------------------------- Hugging Face folders

namespace {

JsonValue parse_json_cfg(const std::string& text) { return parse_json(text, "cfg"); }

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(HfLlamaVariants, Phi3FolderLoadsAndMisshapenFusedTensorsAreRefused) {
  std::string dir = variant_dir("phi3", variant_config("phi3"), phi3_weights(64));
  const LoadedModel m = load_model(dir);
  EXPECT_EQ(m.model->architecture(), "phi3");
  EXPECT_TRUE(m.model->forward({1, 2, 3}).allFinite());
  std::filesystem::remove_all(dir);

  dir = variant_dir("phi3bad", variant_config("phi3"), phi3_weights(96));  // q + 2 kv = 64, not 96
  EXPECT_EQ(load_error(dir), dir + ": tensor model.layers.0.self_attn.qkv_proj.weight has shape [96, 32], "
                                   "expected [64, 32] from config.json");
  std::filesystem::remove_all(dir);
}

TEST(HfLlamaVariants, RefusesUnsupportedFeaturesNamingFileAndKey) {
  const std::string dir = variant_dir("variants_bad", "{}", phi3_weights(64));
  struct Case {
    std::string config;
    const char* message;
  } cases[] = {
      {variant_config("qwen2", {{"rope_scaling", R"({"rope_type":"mrope","factor":2})"}}),
       "\"rope_scaling.rope_type\" \"mrope\" is not supported"},
      {variant_config("mistral", {{"rope_parameters", R"({"rope_type":"fancy","rope_theta":1e4})"}}),
       "\"rope_parameters.rope_type\" \"fancy\" is not supported"},
      {variant_config("llama", {{"rope_scaling", R"({"rope_type":"llama3","factor":8})"}}),
       "\"rope_scaling.low_freq_factor\" must be positive"},
      {variant_config("qwen2", {{"rope_scaling", R"({"rope_type":"linear"})"}}),
       "\"rope_scaling.factor\" must be positive"},
      {variant_config("phi3", {{"rope_scaling", R"({"type":"su","short_factor":[1,"x"],"long_factor":[1]})"}}),
       "\"rope_scaling.short_factor\" must hold positive numbers"},
      {variant_config("phi3", {{"partial_rotary_factor", "0.75"}}), "\"partial_rotary_factor\" other than 1"},
      {variant_config("qwen3", {{"attention_bias", "true"}}), "\"attention_bias\" true is not supported"},
      {variant_config("qwen2", {{"use_sliding_window", "true"}, {"layer_types", R"(["full_attention"])"}}),
       "\"layer_types\" must be an array of 2 strings"},
      {variant_config("mistral", {{"sliding_window", "0"}}), "\"sliding_window\" must be a positive integer"},
      {variant_config("qwen3", {{"head_dim", "-8"}}), "\"head_dim\" must be a positive integer"},
  };
  for (const Case& c : cases) {
    write_text(dir + "/config.json", c.config);
    const std::string e = load_error(dir);
    EXPECT_EQ(e.rfind(dir + "/config.json", 0), 0u) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.config << " -> " << e;
  }
  std::filesystem::remove_all(dir);
}

TEST(HfLlamaVariants, ConfigFlagsPerFamily) {
  LlamaConfig c = llama_config_from_hf(parse_json_cfg(variant_config(
                                           "qwen2", {{"use_sliding_window", "true"}, {"sliding_window", "4"},
                                                     {"max_window_layers", "1"}})),
                                       "cfg");
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.window_of(0), 0);
  EXPECT_EQ(c.window_of(1), 4);
  c = llama_config_from_hf(parse_json_cfg(variant_config("qwen2", {{"sliding_window", "4"}})), "cfg");
  EXPECT_EQ(c.window_of(1), 0);  // use_sliding_window false: no window
  c = llama_config_from_hf(parse_json_cfg(variant_config("mistral", {{"sliding_window", "4"}})), "cfg");
  EXPECT_EQ(c.window_of(0), 4);
}

// The quantized presets through `sqsim ppl` on a tiny checkpoint of each
// family, integer kernels: --kernel reference and auto print one perplexity.
TEST(HfLlamaVariants, QuantizedPresetsRunThroughPplOnEveryKernelPath) {
  const std::string text = temp_dir("variants_text") + "/text.txt";
  std::string words;
  for (int i = 0; i < 300; ++i) words += "the cat sat on the mat " + std::to_string(i * 7919 % 1000) + ".\n";
  write_text(text, words);
  for (const char* arch : kFamilies) {
    const Overrides o = std::string(arch) == "qwen3" ? Overrides{{"head_dim", "32"}} : Overrides{};
    const std::string dir = variant_dir(std::string("ppl_") + arch, variant_config(arch, o, 128, 256),
                                        variant_weights(arch, 128, 256));
    for (const char* preset : {"sq-o1", "sqplus-g128"}) {
      std::string first;
      for (const char* kernel : {"reference", "auto"}) {
        const CliRun r = run("ppl --model " + dir + " --text " + text + " --calib-text " + text +
                             " --calib-samples 4 --calib-seq-len 64 --holdout-tokens 64 --seq-len 64"
                             " --max-tokens 512 --quant " + preset + " --kernel " + kernel);
        ASSERT_EQ(r.status, 0) << arch << " " << preset << " " << kernel << ": " << r.out;
        const size_t at = r.out.find("perplexity ");
        ASSERT_NE(at, std::string::npos) << r.out;
        const std::string all = std::string(arch) == "phi3" ? "8/8" : "14/14";  // Phi-3: 4 fused layers a block
        EXPECT_NE(r.out.find(all + " layers quantized/integer"), std::string::npos) << r.out;
        const std::string ppl = r.out.substr(at, r.out.find(" (", at) - at);
        if (first.empty())
          first = ppl;
        else
          EXPECT_EQ(ppl, first) << arch << " " << preset;
      }
    }
    std::filesystem::remove_all(dir);
  }
  std::filesystem::remove_all(std::filesystem::path(text).parent_path());
}
