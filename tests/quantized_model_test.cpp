// Quantized forward: the quantized linear layer in both emulation modes, the
// presets, smoothing folded into a real model, calibration, and a CI-sized
// quantized perplexity of SmolLM2 (skipped when the model is absent).
#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <fstream>
#include <random>

#include "tests/real_data.h"
#include "kernels/kernel_path.h"
#include "base/error.h"
#include "base/io.h"
#include "quant/model_quant_config.h"
#include "quant/quantize.h"
#include "quant/smoothing.h"
#include "sim/eval/calibration.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/llama_model.h"
#include "sim/models/load_model.h"
#include "sim/models/quantized_linear_layer.h"
#include "sim/formats/trace_file.h"
#include "tests/run_sqsim.h"

using namespace sqsim;

namespace {

using sqsim_test::kModel;
using sqsim_test::kWiki;
using sqsim_test::kPtbValid;
using sqsim_test::exists;


MatrixF random_matrix(long r, long c, float sd, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  MatrixF m(r, c);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}

// Activations with a few outlier channels, as in LLMs.
MatrixF activations(long tokens, long k, unsigned seed) {
  MatrixF x = random_matrix(tokens, k, 1.0f, seed);
  for (long r = 0; r < tokens; ++r) {
    x(r, 3) *= 40.0f;
    x(r, k / 2) *= 15.0f;
  }
  return x;
}

QuantizedLinearOptions options_of(const ModelQuantConfig& c, kernels::EmulationMode mode,
                                  kernels::KernelPath path = kernels::KernelPath::kAuto) {
  QuantizedLinearOptions o;
  o.weight = c.weight;
  o.act = c.act;
  o.mode = mode;
  o.path = path;
  return o;
}

}  // namespace

TEST(ModelPresets, EveryPresetOfTheIssueExistsAndValidates) {
  const std::vector<std::string> names = preset_names();
  for (const char* n : {"fp", "w8a8", "zeroquant", "sq-o1", "sq-o2", "sq-o3", "w8a8-pc", "sq-w8a8-pc", "w4a16-g64",
                        "w4a16-g128", "w4a16-g256", "sqplus-g64", "sqplus-g128", "sqplus-g256", "w4a8-sq"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    EXPECT_NO_THROW(preset_config(n).validate()) << n;
  }
  const ModelQuantConfig o3 = preset_config("sq-o3");
  EXPECT_TRUE(o3.smooth);
  EXPECT_EQ(o3.act.source, ScaleSource::kStatic);
  EXPECT_EQ(o3.act.granularity, Granularity::kPerTensor);
  const ModelQuantConfig g = preset_config("sqplus-g128");
  EXPECT_EQ(g.weight.bits, 4);
  EXPECT_FALSE(g.weight.symmetric);
  EXPECT_EQ(g.weight.group_size, 128);
  EXPECT_FALSE(g.act.enabled());
  try {
    preset_config("w3a3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sqplus-g128"), std::string::npos) << e.what();
  }
}

// Integer codes through the kernels and fake-quant floats compute the same
// quantized product; only float summation order differs. 576 with groups of
// 128 and 256 exercises the ragged last group (padded for the kernels).
TEST(QuantizedLinearLayer, IntegerAndFakeQuantAgreeForEveryPreset) {
  const MatrixF x = activations(48, 576, 1);
  const MatrixF w = random_matrix(160, 576, 0.05f, 2);
  VectorF bias = random_matrix(160, 1, 0.1f, 3).col(0);
  for (const std::string& n : preset_names()) {
    const ModelQuantConfig c = preset_config(n);
    if (!c.weight.enabled()) continue;
    QuantizedLinearOptions oi = options_of(c, kernels::EmulationMode::kInteger);
    QuantizedLinearOptions of = options_of(c, kernels::EmulationMode::kFakeQuant);
    if (c.act.source == ScaleSource::kStatic) {  // a calibrated range wider than this batch
      const MatrixF wider = x * 1.25f;
      oi.static_act = of.static_act = dynamic_params(wider, c.act, "calibration");
    }
    const QuantizedLinear a(w, bias, oi, n);
    const QuantizedLinear b(w, bias, of, n);
    EXPECT_TRUE(a.uses_integer_kernel()) << n;
    EXPECT_FALSE(b.uses_integer_kernel()) << n;
    const MatrixF ya = a.forward(x), yb = b.forward(x);
    EXPECT_LT((ya - yb).norm() / yb.norm(), 2e-6) << n;
    // and the quantization did something
    const MatrixF y = x * w.transpose();
    EXPECT_GT((yb.rowwise() - bias.transpose() - y).norm() / y.norm(), 1e-4) << n;
  }
}

