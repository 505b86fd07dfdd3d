// AWQ (quant/awq.h) against independent float64 computations written from
// docs/quantization.md, "AWQ": the scale formula, the search objective over
// explicit input rows, and the clip search; then the whole-model searches
// (sim/eval/weight_search.h) on the real SmolLM2 model (skipped when absent).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "base/error.h"
#include "base/io.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "sim/models/quantized_linear_layer.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/quantize_model.h"
#include "sim/eval/weight_calibration.h"
#include "sim/eval/weight_search.h"
#include "sim/eval/weight_search_file.h"
#include "quant/quantize.h"
#include "sim/models/load_model.h"
#include "tests/real_data.h"
#include "tests/run_sqsim.h"

using namespace sqsim;

namespace {

QuantSpec group_spec(int g) {
  QuantSpec s;
  s.bits = 4;
  s.symmetric = false;
  s.granularity = Granularity::kPerGroup;
  s.group_size = g;
  return s;
}

// Inputs with a few strong channels, as real activations have.
MatrixF random_input(long rows, long k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  MatrixF x(rows, k);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < k; ++c) x(r, c) = n(rng) * (c % 7 == 3 ? 12.0f : 1.0f);
  return x;
}

MatrixF random_weight(long n, long k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  MatrixF w(n, k);
  for (long r = 0; r < n; ++r)
    for (long c = 0; c < k; ++c) w(r, c) = d(rng);
  return w;
}

// The asymmetric group quantizer as docs/quantization.md writes it, in float32.
MatrixF direct_group_fake_quant(const MatrixF& w, long gs) {
  MatrixF q = w;
  for (long n = 0; n < w.rows(); ++n)
    for (long c0 = 0; c0 < w.cols(); c0 += gs) {
      const long c1 = std::min<long>(w.cols(), c0 + gs);
      float lo = w(n, c0), hi = w(n, c0);
      for (long c = c0; c < c1; ++c) lo = std::min(lo, w(n, c)), hi = std::max(hi, w(n, c));
      const float s = std::max(hi - lo, 1e-5f) / 15.0f;
      const float zp = std::min(std::max(std::nearbyint(-lo / s), 0.0f), 15.0f);
      for (long c = c0; c < c1; ++c) {
        const float code = std::min(std::max(std::nearbyint(w(n, c) / s) + zp, 0.0f), 15.0f);
        q(n, c) = (code - zp) * s;
      }
    }
  return q;
}

// mean over rows and outputs of (X W'^T - X W^T)^2, W' = Q(W diag(s)) / s, in float64.
double direct_loss(const MatrixF& x, const std::vector<MatrixF>& ws, const Eigen::VectorXd& s, long gs) {
  double sum = 0;
  long outputs = 0;
  for (const MatrixF& w : ws) {
    MatrixF scaled = w;
    for (long c = 0; c < w.cols(); ++c) scaled.col(c) *= float(s[c]);
    MatrixF q = direct_group_fake_quant(scaled, gs);
    for (long c = 0; c < w.cols(); ++c) q.col(c) /= float(s[c]);
    const Eigen::MatrixXd d = x.cast<double>() * (q - w).cast<double>().transpose();
    sum += d.squaredNorm();
    outputs += w.rows();
  }
  return sum / (double(x.rows()) * double(outputs));
}

Eigen::VectorXd direct_scales(const MatrixF& x, double r) {
  Eigen::VectorXd s(x.cols());
  for (long c = 0; c < x.cols(); ++c) {
    double a = 0;
    for (long t = 0; t < x.rows(); ++t) a += std::fabs(double(x(t, c)));
    s[c] = std::max(std::pow(a / double(x.rows()), r), 1e-4);
  }
  return s / std::sqrt(s.maxCoeff() * s.minCoeff());
}

}  // namespace

