#include "sim/eval/calibration.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <random>

#include "base/error.h"

namespace sqsim {

namespace {

// Delegates to the layer it wraps and folds every input into the statistics.
class RecordingLinear : public LinearLayer {
 public:
  RecordingLinear(int in, int out, LayerInputStats* stats, std::string name, long rows_per_window)
      : in_(in), out_(out), stats_(stats), name_(std::move(name)), rows_per_window_(rows_per_window) {}
  void set_inner(std::unique_ptr<LinearLayer> inner) { inner_ = std::move(inner); }

  MatrixF forward(const MatrixF& x) const override {
    require_finite(x, name_ + " input", "channel");
    LayerInputStats& s = *stats_;
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
    if (rows_per_window_ > 0) {
      const long n = std::min<long>(rows_per_window_, x.rows());
      const long old = s.sample.rows();
      s.sample.conservativeResize(old + n, x.cols());
      for (long i = 0; i < n; ++i) s.sample.row(old + i) = x.row(i * x.rows() / n);
    }
    return inner_->forward(x);
  }
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }
  std::unique_ptr<LinearLayer> release() { return std::move(inner_); }

 private:
  int in_, out_;
  std::unique_ptr<LinearLayer> inner_;
  LayerInputStats* stats_;
  std::string name_;
  long rows_per_window_;
};

}  // namespace

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

CalibrationStats calibrate(CausalLm& model, const std::vector<std::vector<int32_t>>& windows,
                           const CalibrationOptions& options) {
  if (windows.empty()) throw Error("calibration: no windows");
  CalibrationStats stats;
  const std::vector<std::string> names = model.linear_names();
  for (const std::string& n : names) stats[n];  // no insertion while recording
  const long per_window =
      options.sample_rows > 0 ? (options.sample_rows + long(windows.size()) - 1) / long(windows.size()) : 0;
  std::vector<RecordingLinear*> recorders;
  for (const std::string& n : names) {
    const LinearLayer& cur = model.linear(n);
    auto rec = std::make_unique<RecordingLinear>(cur.in_features(), cur.out_features(), &stats[n], n, per_window);
    RecordingLinear* raw = rec.get();
    raw->set_inner(model.replace_linear(n, std::move(rec)));  // the recorder delegates to what it replaced
    recorders.push_back(raw);
  }
  auto restore = [&] {
    for (size_t i = 0; i < names.size(); ++i) model.replace_linear(names[i], recorders[i]->release());
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
  if (options.sample_rows > 0)
    for (auto& [n, s] : stats)
      if (s.sample.rows() > options.sample_rows) s.sample.conservativeResize(options.sample_rows, s.sample.cols());
  return stats;
}

}  // namespace sqsim