// The kernels promise the reference's bits on every path: so do the layers.
TEST(QuantizedLinearLayer, EveryKernelPathGivesTheReferenceBits) {
  const MatrixF x = activations(33, 576, 4);
  const MatrixF w = random_matrix(96, 576, 0.05f, 5);
  for (const char* n : {"w8a8", "zeroquant", "w8a8-pc", "w4a16-g128", "w4a8-sq"}) {
    const ModelQuantConfig c = preset_config(n);
    const MatrixF ref =
        QuantizedLinear(w, {}, options_of(c, kernels::EmulationMode::kInteger, kernels::KernelPath::kReference), n)
            .forward(x);
    for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
      const MatrixF y = QuantizedLinear(w, {}, options_of(c, kernels::EmulationMode::kInteger, p), n).forward(x);
      EXPECT_EQ(y, ref) << n << " " << kernels::kernel_path_name(p);
    }
  }
}

TEST(QuantizedLinearLayer, RunTimeSmoothingKeepsTheFloatProduct) {
  const MatrixF x = activations(16, 64, 6);
  MatrixF w = random_matrix(8, 64, 0.1f, 7);
  const MatrixF y = x * w.transpose();
  const VectorF s = smoothing_factors(activation_column_absmax(x, "x"), weight_column_absmax({&w}, "w"), 0.5f, "t");
  MatrixF ws = w;
  smooth_weight(ws, s);
  QuantizedLinearOptions o;
  o.weight.bits = 16;
  o.act.bits = 16;
  o.runtime_divisor = s;
  const MatrixF ys = QuantizedLinear(ws, {}, o, "t").forward(x);
  EXPECT_LT((ys - y).norm() / y.norm(), 1e-6);
}

// q, k and v read one input (SharedInput): layers with the same activation
// quantization reuse one layer's codes, and every layer's output keeps the
// bits of its own forward, whatever preset and whichever layer came first.
TEST(QuantizedLinearLayer, SharedInputKeepsEachLayersBits) {
  const MatrixF x = activations(70, 576, 8);
  for (const std::string& n : preset_names()) {
    const ModelQuantConfig c = preset_config(n);
    QuantizedLinearOptions o = options_of(c, kernels::EmulationMode::kInteger);
    if (c.act.source == ScaleSource::kStatic) o.static_act = dynamic_params(x * 1.25f, c.act, "calibration");
    const QuantizedLinear q(random_matrix(96, 576, 0.05f, 9), {}, o, n + " q");
    const QuantizedLinear k(random_matrix(32, 576, 0.05f, 10), {}, o, n + " k");
    // another activation quantization reading the same input: its own codes
    QuantizedLinearOptions per_tensor = o;
    per_tensor.act.granularity = Granularity::kPerTensor;
    per_tensor.act.source = ScaleSource::kDynamic;
    per_tensor.static_act.reset();
    const QuantizedLinear v(random_matrix(32, 576, 0.05f, 11), {}, per_tensor, n + " v");
    // another static range: its own codes
    QuantizedLinearOptions wider = o;
    if (o.static_act) wider.static_act = dynamic_params(x * 2.0f, c.act, "calibration");
    const QuantizedLinear u(random_matrix(32, 576, 0.05f, 12), {}, wider, n + " u");
    const SharedInput in(x);
    EXPECT_EQ(q.forward_shared(in), q.forward(x)) << n;
    EXPECT_EQ(k.forward_shared(in), k.forward(x)) << n;
    EXPECT_EQ(v.forward_shared(in), v.forward(x)) << n;
    EXPECT_EQ(u.forward_shared(in), u.forward(x)) << n;
    EXPECT_EQ(k.forward_shared(in), k.forward(x)) << n << ", second time";
  }
}

