#pragma once
// A linear layer that runs LLM.int8() (kernels/llm_int8.h) behind the
// LinearLayer interface, and remembers what it decomposed: how many calls and
// tokens, how many outlier columns per call, and which columns were ever one.
#include <mutex>
#include <set>
#include <string>

#include "kernels/llm_int8.h"
#include "sim/models/linear_layer.h"

namespace sqsim {

struct LlmInt8LayerStats {
  long calls = 0;
  long tokens = 0;
  long outlier_columns_summed = 0;  // over calls
  long max_outlier_columns = 0;     // in one call
  std::set<long> columns;           // every column that was an outlier in some call
  long in_features = 0;
  // Mean share of the multiply-adds left in float, over calls.
  double float_mac_share() const {
    return calls ? double(outlier_columns_summed) / double(calls) / double(in_features) : 0.0;
  }
};

class LlmInt8Linear : public LinearLayer {
 public:
  LlmInt8Linear(const MatrixF& weight, const VectorF& bias, kernels::LlmInt8Options options, std::string name);
  MatrixF forward(const MatrixF& x) const override;
  int in_features() const override { return int(w_.w.cols()); }
  int out_features() const override { return int(w_.w.rows()); }
  LlmInt8LayerStats stats() const;

 private:
  kernels::LlmInt8Weights w_;
  VectorF bias_;
  kernels::LlmInt8Options options_;
  std::string name_;
  mutable std::mutex mutex_;
  mutable LlmInt8LayerStats stats_;
};

}  // namespace sqsim