TEST(Awq, ScalesAndObjectiveEqualADirectFloat64Computation) {
  // K = 40 with groups of 16: the last group (8 columns) is ragged.
  const MatrixF x = random_input(96, 40, 1);
  const std::vector<MatrixF> ws = {random_weight(8, 40, 2), random_weight(12, 40, 3)};
  const QuantSpec spec = group_spec(16);
  const VectorF mean_abs = x.cwiseAbs().colwise().mean().transpose();
  const Eigen::MatrixXf gram = (x.cast<double>().transpose() * x.cast<double>() / double(x.rows())).cast<float>();
  std::vector<const MatrixF*> ptrs = {&ws[0], &ws[1]};
  const std::vector<float> grid = awq_ratio_grid(20);
  ASSERT_EQ(grid.size(), 20u);
  EXPECT_FLOAT_EQ(grid[19], 0.95f);
  const AwqScaleResult res = awq_search_scales(gram, ptrs, mean_abs, grid, spec, "test");
  size_t best = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    const Eigen::VectorXd s = direct_scales(x, grid[i]);
    const VectorF mine = awq_scales(mean_abs, grid[i], "test");
    EXPECT_LT(((mine.cast<double>() - s).array().abs() / s.array()).maxCoeff(), 2e-5) << "r " << grid[i];
    const double want = direct_loss(x, ws, mine.cast<double>(), 16);
    EXPECT_NEAR(res.losses[i], want, 1e-4 * want) << "r " << grid[i];
    if (res.losses[i] < res.losses[best]) best = i;
  }
  EXPECT_EQ(res.ratio, grid[best]);
  // The strong channels make r > 0 pay off.
  EXPECT_GT(res.ratio, 0.0f);
  EXPECT_LT(res.losses[best], res.losses[0]);
}

TEST(Awq, ClipSearchEqualsADirectSearchOverRows) {
  const MatrixF x = random_input(64, 40, 4);
  MatrixF w = random_weight(6, 40, 5);
  w(2, 5) = 0.6f;  // an outlier weight that clipping should cut
  const QuantSpec spec = group_spec(16);
  const MatrixF clip = awq_search_clip(x, w, spec, "test");
  ASSERT_EQ(clip.rows(), 6);
  ASSERT_EQ(clip.cols(), 3);
  for (long n = 0; n < w.rows(); ++n)
    for (long g = 0; g < 3; ++g) {
      const long c0 = g * 16, width = std::min<long>(16, 40 - c0);
      const MatrixF wg = w.block(n, c0, 1, width);
      const float m0 = wg.cwiseAbs().maxCoeff();
      double best_err = INFINITY;
      float best = m0;
      for (int k = 0; k < 10; ++k) {
        const float m = m0 * (1.0f - float(k) / 20.0f);
        const MatrixF q = direct_group_fake_quant(wg.cwiseMax(-m).cwiseMin(m), width);
        const Eigen::VectorXd d =
            x.middleCols(c0, width).cast<double>() * (q - wg).cast<double>().transpose();
        const double e = d.squaredNorm() / double(x.rows());
        if (e < best_err) best_err = e, best = m;
      }
      EXPECT_FLOAT_EQ(clip(n, g), best) << "row " << n << " group " << g;
    }
  EXPECT_LT(clip(2, 0), 0.6f);
  MatrixF clipped = w;
  awq_apply_clip(clipped, clip, spec);
  EXPECT_LE(clipped.cwiseAbs().maxCoeff(), clip.maxCoeff());
}

TEST(Awq, RefusesBadGridsRatiosAndCombinations) {
  EXPECT_THROW(awq_ratio_grid(0), Error);
  const VectorF a = VectorF::Constant(4, 1.0f);
  EXPECT_THROW(awq_scales(a, 1.0f, "t"), Error);
  EXPECT_THROW(awq_scales(a, -0.05f, "t"), Error);
  VectorF zero = VectorF::Zero(4);
  zero[0] = 2.0f;
  const VectorF s = awq_scales(zero, 0.5f, "t");  // a dead channel: s floored at 1e-4 before normalizing
  EXPECT_TRUE(s.allFinite());
  ModelQuantConfig c = preset_config("awq-g128");
  c.smooth = true;
  EXPECT_THROW(c.validate(), Error);
  c = preset_config("gptq-g64");
  c.gptq_damp = 0;
  try {
    c.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--gptq-damp"), std::string::npos) << e.what();
  }
  c = preset_config("awq-g64");
  c.weight.symmetric = true;
  EXPECT_THROW(c.validate(), Error);
}