TEST(QuantizedLinearLayer, NaNInputNamesLayerAndChannel) {
  const ModelQuantConfig c = preset_config("w8a8");
  const QuantizedLinear a(random_matrix(4, 8, 1, 1), {}, options_of(c, kernels::EmulationMode::kInteger),
                          "model.layers.2.mlp.up_proj");
  MatrixF x = MatrixF::Ones(3, 8);
  x(1, 5) = std::nanf("");
  try {
    a.forward(x);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model.layers.2.mlp.up_proj"), std::string::npos) << m;
    EXPECT_NE(m.find("5"), std::string::npos) << m;
  }
}

// W4A16 layers reading one input check it once it is found finite; a bad
// input fails in every reader, each naming itself as it would alone.
TEST(QuantizedLinearLayer, SharedBadInputFailsInEveryReader) {
  const ModelQuantConfig c = preset_config("w4a16-g128");
  const QuantizedLinearOptions o = options_of(c, kernels::EmulationMode::kInteger);
  const QuantizedLinear q(random_matrix(16, 576, 0.05f, 3), {}, o, "model.layers.4.self_attn.q_proj");
  const QuantizedLinear k(random_matrix(16, 576, 0.05f, 4), {}, o, "model.layers.4.self_attn.k_proj");
  MatrixF x = activations(5, 576, 6);
  x(3, 100) = std::numeric_limits<float>::infinity();
  const SharedInput in(x);
  for (const auto& [layer, name] : {std::pair{&q, "q_proj"}, std::pair{&k, "k_proj"}, std::pair{&q, "q_proj"}}) {
    try {
      layer->forward_shared(in);
      FAIL() << "no error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(std::string("model.layers.4.self_attn.") + name + " input: Inf at row 3, channel 100"),
                std::string::npos)
          << m;
    }
  }
}

TEST(Calibration, WindowsAreDeterministicAndInsideTheText) {
  std::vector<int32_t> ids(1000);
  for (int i = 0; i < 1000; ++i) ids[size_t(i)] = i;
  const auto a = calibration_windows(ids, 100, 7), b = calibration_windows(ids, 100, 7);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 7u);
  for (const auto& w : a) {
    ASSERT_EQ(w.size(), 100u);
    EXPECT_EQ(w.back() - w.front(), 99);
  }
  EXPECT_THROW(calibration_windows(std::vector<int32_t>(50), 100, 1), Error);
}

// ---- the real model ----

namespace {

std::vector<int32_t> text_ids(const LoadedModel& m, const std::string& path, size_t n) {
  std::vector<int32_t> ids = tokenize_document(m, read_text_file(path));
  ids.resize(std::min(ids.size(), n));
  return ids;
}

}  // namespace

// `sqsim tokenize --calib-windows` prints the windows quantized runs calibrate
// on (for references that must calibrate on the same tokens): the text's ids
// without the held-out tail, drawn by calibration_windows.
TEST(QuantizedModelReal, TokenizePrintsTheCalibrationWindows) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  const CliRun r = run("tokenize --calib-windows --model " + std::string(kModel) + " --text-file " +
                       std::string(kPtbValid) + " --calib-samples 3 --calib-seq-len 16 --holdout-tokens 1000");
  ASSERT_EQ(r.status, 0) << r.out;
  const LoadedModel m = load_model(kModel);
  std::vector<int32_t> ids = tokenize_document(m, read_text_file(kPtbValid));
  ids.resize(ids.size() - 1000);
  std::string expected;
  for (const auto& w : calibration_windows(ids, 16, 3)) {
    for (size_t i = 0; i < w.size(); ++i) expected += (i ? " " : "") + std::to_string(w[i]);
    expected += "\n";
  }
  EXPECT_EQ(r.out, expected);
}

// Smoothing with no quantization is an exact rewrite of the float model: the
// norms absorb 1/s and the weights s, so the logits do not move (beyond float
// rounding).
TEST(QuantizedModelReal, SmoothingAloneKeepsTheLogits) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  LoadedModel m = load_model(kModel);
  const std::vector<int32_t> ids = text_ids(m, kWiki, 24);
  const MatrixF before = m.model->forward(ids);
  const auto windows = calibration_windows(text_ids(m, kPtbValid, 4096), 64, 2);
  const CalibrationStats stats = calibrate(*m.model, windows);
  EXPECT_EQ(m.model->forward(ids), before) << "calibration must restore the model";
  ModelQuantConfig c = preset_config("fp");
  c.smooth = true;
  c.alpha = 0.8f;
  const QuantizeModelReport r = quantize_model(*m.model, c, &stats);
  EXPECT_EQ(r.smoothing.size(), 60u);  // 30 blocks x (attention input, MLP input)
  const MatrixF after = m.model->forward(ids);
  EXPECT_LT((after - before).cwiseAbs().maxCoeff(), 2e-3f);
}

