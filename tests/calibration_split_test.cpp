// Calibration in parts (sim/eval/calibration.h), as an MPI job's ranks make
// it: consecutive runs of windows calibrated separately, an empty part among
// them, merged in window order, equal bit for bit to one calibrate(); and the
// shared input recorder puts the model back when a forward throws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/io.h"
#include "sim/eval/calibration.h"
#include "sim/eval/record_inputs.h"
#include "sim/models/load_model.h"
#include "tests/real_data.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

std::vector<int32_t> text_ids(const LoadedModel& m, const std::string& path, size_t n) {
  std::vector<int32_t> ids = tokenize_document(m, read_text_file(path));
  ids.resize(std::min(ids.size(), n));
  return ids;
}

bool same_bits(const MatrixF& a, const MatrixF& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0);
}
bool same_bits(const VectorF& a, const VectorF& b) {
  return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0);
}

TEST(CalibrationSplit, PartsMergedInWindowOrderEqualOneCalibration) {
  if (!exists(kModel) || !exists(kPtbValid)) GTEST_SKIP() << "model or PTB absent";
  LoadedModel m = load_model(kModel);
  const auto windows = calibration_windows(text_ids(m, kPtbValid, 4096), 24, 5);
  CalibrationOptions o;
  o.sample_rows = 13;  // not a multiple of the 5 windows: the last rows are cut
  const CalibrationStats whole = calibrate(*m.model, windows, o);

  const long per_window = calibration_rows_per_window(o.sample_rows, windows.size());
  EXPECT_EQ(per_window, 3);
  const std::vector<std::vector<std::vector<int32_t>>> parts = {
      {windows[0], windows[1]}, {}, {windows[2], windows[3], windows[4]}};
  CalibrationStats merged;
  for (const auto& p : parts) merge_calibration(merged, calibrate_part(*m.model, p, per_window));
  keep_sample_rows(merged, o.sample_rows);

  ASSERT_EQ(merged.size(), whole.size());
  for (const auto& [name, w] : whole) {
    const LayerInputStats& s = merged.at(name);
    EXPECT_EQ(s.tokens, w.tokens) << name;
    EXPECT_EQ(s.tokens, 5 * 24) << name;
    EXPECT_TRUE(same_bits(s.absmax, w.absmax)) << name;
    EXPECT_TRUE(same_bits(s.min, w.min)) << name;
    EXPECT_TRUE(same_bits(s.max, w.max)) << name;
    EXPECT_EQ(s.sample.rows(), 13) << name;
    EXPECT_TRUE(same_bits(s.sample, w.sample)) << name;
  }
}

TEST(CalibrationSplit, RecorderPutsTheModelBackWhenAnObserverThrows) {
  if (!exists(kModel) || !exists(kWiki)) GTEST_SKIP() << "model or WikiText-2 absent";
  LoadedModel m = load_model(kModel);
  const std::vector<int32_t> ids = text_ids(m, kWiki, 16);
  const MatrixF before = m.model->forward(ids);
  const std::vector<std::string> layers = {"model.layers.0.self_attn.q_proj", "model.layers.3.mlp.down_proj"};
  size_t seen = 0;
  EXPECT_THROW(record_linear_inputs(*m.model, layers, {ids},
                                    [&](size_t i, const MatrixF&) {
                                      if (i == 1) throw Error("planted");
                                      ++seen;
                                    }),
               Error);
  EXPECT_EQ(seen, 1u);
  EXPECT_TRUE(same_bits(m.model->forward(ids), before)) << "the recorders must be gone";
}

}  // namespace