TEST(WeightSearch, AwqAndGptqPresetsOnTheRealModel) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(sqsim_test::kPtbValid))
    GTEST_SKIP() << "model or PTB absent";
  LoadedModel base = load_model(sqsim_test::kModel);
  std::vector<int32_t> ids = tokenize_document(base, read_text_file(sqsim_test::kPtbValid));
  ids.resize(4096);
  const auto windows = calibration_windows(ids, 64, 2);
  for (const char* name : {"awq-g128", "gptq-g128", "w4a8-sq-awq"}) {
    ModelQuantConfig c = preset_config(name);
    c.layers = "model.layers.0.*";
    c.gptq_inputs = ModelQuantConfig::GptqInputs::kFloat;  // the calibration pass's Hessians
    const std::vector<std::string> layers = selected_layers(*base.model, c);
    ASSERT_EQ(layers.size(), 7u);
    const WeightCalibration cal = calibrate_weight_search(*base.model, layers, windows, weight_calibration_needs(c, 128));
    EXPECT_EQ(cal.of("model.layers.0.self_attn.k_proj").tokens, 128);
    std::vector<std::string> warnings;
    WeightSearchOptions so;
    so.warn = [&](const std::string& w) { warnings.push_back(w); };
    const WeightSearchResult r = search_weights(*base.model, c, layers, cal, so);
    if (c.weight_method == ModelQuantConfig::WeightMethod::kAwq) {
      // q/k/v after the norm, gate/up after the norm, up -> down; no v -> o (GQA).
      ASSERT_EQ(r.awq_scales.size(), 3u);
      EXPECT_EQ(r.awq_scales[2].prev, "model.layers.0.mlp.up_proj");
      EXPECT_FALSE(r.awq_scales[2].prev_is_norm);
      // not q_proj, k_proj; none with int8 activations (w4a8-sq-awq)
      EXPECT_EQ(r.awq_clip.size(), c.act.enabled() ? 0u : 5u);
      // w4a8-sq-awq: 21 alphas, then 20 r.
      EXPECT_EQ(r.awq_scales[0].losses.size(), c.act.enabled() ? 41u : 20u);
    } else {
      EXPECT_EQ(r.gptq.size(), 7u);
      EXPECT_FALSE(warnings.empty());  // 128 tokens for 576 columns
    }
    LoadedModel m = load_model(sqsim_test::kModel);
    QuantizeModelOptions qo;
    qo.weight_search = &r;
    const QuantizeModelReport rep = quantize_model(*m.model, c, nullptr, qo);
    EXPECT_EQ(rep.quantized.size(), 7u);
    std::vector<int32_t> eval = tokenize_document(m, read_text_file(sqsim_test::kWiki));
    eval.resize(128);
    EXPECT_TRUE(std::isfinite(perplexity(*m.model, eval, 64).ppl));
    LoadedModel m2 = load_model(sqsim_test::kModel);
    EXPECT_THROW(quantize_model(*m2.model, c, nullptr), Error);  // no search result
  }
}

TEST(WeightSearch, GptqBeatsRoundToNearestOnTheSearchTokensOfBlockZero) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(sqsim_test::kPtbValid))
    GTEST_SKIP() << "model or PTB absent";
  LoadedModel base = load_model(sqsim_test::kModel);
  std::vector<int32_t> ids = tokenize_document(base, read_text_file(sqsim_test::kPtbValid));
  ids.resize(8192);
  ModelQuantConfig c = preset_config("gptq-g128");
  c.layers = "model.layers.0.*";
  c.gptq_inputs = ModelQuantConfig::GptqInputs::kFloat;  // (block 0's inputs are float either way)
  const std::vector<std::string> layers = selected_layers(*base.model, c);
  WeightCalibrationOptions o = weight_calibration_needs(c, 0);
  o.sample_rows = 4096;  // every token: the Hessian's own rows
  const WeightCalibration cal = calibrate_weight_search(*base.model, layers, calibration_windows(ids, 512, 8), o);
  const WeightSearchResult r = search_weights(*base.model, c, layers, cal);
  for (const std::string& n : layers) {
    const WeightInputStats& in = cal.of(n);
    ASSERT_EQ(in.sample.rows(), in.tokens) << n;
    const Eigen::MatrixXd x = in.sample.cast<double>();
    const Eigen::MatrixXd xtx = x.transpose() * x;
    EXPECT_LT((xtx - in.xtx).cwiseAbs().maxCoeff(), 1e-4 * xtx.cwiseAbs().maxCoeff()) << n;
    const MatrixF& w = dynamic_cast<const FloatLinear&>(base.model->linear(n)).weight();
    const MatrixF y = in.sample * w.transpose();
    const double e_gptq = (in.sample * dequantize(r.gptq.at(n)).transpose() - y).cast<double>().squaredNorm();
    const double e_rtn = (in.sample * fake_quantize(w, c.weight, n).transpose() - y).cast<double>().squaredNorm();
    EXPECT_LT(e_gptq, e_rtn) << n;
    std::printf("%s: output error GPTQ/RTN %.3f\n", n.c_str(), e_gptq / e_rtn);
  }
}