namespace {

// Calibration shared by the tests below: 2 PTB-valid windows of 64 tokens.
const CalibrationStats& small_calibration() {
  static const CalibrationStats stats = [] {
    LoadedModel base = load_model(kModel);
    return calibrate(*base.model, calibration_windows(text_ids(base, kPtbValid, 8192), 64, 2));
  }();
  return stats;
}

double slice_ppl(const std::string& preset, kernels::EmulationMode mode) {
  LoadedModel m = load_model(kModel);
  QuantizeModelOptions o;
  o.mode = mode;
  quantize_model(*m.model, preset_config(preset), &small_calibration(), o);
  return perplexity(*m.model, text_ids(m, kWiki, 128), 64).ppl;
}

}  // namespace

// The CI check of the quantized forward: 128 tokens of WikiText-2 (2 windows
// of 64) through several presets, integer kernels, calibrated on 2 PTB-valid
// windows, against perplexities measured with this build. Presets that leave
// activations in float are stable to float rounding (1e-3). Presets that round
// activations to int8 are not: on so few tokens a change in the float parts'
// rounding (another GEMM, another exp) moves an activation across a rounding
// boundary and the perplexity by a few percent (seen: up to 6.5% between the
// Eigen and AVX-512 sgemm builds), so they get 10%, still far below what a
// wrong scale, smoothing or packing does (w8a8 vs sq-o1 differ by 80%).
TEST(QuantizedModelReal, SliceOfWikiTextMatchesStoredPerplexities) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  struct Case {
    const char* preset;
    double expected;
  };
  for (const Case& k : {Case{"fp", 44.963383}, Case{"w8a8", 90.432093}, Case{"sq-o1", 50.457358}, Case{"sq-o3", 94.758400},
                        Case{"w4a16-g128", 53.866009}, Case{"sqplus-g128", 59.453118}, Case{"w4a8-sq", 61.018234}}) {
    const double ppl = slice_ppl(k.preset, kernels::EmulationMode::kInteger);
    std::printf("%s %.6f\n", k.preset, ppl);
    const bool int8_acts = preset_config(k.preset).act.enabled();
    EXPECT_NEAR(ppl, k.expected, (int8_acts ? 0.1 : 1e-3) * k.expected) << k.preset;
  }
}

// Integer kernels and fake-quant floats compute the same quantized products;
// per layer they differ only in float summation order (relative 5e-7, see
// QuantizedLinearLayer.IntegerAndFakeQuantAgreeForEveryPreset), but through
// 30 layers such differences can flip activation rounding now and then, so
// perplexities agree closely, not bit for bit. W4A16 quantizes no activation.
TEST(QuantizedModelReal, IntegerAndFakeQuantPerplexitiesAgree) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  for (const char* preset : {"sq-o1", "w4a16-g128"}) {
    const double i = slice_ppl(preset, kernels::EmulationMode::kInteger);
    const double f = slice_ppl(preset, kernels::EmulationMode::kFakeQuant);
    std::printf("%s integer %.6f fake-quant %.6f\n", preset, i, f);
    // measured: 3.5% for sq-o1 on these 128 tokens, 6e-7 for w4a16-g128
    EXPECT_NEAR(i, f, (std::string(preset) == "w4a16-g128" ? 1e-5 : 0.1) * f) << preset;
  }
}

