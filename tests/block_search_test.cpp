// The block-by-block weight searches (docs/quantization.md, "GPTQ on a whole
// model", "AWQ"), checked on a small random Llama against the model's own
// whole-window forward with layers swapped in and inputs recorded by
// record_linear_inputs (a separate path: window by window, the whole model):
// the block-level forward's linear inputs, AWQ's module objective, and
// sequential GPTQ's Hessians.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>

#include "base/error.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/model_quant_config.h"
#include "quant/quantize.h"
#include "sim/eval/quantize_model.h"
#include "sim/eval/record_inputs.h"
#include "sim/eval/weight_calibration.h"
#include "sim/eval/weight_search.h"
#include "sim/models/llama_model.h"
#include "sim/models/opt_model.h"
#include "tests/random_weights.h"

using namespace sqsim;

namespace {

sqsim::WeightSource random_weights() { return sqsim_test::random_weights(0.3f, 0.2f); }

LlamaModel small_llama() {
  LlamaConfig c;
  c.n_layers = 3;
  c.hidden = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn = 96;
  c.vocab = 50;
  c.validate("small llama");
  return LlamaModel::from_weights(c, random_weights());
}

std::vector<std::vector<int32_t>> some_windows() {
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> w;
  for (long n : {40, 33, 40}) {
    std::vector<int32_t> t;
    for (long i = 0; i < n; ++i) t.push_back(int32_t(rng() % 50));
    w.push_back(t);
  }
  return w;
}

// The inputs of `layers` over the windows, one window after another, from the
// model's whole forward.
std::vector<MatrixF> recorded_inputs(LlamaModel& m, const std::vector<std::string>& layers,
                                     const std::vector<std::vector<int32_t>>& windows) {
  std::vector<MatrixF> out(layers.size());
  record_linear_inputs(m, layers, windows, [&](size_t i, const MatrixF& x) {
    MatrixF& o = out[i];
    o.conservativeResize(o.rows() + x.rows(), x.cols());
    o.bottomRows(x.rows()) = x;
  });
  return out;
}

MatrixF weight_of(const CausalLm& m, const std::string& n) {
  return dynamic_cast<const FloatLinear&>(m.linear(n)).weight();
}

std::string layer(int l, const char* rest) { return "model.layers." + std::to_string(l) + "." + rest; }

}  // namespace

TEST(BlockForward, ChainedBlocksSeeTheInputsOfTheWholeForward) {
  LlamaModel m = small_llama();
  const auto windows = some_windows();
  const std::vector<long> sizes = {40, 33, 40};
  MatrixF x = m.embed_windows(windows);
  for (int l = 0; l < 3; ++l) {
    CausalLm::BlockInputs in;
    x = m.forward_block(l, x, sizes, &in);
    const std::vector<MatrixF> rec = recorded_inputs(
        m, {layer(l, "self_attn.q_proj"), layer(l, "self_attn.o_proj"), layer(l, "mlp.up_proj"), layer(l, "mlp.down_proj")},
        windows);
    // The same operations on the same rows: the same bits.
    EXPECT_EQ((in.attn - rec[0]).cwiseAbs().maxCoeff(), 0.0f) << l;
    EXPECT_EQ((in.o - rec[1]).cwiseAbs().maxCoeff(), 0.0f) << l;
    EXPECT_EQ((in.mlp - rec[2]).cwiseAbs().maxCoeff(), 0.0f) << l;
    EXPECT_EQ((in.down - rec[3]).cwiseAbs().maxCoeff(), 0.0f) << l;
  }
  EXPECT_THROW(m.forward_block(3, x, sizes), Error);
  EXPECT_THROW(m.forward_block(0, x, {40, 33}), Error);  // rows of other windows
  OptConfig oc;
  oc.n_layers = 1, oc.hidden = 32, oc.n_heads = 4, oc.ffn = 48, oc.vocab = 40, oc.max_positions = 64;
  oc.validate("small opt");
  const OptModel opt = OptModel::from_weights(oc, random_weights());
  EXPECT_FALSE(opt.has_blocks());
  EXPECT_THROW(opt.embed_windows(windows), Error);
}

