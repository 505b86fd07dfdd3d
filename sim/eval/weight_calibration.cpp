#include "sim/eval/weight_calibration.h"

#include <set>

#include "base/error.h"
#include "sim/eval/record_inputs.h"

namespace sqsim {

VectorF WeightInputStats::mean_abs() const {
  if (tokens == 0) return VectorF();
  return (sum_abs / double(tokens)).cast<float>();
}

const WeightInputStats& WeightCalibration::of(const std::string& layer) const {
  const auto k = input_of.find(layer);
  if (k == input_of.end()) throw Error(layer + ": no weight-search calibration for this layer's input");
  const auto it = inputs.find(k->second);
  if (it == inputs.end() || it->second.tokens == 0)
    throw Error(layer + ": the weight-search calibration saw no input of this layer");
  return it->second;
}

void add_window_xtx(MatrixD& upper, const MatrixF& x) {
  const long K = x.cols();
  if (upper.size() == 0) upper = MatrixD::Zero(K, K);
  if (upper.rows() != K || upper.cols() != K)
    throw Error("x^T x: [" + std::to_string(upper.rows()) + " x " + std::to_string(upper.cols()) + "] sum for " +
                std::to_string(K) + " columns");
  // One float32 symmetric rank update per window (lower triangle), then
  // the float64 sum: the product is the cost, the sum the precision.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> p = Eigen::MatrixXf::Zero(K, K);
  p.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  // p's lower triangle (column-major) into the upper one (row-major):
  // both walks are contiguous.
  for (long c = 0; c < K; ++c)
    for (long r = c; r < K; ++r) upper(c, r) += double(p(r, c));
}

void mirror_xtx(MatrixD& upper) { upper.triangularView<Eigen::StrictlyLower>() = upper.transpose(); }

WeightCalibration calibrate_weight_search(CausalLm& model, const std::vector<std::string>& layers,
                                          const std::vector<std::vector<int32_t>>& windows,
                                          const WeightCalibrationOptions& options) {
  if (windows.empty()) throw Error("weight-search calibration: no windows");
  WeightCalibration cal;
  cal.windows = windows;
  const std::set<std::string> wanted(layers.begin(), layers.end());
  for (const SmoothGroup& g : model.smooth_groups())
    for (const std::string& n : g.layers)
      if (wanted.count(n)) cal.input_of[n] = g.layers.front();
  for (const std::string& n : layers)
    if (!cal.input_of.count(n)) cal.input_of[n] = n;
  std::vector<std::string> keys;
  for (const auto& [layer, key] : cal.input_of)
    if (!cal.inputs.count(key)) {
      cal.inputs[key];  // no insertion while recording
      keys.push_back(key);
    }
  // Nothing to keep (sequential GPTQ): no pass; the search runs the windows itself.
  if (!options.xtx && !options.mean_abs && !options.absmax && options.sample_rows <= 0) return cal;
  const long per_window =
      options.sample_rows > 0 ? (options.sample_rows + long(windows.size()) - 1) / long(windows.size()) : 0;
  std::vector<WeightInputStats*> stats;
  for (const std::string& k : keys) stats.push_back(&cal.inputs[k]);
  auto observe = [&](size_t i, const MatrixF& x) {
    WeightInputStats& s = *stats[i];
    const long K = x.cols();
    if (s.tokens == 0) {
      if (options.xtx) s.xtx = MatrixD::Zero(K, K);
      if (options.mean_abs) s.sum_abs = Eigen::VectorXd::Zero(K);
      if (options.absmax) s.absmax = VectorF::Zero(K);
    }
    if (options.xtx) add_window_xtx(s.xtx, x);
    if (options.mean_abs) s.sum_abs += x.cwiseAbs().colwise().sum().transpose().cast<double>();
    if (options.absmax) s.absmax = s.absmax.cwiseMax(x.cwiseAbs().colwise().maxCoeff().transpose());
    s.tokens += x.rows();
    append_spread_rows(s.sample, x, per_window);
  };
  record_linear_inputs(model, keys, windows, observe, options.progress);
  for (auto& [k, s] : cal.inputs) {
    if (options.xtx && s.tokens > 0) mirror_xtx(s.xtx);
    if (options.sample_rows > 0 && s.sample.rows() > options.sample_rows)
      s.sample.conservativeResize(options.sample_rows, s.sample.cols());
  }
  return cal;
}

}  // namespace sqsim