// Where the kernels promise the reference's bits (every integer path), the
// whole model's logits are bit-identical too.
TEST(QuantizedModelReal, EveryKernelPathGivesBitIdenticalLogits) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  std::vector<ModelQuantConfig> configs;
  for (const char* preset : {"sq-o1", "w4a8-sq", "w4a16-g128"}) configs.push_back(preset_config(preset));
  // The attention BMMs through the integer GEMM: per head and per token.
  for (BmmGranularity g : {BmmGranularity::kHead, BmmGranularity::kToken}) {
    ModelQuantConfig c = preset_config("sq-o1");
    c.bmm = bmm_scheme("int8-real");
    c.bmm.granularity = g;
    configs.push_back(c);
  }
  for (const ModelQuantConfig& config : configs) {
    const std::string preset = config.name + " BMM " + config.bmm.describe();
    MatrixF ref;
    for (kernels::KernelPath p : kernels::tested_kernel_paths()) {
      LoadedModel m = load_model(kModel);
      QuantizeModelOptions o;
      o.path = p;
      quantize_model(*m.model, config, &small_calibration(), o);
      const MatrixF logits = m.model->forward(text_ids(m, kWiki, 32));
      if (p == kernels::KernelPath::kReference) {
        ref = logits;
      } else {
        EXPECT_EQ(logits, ref) << preset << " " << kernels::kernel_path_name(p);
      }
    }
  }
}

// sqsim trace: the real model's layers, sample rows and absmax over every
// calibration token, smoothing groups; readable by the trace reader.
TEST(TraceCommand, WritesEveryLinearLayerOfTheRealModel) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  const std::string out = testing::TempDir() + "/sqsim_trace_test.h5";
  std::remove(out.c_str());
  const CliRun r = run("trace --model " + kModel + " --text " + kPtbValid +
                       " --tokens 16 --windows 2 --seq-len 32 --layers 'model.layers.1.*' --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  const TraceFile t = read_trace_file(out);
  ASSERT_EQ(t.layers.size(), 7u);
  for (const LayerTrace& l : t.layers) {
    EXPECT_EQ(l.input.rows(), 16) << l.name;
    ASSERT_TRUE(l.input_absmax.has_value()) << l.name;
    // absmax covers all 64 calibration tokens, the sample only 16 of them
    for (long c = 0; c < l.input.cols(); ++c)
      EXPECT_GE((*l.input_absmax)[c], l.input.col(c).cwiseAbs().maxCoeff()) << l.name;
  }
  auto find = [&](const std::string& n) -> const LayerTrace& {
    for (const LayerTrace& l : t.layers)
      if (l.name == n) return l;
    throw Error("missing " + n);
  };
  EXPECT_EQ(find("model.layers.1.self_attn.q_proj").smooth_group, "model.layers.1.input_layernorm");
  EXPECT_EQ(find("model.layers.1.self_attn.v_proj").smooth_group, "model.layers.1.input_layernorm");
  EXPECT_EQ(find("model.layers.1.mlp.up_proj").smooth_group, "model.layers.1.post_attention_layernorm");
  EXPECT_EQ(find("model.layers.1.mlp.down_proj").smooth_group, "");
  EXPECT_EQ(find("model.layers.1.mlp.down_proj").weight.cols(), 1536);
  EXPECT_NE(run("trace --model " + kModel + " --text " + kPtbValid + " --out " + out).status, 0)
      << "an existing file is not replaced without --force";
  std::remove(out.c_str());
}

TEST(QuantizeModel, LayerListRefusesEmptyItemsNamingTheOption) {
  // A one-block Llama of zeros: only its layer names matter here.
  LlamaConfig c;
  c.n_layers = 1;
  c.hidden = 8;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.ffn = 16;
  c.vocab = 10;
  c.validate("test config");
  WeightSource src;
  src.has = [](const std::string&) { return false; };
  src.load = [](const std::string&, long rows, long cols) { return MatrixF(MatrixF::Zero(rows, cols)); };
  const LlamaModel m = LlamaModel::from_weights(c, src);
  ModelQuantConfig q;
  q.layers = "model.layers.0.self_attn.*, lm_head";  // blanks around an item are removed, as in every list option
  const std::vector<std::string> attn_and_head = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                                                  "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                                                  "lm_head"};
  EXPECT_EQ(selected_layers(m, q), attn_and_head);
  for (const std::string bad : {"model.layers.0.*,,lm_head", "lm_head,", ",lm_head", " "}) {
    q.layers = bad;
    try {
      selected_layers(m, q);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--layers '" + bad + "': empty item"), std::string::npos) << e.what();
    }
  }
}
