#include "sim/eval/record_inputs.h"

#include <algorithm>
#include <memory>

namespace sqsim {

namespace {

// Hands every input to the observer, then delegates to the layer it replaced.
class InputRecorder : public LinearLayer {
 public:
  InputRecorder(const LinearLayer& replaced, std::string name, size_t index,
                const std::function<void(size_t, const MatrixF&)>& observe)
      : in_(replaced.in_features()), out_(replaced.out_features()), name_(std::move(name)), index_(index),
        observe_(observe) {}
  void set_inner(std::unique_ptr<LinearLayer> inner) { inner_ = std::move(inner); }
  std::unique_ptr<LinearLayer> release() { return std::move(inner_); }

  MatrixF forward(const MatrixF& x) const override {
    require_finite(x, name_ + " input", "channel");
    observe_(index_, x);
    return inner_->forward(x);
  }
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }

 private:
  int in_, out_;
  std::unique_ptr<LinearLayer> inner_;
  std::string name_;
  size_t index_;
  const std::function<void(size_t, const MatrixF&)>& observe_;
};

}  // namespace

void record_linear_inputs(CausalLm& model, const std::vector<std::string>& layers,
                          const std::vector<std::vector<int32_t>>& windows,
                          const std::function<void(size_t, const MatrixF&)>& observe,
                          const std::function<void(size_t, size_t)>& progress) {
  std::vector<InputRecorder*> recorders;
  auto restore = [&] {
    for (size_t i = 0; i < recorders.size(); ++i) model.replace_linear(layers[i], recorders[i]->release());
  };
  try {
    for (size_t i = 0; i < layers.size(); ++i) {
      auto rec = std::make_unique<InputRecorder>(model.linear(layers[i]), layers[i], i, observe);
      InputRecorder* raw = rec.get();
      raw->set_inner(model.replace_linear(layers[i], std::move(rec)));  // delegates to what it replaced
      recorders.push_back(raw);
    }
    for (size_t w = 0; w < windows.size(); ++w) {
      model.forward(windows[w]);
      if (progress) progress(w + 1, windows.size());
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void append_spread_rows(MatrixF& sample, const MatrixF& x, long per_window) {
  if (per_window <= 0) return;
  const long n = std::min<long>(per_window, x.rows());
  const long old = sample.rows();
  sample.conservativeResize(old + n, x.cols());
  for (long i = 0; i < n; ++i) sample.row(old + i) = x.row(i * x.rows() / n);
}

}  // namespace sqsim
