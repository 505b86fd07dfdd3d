// The methods of the SmoothQuant paper's main table as whole-model presets:
// LLM.int8() and SmoothQuant + LLM.int8() (sim/models/llm_int8_layer.h), and
// calibration observers for static activation scales (quant/observers.h), on
// the real SmolLM2 model (skipped when it is absent) and as configurations.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "base/io.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/llm_int8_layer.h"
#include "sim/models/load_model.h"
#include "tests/real_data.h"

using namespace sqsim;

namespace {

void expect_error(const ModelQuantConfig& c, const std::string& needle) {
  try {
    c.validate();
    FAIL() << "no error, expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::vector<int32_t> ids_of(const LoadedModel& m, const std::string& path, size_t n) {
  std::vector<int32_t> ids = tokenize_document(m, read_text_file(path));
  ids.resize(std::min(ids.size(), n));
  return ids;
}

const CalibrationStats& calibration_with_samples() {
  static const CalibrationStats stats = [] {
    LoadedModel base = load_model(sqsim_test::kModel);
    CalibrationOptions o;
    o.sample_rows = 128;
    return calibrate(*base.model, calibration_windows(ids_of(base, sqsim_test::kPtbValid, 8192), 64, 2), o);
  }();
  return stats;
}

bool have_real() { return sqsim_test::exists(sqsim_test::kModel) && sqsim_test::exists(sqsim_test::kPtbValid); }

}  // namespace

TEST(ModelMethods, LlmInt8AndObserverConfigurationsValidateOrNameTheOption) {
  EXPECT_TRUE(preset_config("llm-int8").llm_int8);
  EXPECT_FALSE(preset_config("llm-int8").smooth);
  EXPECT_TRUE(preset_config("sq-llm-int8").smooth);
  ModelQuantConfig c = preset_config("llm-int8");
  c.llm_int8_threshold = 0;
  expect_error(c, "--llm-int8-threshold");
  c = preset_config("llm-int8");
  c.act.granularity = Granularity::kPerTensor;
  expect_error(c, "LLM.int8()");
  c = preset_config("sq-o1");
  c.act_observer = parse_observer("mse", "--observer");
  expect_error(c, "--observer mse");
  c = preset_config("sq-o3");
  c.act_observer = parse_observer("entropy", "--observer");
  EXPECT_NO_THROW(c.validate());
  EXPECT_NE(c.describe().find("observer entropy"), std::string::npos);
}

TEST(ModelMethods, LlmInt8DecomposesRealOutliersAndSmoothingLeavesFewer) {
  if (!have_real()) GTEST_SKIP() << "model or PTB absent";
  long columns[2] = {0, 0};
  double ppl[3] = {0, 0, 0};
  const char* presets[2] = {"llm-int8", "sq-llm-int8"};
  for (int p = 0; p < 2; ++p) {
    LoadedModel m = load_model(sqsim_test::kModel);
    const QuantizeModelReport r = quantize_model(*m.model, preset_config(presets[p]), &calibration_with_samples());
    EXPECT_EQ(r.quantized.size(), 210u);
    ppl[p] = perplexity(*m.model, ids_of(m, sqsim_test::kWiki, 128), 64).ppl;
    for (const std::string& n : r.quantized) {
      const auto* l = dynamic_cast<const LlmInt8Linear*>(&m.model->linear(n));
      ASSERT_NE(l, nullptr) << n;
      const LlmInt8LayerStats s = l->stats();
      EXPECT_EQ(s.calls, 2) << n;  // two windows
      columns[p] += long(s.columns.size());
      EXPECT_LE(s.float_mac_share(), 1.0);
    }
  }
  LoadedModel f = load_model(sqsim_test::kModel);
  ppl[2] = perplexity(*f.model, ids_of(f, sqsim_test::kWiki, 128), 64).ppl;
  std::printf("outlier columns: llm-int8 %ld, sq-llm-int8 %ld; ppl %.4f %.4f (fp %.4f)\n", columns[0], columns[1],
              ppl[0], ppl[1], ppl[2]);
  EXPECT_GT(columns[0], 0);               // SmolLM2 has activations beyond 6
  EXPECT_LT(columns[1], columns[0]);      // smoothing shrinks them below the threshold
  EXPECT_LT(std::fabs(ppl[0] / ppl[2] - 1), 0.05);  // close to float, as the paper's LLM.int8() row is
}

TEST(ModelMethods, ObserversChangeStaticScalesAndNeedSampleRows) {
  if (!have_real()) GTEST_SKIP() << "model or PTB absent";
  double ppl[2];
  const char* observers[2] = {"absmax", "mse"};
  for (int i = 0; i < 2; ++i) {
    LoadedModel m = load_model(sqsim_test::kModel);
    ModelQuantConfig c = preset_config("sq-o3");
    c.act_observer = parse_observer(observers[i], "--observer");
    quantize_model(*m.model, c, &calibration_with_samples());
    ppl[i] = perplexity(*m.model, ids_of(m, sqsim_test::kWiki, 128), 64).ppl;
    EXPECT_TRUE(std::isfinite(ppl[i]));
  }
  EXPECT_NE(ppl[0], ppl[1]);
  // Calibration without sample rows cannot feed an observer.
  LoadedModel m = load_model(sqsim_test::kModel);
  CalibrationStats no_rows = calibration_with_samples();
  for (auto& kv : no_rows) kv.second.sample.resize(0, kv.second.sample.cols());
  ModelQuantConfig c = preset_config("sq-o3");
  c.act_observer = parse_observer("percentile:99.9", "--observer");
  try {
    quantize_model(*m.model, c, &no_rows);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs calibration sample rows"), std::string::npos) << e.what();
  }
}

TEST(ModelMethods, GammaMigrationAloneKeepsTheLogitsAndOutlierSuppressionRuns) {
  if (!have_real()) GTEST_SKIP() << "model or PTB absent";
  LoadedModel f = load_model(sqsim_test::kModel);
  const std::vector<int32_t> ids = ids_of(f, sqsim_test::kWiki, 24);
  const MatrixF before = f.model->forward(ids);
  ModelQuantConfig c = preset_config("fp");
  c.gamma_migration = true;
  const QuantizeModelReport r = quantize_model(*f.model, c, nullptr);
  EXPECT_EQ(r.smoothing.size(), 60u);
  EXPECT_LT((f.model->forward(ids) - before).cwiseAbs().maxCoeff(), 2e-3f);

  LoadedModel m = load_model(sqsim_test::kModel);
  quantize_model(*m.model, preset_config("outlier-suppression"), &calibration_with_samples());
  const double ppl = perplexity(*m.model, ids_of(m, sqsim_test::kWiki, 128), 64).ppl;
  EXPECT_TRUE(std::isfinite(ppl));
  ModelQuantConfig bad = preset_config("outlier-suppression");
  bad.smooth = true;
  expect_error(bad, "gamma migration");
  CalibrationStats no_rows = calibration_with_samples();
  for (auto& kv : no_rows) kv.second.sample.resize(0, kv.second.sample.cols());
  LoadedModel m2 = load_model(sqsim_test::kModel);
  EXPECT_THROW(quantize_model(*m2.model, preset_config("outlier-suppression"), &no_rows), Error);
}