TEST(WeightSearchFile, RoundTripsExactlyAndRefusesAnotherKey) {
  WeightSearchResult r;
  r.method = ModelQuantConfig::WeightMethod::kAwq;
  AwqGroupScale g;
  g.prev = "model.layers.0.mlp.up_proj";
  g.prev_is_norm = false;
  g.layers = {"model.layers.0.mlp.down_proj"};
  g.ratio = 0.35f;
  g.scales = VectorF::LinSpaced(5, 0.3f, 1.7f);
  g.losses = {1.5, 0.25, 1e-9};
  r.awq_scales.push_back(g);
  r.awq_clip["model.layers.0.mlp.down_proj"] = random_weight(3, 2, 7);
  const MatrixF w = random_weight(4, 40, 8);
  r.gptq["x"] = quantize(w, group_spec(16), "x");
  r.gptq_loss["x"] = 0.125;
  const std::string path = testing::TempDir() + "/awq_test.search";
  write_file_atomic(path, weight_search_file_bytes("model a\nwindows 8\n", r));
  WeightSearchResult back;
  ASSERT_TRUE(read_weight_search_file(path, "model a\nwindows 8\n", &back));
  ASSERT_EQ(back.awq_scales.size(), 1u);
  EXPECT_EQ(back.awq_scales[0].prev, g.prev);
  EXPECT_FALSE(back.awq_scales[0].prev_is_norm);
  EXPECT_EQ(back.awq_scales[0].layers, g.layers);
  EXPECT_EQ(back.awq_scales[0].ratio, g.ratio);
  EXPECT_EQ(back.awq_scales[0].scales, g.scales);
  EXPECT_EQ(back.awq_scales[0].losses, g.losses);
  EXPECT_EQ(back.awq_clip.at("model.layers.0.mlp.down_proj"), r.awq_clip.at("model.layers.0.mlp.down_proj"));
  EXPECT_EQ(back.gptq.at("x").codes, r.gptq.at("x").codes);
  EXPECT_EQ(back.gptq.at("x").params.scale, r.gptq.at("x").params.scale);
  EXPECT_EQ(back.gptq.at("x").params.zero_point, r.gptq.at("x").params.zero_point);
  EXPECT_EQ(dequantize(back.gptq.at("x")), dequantize(r.gptq.at("x")));
  EXPECT_EQ(back.gptq_loss.at("x"), 0.125);
  try {
    read_weight_search_file(path, "model b\nwindows 8\n", &back);
    FAIL() << "another model's search was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model a' here, 'model b' now"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::string bytes = read_file(path);
  write_file_atomic(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_THROW(read_weight_search_file(path, "model a\nwindows 8\n", &back), Error);
  EXPECT_FALSE(read_weight_search_file(path + ".absent", "k", &back));
}

TEST(WeightSearchCli, BadOptionsAreOneLineErrorsNamingTheOption) {
  struct Case {
    const char* args;
    const char* needle;
  };
  const Case cases[] = {
      {"ppl --quant gptq-g128 --gptq-damp 0 --max-tokens 64", "--gptq-damp"},
      {"ppl --quant gptq-g128 --gptq-damp -1 --max-tokens 64", "--gptq-damp"},
      {"ppl --quant w4a16-g128 --gptq-act-order --max-tokens 64", "--gptq-act-order"},
      {"ppl --quant awq-g128 --awq-grid 0 --max-tokens 64", "--awq-grid"},
      {"ppl --quant gptq-g64 --awq-grid 10 --max-tokens 64", "--awq-grid"},
      {"ppl --quant awq-g64 --search-windows 0 --max-tokens 64", "--search-windows"},
      {"ppl --quant awq-g64 --smooth true --max-tokens 64", "AWQ"},
      // a directory that cannot be made: refused before any search
      {"ppl --quant gptq-g64 --search-cache /proc/self/status/x --max-tokens 64", "--search-cache"},
  };
  for (const Case& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << c.args << ": " << r.out;
  }
}

TEST(WeightSearch, AQuantizedLinearFromGptqCodesComputesWithThoseCodes) {
  // K = 40, groups of 16 (ragged last group), as GPTQ hands them over.
  const MatrixF x = random_input(24, 40, 9);
  const MatrixF w = random_weight(8, 40, 10);
  const MatrixD h = (x.cast<double>().transpose() * x.cast<double>()) * (2.0 / 24.0);
  GptqOptions go;
  go.group_size = 16;
  const GptqResult g = gptq_quantize(w, h, go, "t");
  for (auto mode : {kernels::EmulationMode::kInteger, kernels::EmulationMode::kFakeQuant}) {
    QuantizedLinearOptions o;
    o.weight = group_spec(16);
    o.act.bits = 16;  // W4A16
    o.mode = mode;
    o.quantized_weight = &g.q;
    const QuantizedLinear layer(w, VectorF(), o, "t");
    const MatrixF want = x * dequantize(g.q).transpose();
    EXPECT_LT((layer.forward(x) - want).cwiseAbs().maxCoeff(), 1e-4f * want.cwiseAbs().maxCoeff());
    EXPECT_EQ(layer.dequantized_weight(), dequantize(g.q));
  }
}