// Every ratio's loss against the model's own forward with the candidate
// weights swapped in: the attention module's output is o_proj applied to
// its recorded input, the MLP's down_proj applied to its recorded input.
TEST(AwqModuleObjective, EqualsTheWholeForwardWithScaledQuantizedWeights) {
  LlamaModel base = small_llama();
  const auto windows = some_windows();
  ModelQuantConfig c = preset_config("awq-g64");
  c.weight.group_size = 32;
  const std::vector<std::string> layers = selected_layers(base, c);
  const WeightCalibration cal = calibrate_weight_search(base, layers, windows, weight_calibration_needs(c, 64));
  const WeightSearchResult r = search_weights(base, c, layers, cal);
  const int l = 1;
  struct Case {
    std::string prev;
    std::vector<std::string> members;
    std::string out;  // the module's last layer
  };
  for (const Case& k : {Case{layer(l, "input_layernorm"),
                             {layer(l, "self_attn.q_proj"), layer(l, "self_attn.k_proj"), layer(l, "self_attn.v_proj")},
                             layer(l, "self_attn.o_proj")},
                        Case{layer(l, "post_attention_layernorm"), {layer(l, "mlp.gate_proj"), layer(l, "mlp.up_proj")},
                             layer(l, "mlp.down_proj")}}) {
    const AwqGroupScale* g = nullptr;
    for (const AwqGroupScale& s : r.awq_scales)
      if (s.prev == k.prev) g = &s;
    ASSERT_NE(g, nullptr) << k.prev;
    ASSERT_EQ(g->losses.size(), 20u);
    const MatrixF& wout = weight_of(base, k.out);
    const Eigen::MatrixXd ref =
        (recorded_inputs(base, {k.out}, windows)[0] * wout.transpose()).cast<double>();
    const VectorF a = cal.of(k.members.front()).mean_abs();
    double best = 1e300;
    float best_r = -1;
    for (int j = 0; j < 20; ++j) {
      LlamaModel m = small_llama();
      const VectorF s = awq_scales(a, float(j) / 20, k.prev);
      for (const std::string& n : k.members)
        m.set_linear(n, std::make_unique<FloatLinear>(awq_scaled_fake_quant(weight_of(base, n), s, c.weight, n)));
      const Eigen::MatrixXd y = (recorded_inputs(m, {k.out}, windows)[0] * wout.transpose()).cast<double>();
      const double loss = (y - ref).squaredNorm() / double(ref.size());
      EXPECT_NEAR(g->losses[size_t(j)], loss, 1e-4 * loss + 1e-12) << k.prev << " r=" << j / 20.0;
      if (loss < best) best = loss, best_r = float(j) / 20;
    }
    EXPECT_FLOAT_EQ(g->ratio, best_r) << k.prev;
  }
  // The linear objective gives other losses (the module's output is not the group's).
  c.awq_objective = ModelQuantConfig::AwqObjective::kLinear;
  const WeightSearchResult lin = search_weights(base, c, layers, cal);
  EXPECT_NE(lin.awq_scales[0].losses, r.awq_scales[0].losses);
}

// Sequential GPTQ's block-2 codes equal GPTQ on the Hessians of block 2's
// inputs recorded from the whole model with blocks 0 and 1 replaced by
// their GPTQ weights; the float-input codes differ.
TEST(SequentialGptq, HessiansComeFromTheModelWithEarlierBlocksQuantized) {
  LlamaModel base = small_llama();
  const auto windows = some_windows();
  ModelQuantConfig c = preset_config("gptq-g64");
  c.weight.group_size = 32;
  ASSERT_EQ(c.gptq_inputs, ModelQuantConfig::GptqInputs::kSequential);  // the default, as llama.py
  const std::vector<std::string> layers = selected_layers(base, c);
  const WeightCalibration cal = calibrate_weight_search(base, layers, windows, weight_calibration_needs(c, 0));
  EXPECT_TRUE(cal.inputs.begin()->second.tokens == 0);  // no calibration pass: the search runs the windows
  const WeightSearchResult seq = search_weights(base, c, layers, cal);
  ASSERT_EQ(seq.gptq.size(), layers.size());
  LlamaModel m = small_llama();
  for (const std::string& n : layers)
    if (n.rfind("model.layers.2.", 0) != 0) m.set_linear(n, std::make_unique<FloatLinear>(dequantize(seq.gptq.at(n))));
  const std::vector<std::string> block2 = {layer(2, "self_attn.k_proj"), layer(2, "self_attn.o_proj"),
                                           layer(2, "mlp.gate_proj"), layer(2, "mlp.down_proj")};
  const std::vector<MatrixF> rec = recorded_inputs(m, block2, windows);
  GptqOptions o;
  o.group_size = 32;
  ModelQuantConfig cf = c;
  cf.gptq_inputs = ModelQuantConfig::GptqInputs::kFloat;
  const WeightCalibration calf = calibrate_weight_search(base, layers, windows, weight_calibration_needs(cf, 0));
  const WeightSearchResult flt = search_weights(base, cf, layers, calf);
  long differ_float = 0;
  for (size_t i = 0; i < block2.size(); ++i) {
    const Eigen::MatrixXd x = rec[i].cast<double>();
    const MatrixD h = (2.0 / double(x.rows())) * (x.transpose() * x);
    const GptqResult want = gptq_quantize(weight_of(base, block2[i]), h, o, block2[i]);
    const QuantizedMatrix& got = seq.gptq.at(block2[i]);
    long differ = 0;
    for (size_t e = 0; e < want.q.codes.size(); ++e) differ += want.q.codes[e] != got.codes[e];
    for (size_t e = 0; e < want.q.codes.size(); ++e) differ_float += want.q.codes[e] != flt.gptq.at(block2[i]).codes[e];
    // float32 per-window products against float64 ones: a rare code at a rounding tie may flip
    EXPECT_LE(differ, long(want.q.codes.size() / 200)) << block2[i];
    std::printf("%s: %ld of %zu codes differ\n", block2[i].c_str(), differ, want.q.codes.size());
  }
  EXPECT_GT(differ_float, 0);  // the test tells the two inputs apart
  std::printf("float-input codes: %ld differ\n", differ_float);
  // OPT has no block forward: sequential is refused naming the option.
  try {
    OptConfig oc;
    oc.n_layers = 1, oc.hidden = 32, oc.n_heads = 4, oc.ffn = 48, oc.vocab = 40, oc.max_positions = 64;
    oc.validate("small opt");
    OptModel opt = OptModel::from_weights(oc, random_weights());
    const auto ls = selected_layers(opt, c);
    const WeightCalibration oc_cal = calibrate_weight_search(opt, ls, {{1, 2, 3}}, weight_calibration_needs(c, 0));
    search_weights(opt, c, ls, oc_cal);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--gptq-inputs"), std::string::npos) << e.what();
  }
}
