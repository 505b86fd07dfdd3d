// AWQ on OPT (sim/eval/weight_search.h): llm-awq's OPT pairs fc1 -> fc2 and
// v_proj -> out_proj are searched, and their scales fold into the previous
// layer's rows *and bias* (OPT's fc1 and v_proj have biases), so the scaled
// model computes what the float one does up to the weights' rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/quantize_model.h"
#include "sim/eval/weight_calibration.h"
#include "sim/eval/weight_search.h"
#include "sim/models/load_model.h"
#include "tests/hf_fixtures.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

const AwqGroupScale* find_group(const WeightSearchResult& r, const std::string& prev) {
  for (const AwqGroupScale& g : r.awq_scales)
    if (g.prev == prev) return &g;
  return nullptr;
}

double max_abs(const MatrixF& a) { return double(a.cwiseAbs().maxCoeff()); }

TEST(AwqOpt, PairsFoldIntoFc1AndVProjWithTheirBiases) {
  const OptDims d;  // 2 blocks, hidden 32, ffn 64, 16 positions
  const std::string dir = temp_dir("awq_opt");
  write_text(dir + "/config.json", opt_config(d));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, kBosTemplate));
  write_weights(dir, opt_weights(d, 21), "F32");
  LoadedModel base = load_model(dir);

  ModelQuantConfig c = preset_config("awq-g128");
  c.weight.bits = 8;  // fine weights: what is left of the fold is visible
  c.weight.group_size = 32;
  c.validate();
  const std::vector<std::string> layers = selected_layers(*base.model, c);
  ASSERT_EQ(layers.size(), 12u);
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> windows(4, std::vector<int32_t>(16));
  for (auto& w : windows)
    for (int32_t& t : w) t = int32_t(rng() % 256);
  const WeightCalibration cal = calibrate_weight_search(*base.model, layers, windows, weight_calibration_needs(c, 64));
  const WeightSearchResult r = search_weights(*base.model, c, layers, cal, {});
  // Per block: q/k/v after the attention norm, v -> out_proj, fc1 after the
  // final norm, fc1 -> fc2.
  ASSERT_EQ(r.awq_scales.size(), 8u);
  for (int b = 0; b < 2; ++b) {
    const std::string p = "model.decoder.layers." + std::to_string(b) + ".";
    const AwqGroupScale* fc = find_group(r, p + "fc1");
    ASSERT_NE(fc, nullptr) << p;
    EXPECT_FALSE(fc->prev_is_norm);
    EXPECT_EQ(fc->layers, std::vector<std::string>{p + "fc2"});
    const AwqGroupScale* vo = find_group(r, p + "self_attn.v_proj");
    ASSERT_NE(vo, nullptr) << p;
    EXPECT_EQ(vo->layers, std::vector<std::string>{p + "self_attn.out_proj"});
  }

  // Scales 0.5 and 2 on the two pairs (AWQ's transform is exact in real arithmetic for any
  // positive s), clips dropped: the model must stay as close to the float one
  // as with s = 1. A bias left unscaled shifts fc2's and out_proj's inputs by
  // b * (1 - 1/s), far more than 8-bit rounding.
  const std::vector<int32_t> ids = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1, 250};
  const MatrixF ref = base.model->forward(ids);
  auto logits_with = [&](float lo, float hi) {
    WeightSearchResult w = r;
    w.awq_clip.clear();
    for (AwqGroupScale& g : w.awq_scales)
      for (long j = 0; j < g.scales.size(); ++j) g.scales[j] = g.prev_is_norm ? 1.0f : j % 2 ? lo : hi;
    LoadedModel m = load_model(dir);
    QuantizeModelOptions qo;
    qo.weight_search = &w;
    quantize_model(*m.model, c, nullptr, qo);
    return m.model->forward(ids);
  };
  const double err_one = max_abs(logits_with(1.0f, 1.0f) - ref);
  const double err_far = max_abs(logits_with(0.5f, 2.0f) - ref);
  EXPECT_GT(err_one, 0.0);
  // Measured: 0.35 (s = 1), 0.46 (s = 0.5 / 2), 2.2 with the bias unscaled.
  EXPECT_LT(err_far, 2 * err_one) << "s = 1: " << err_one;
  fs::remove_all(dir);
}

}  // namespace
