#include "sim/eval/calibration.h"

#include <algorithm>
#include <limits>
#include <random>

#include "base/error.h"
#include "sim/eval/record_inputs.h"

namespace sqsim {

std::vector<std::vector<int32_t>> calibration_windows(const std::vector<int32_t>& ids, int seq_len, int count,
                                                      uint64_t seed) {
  if (seq_len < 1 || count < 1) throw Error("calibration: need seq-len >= 1 and at least one sample");
  if (ids.size() < size_t(seq_len))
    throw Error("calibration: the text has " + std::to_string(ids.size()) + " tokens, fewer than one window of " +
                std::to_string(seq_len));
  std::mt19937_64 rng(seed);
  const uint64_t span = ids.size() - size_t(seq_len) + 1;
  std::vector<size_t> starts(static_cast<size_t>(count));
  for (size_t& s : starts) s = size_t(rng() % span);
  std::sort(starts.begin(), starts.end());
  std::vector<std::vector<int32_t>> out;
  for (size_t s : starts) out.emplace_back(ids.begin() + long(s), ids.begin() + long(s) + seq_len);
  return out;
}

long calibration_rows_per_window(long sample_rows, size_t windows) {
  return sample_rows > 0 && windows > 0 ? (sample_rows + long(windows) - 1) / long(windows) : 0;
}

CalibrationStats calibrate_part(CausalLm& model, const std::vector<std::vector<int32_t>>& windows,
                                long rows_per_window, const std::function<void(size_t, size_t)>& progress) {
  const std::vector<std::string> names = model.linear_names();
  std::vector<LayerInputStats> stats(names.size());
  auto observe = [&](size_t i, const MatrixF& x) {
    LayerInputStats& s = stats[i];
    if (s.tokens == 0) {
      s.absmax = VectorF::Zero(x.cols());
      s.min = VectorF::Constant(x.cols(), std::numeric_limits<float>::infinity());
      s.max = VectorF::Constant(x.cols(), -std::numeric_limits<float>::infinity());
    }
    for (long r = 0; r < x.rows(); ++r) {
      const auto row = x.row(r).transpose();
      s.absmax = s.absmax.cwiseMax(row.cwiseAbs());
      s.min = s.min.cwiseMin(row);
      s.max = s.max.cwiseMax(row);
    }
    s.tokens += x.rows();
    append_spread_rows(s.sample, x, rows_per_window);
  };
  record_linear_inputs(model, names, windows, observe, progress);
  CalibrationStats out;
  for (size_t i = 0; i < names.size(); ++i) out.emplace(names[i], std::move(stats[i]));
  return out;
}

void merge_calibration(CalibrationStats& into, CalibrationStats&& later) {
  for (auto& [name, s] : later) {
    if (s.tokens == 0) continue;  // a part that saw no window (more parts than windows)
    LayerInputStats& t = into[name];
    if (t.tokens == 0) {
      t = std::move(s);
      continue;
    }
    if (t.absmax.size() != s.absmax.size() || t.sample.cols() != s.sample.cols())
      throw Error("calibration: the parts of " + name + " disagree on the channel count");
    t.absmax = t.absmax.cwiseMax(s.absmax);
    t.min = t.min.cwiseMin(s.min);
    t.max = t.max.cwiseMax(s.max);
    t.tokens += s.tokens;
    const long old = t.sample.rows();
    t.sample.conservativeResize(old + s.sample.rows(), s.sample.cols());
    t.sample.bottomRows(s.sample.rows()) = s.sample;
  }
}

void keep_sample_rows(CalibrationStats& stats, long sample_rows) {
  if (sample_rows <= 0) return;
  for (auto& [n, s] : stats)
    if (s.sample.rows() > sample_rows) s.sample.conservativeResize(sample_rows, s.sample.cols());
}

CalibrationStats calibrate(CausalLm& model, const std::vector<std::vector<int32_t>>& windows,
                           const CalibrationOptions& options) {
  if (windows.empty()) throw Error("calibration: no windows");
  CalibrationStats stats =
      calibrate_part(model, windows, calibration_rows_per_window(options.sample_rows, windows.size()),
                     options.progress);
  keep_sample_rows(stats, options.sample_rows);
  return stats;
}

}  // namespace sqsim
