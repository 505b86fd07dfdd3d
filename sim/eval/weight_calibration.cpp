#include "sim/eval/weight_calibration.h"

#include <algorithm>
#include <memory>
#include <set>

#include "base/error.h"

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

namespace {

// Delegates to the layer it wraps and folds every input into the statistics.
class SearchRecorder : public LinearLayer {
 public:
  SearchRecorder(int in, int out, WeightInputStats* stats, std::string name, const WeightCalibrationOptions& o,
                 long rows_per_window)
      : in_(in), out_(out), stats_(stats), name_(std::move(name)), opt_(o), rows_per_window_(rows_per_window) {}
  void set_inner(std::unique_ptr<LinearLayer> inner) { inner_ = std::move(inner); }
  std::unique_ptr<LinearLayer> release() { return std::move(inner_); }

  MatrixF forward(const MatrixF& x) const override {
    require_finite(x, name_ + " input", "channel");
    WeightInputStats& s = *stats_;
    const long K = x.cols();
    if (s.tokens == 0) {
      if (opt_.xtx) s.xtx = MatrixD::Zero(K, K);
      if (opt_.mean_abs) s.sum_abs = Eigen::VectorXd::Zero(K);
      if (opt_.absmax) s.absmax = VectorF::Zero(K);
    }
    if (opt_.xtx) {
      // One float32 symmetric rank update per window (lower triangle), then
      // the float64 sum: the product is the cost, the sum the precision.
      Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> p = Eigen::MatrixXf::Zero(K, K);
      p.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
      // p's lower triangle (column-major) into xtx's upper one (row-major):
      // both walks are contiguous.
      for (long c = 0; c < K; ++c)
        for (long r = c; r < K; ++r) s.xtx(c, r) += double(p(r, c));
    }
    if (opt_.mean_abs) s.sum_abs += x.cwiseAbs().colwise().sum().transpose().cast<double>();
    if (opt_.absmax) s.absmax = s.absmax.cwiseMax(x.cwiseAbs().colwise().maxCoeff().transpose());
    s.tokens += x.rows();
    if (rows_per_window_ > 0) {
      const long n = std::min<long>(rows_per_window_, x.rows());
      const long old = s.sample.rows();
      s.sample.conservativeResize(old + n, K);
      for (long i = 0; i < n; ++i) s.sample.row(old + i) = x.row(i * x.rows() / n);
    }
    return inner_->forward(x);
  }
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }

 private:
  int in_, out_;
  std::unique_ptr<LinearLayer> inner_;
  WeightInputStats* stats_;
  std::string name_;
  WeightCalibrationOptions opt_;
  long rows_per_window_;
};

}  // namespace

WeightCalibration calibrate_weight_search(CausalLm& model, const std::vector<std::string>& layers,
                                          const std::vector<std::vector<int32_t>>& windows,
                                          const WeightCalibrationOptions& options) {
  if (windows.empty()) throw Error("weight-search calibration: no windows");
  WeightCalibration cal;
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
  const long per_window =
      options.sample_rows > 0 ? (options.sample_rows + long(windows.size()) - 1) / long(windows.size()) : 0;
  std::vector<SearchRecorder*> recorders;
  for (const std::string& k : keys) {
    const LinearLayer& cur = model.linear(k);
    auto rec = std::make_unique<SearchRecorder>(cur.in_features(), cur.out_features(), &cal.inputs[k], k, options,
                                                per_window);
    SearchRecorder* raw = rec.get();
    raw->set_inner(model.replace_linear(k, std::move(rec)));
    recorders.push_back(raw);
  }
  auto restore = [&] {
    for (size_t i = 0; i < keys.size(); ++i) model.replace_linear(keys[i], recorders[i]->release());
  };
  try {
    for (size_t w = 0; w < windows.size(); ++w) {
      model.forward(windows[w]);
      if (options.progress) options.progress(w + 1, windows.size());
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  for (auto& [k, s] : cal.inputs) {
    if (options.xtx && s.tokens > 0) s.xtx.triangularView<Eigen::StrictlyLower>() = s.xtx.transpose();
    if (options.sample_rows > 0 && s.sample.rows() > options.sample_rows)
      s.sample.conservativeResize(options.sample_rows, s.sample.cols());
  }
  return cal;
}

}  // namespace sqsim
