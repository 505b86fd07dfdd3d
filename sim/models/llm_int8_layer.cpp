#include "sim/models/llm_int8_layer.h"

#include <algorithm>

namespace sqsim {

LlmInt8Linear::LlmInt8Linear(const MatrixF& weight, const VectorF& bias, kernels::LlmInt8Options options,
                             std::string name)
    : w_(kernels::prepare_llm_int8_weights(weight, name)), bias_(bias), options_(options), name_(std::move(name)) {
  stats_.in_features = weight.cols();
}

MatrixF LlmInt8Linear::forward(const MatrixF& x) const {
  kernels::LlmInt8Stats s;
  MatrixF y = kernels::llm_int8_linear(x, w_, bias_.size() ? bias_.data() : nullptr, options_, name_, &s);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.calls;
  stats_.tokens += x.rows();
  stats_.outlier_columns_summed += long(s.outlier_columns.size());
  stats_.max_outlier_columns = std::max(stats_.max_outlier_columns, long(s.outlier_columns.size()));
  stats_.columns.insert(s.outlier_columns.begin(), s.outlier_columns.end());
  return y;
}

LlmInt8LayerStats LlmInt8Linear::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace sqsim
