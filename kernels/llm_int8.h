#pragma once
// LLM.int8() (Dettmers et al. 2022): vector-wise int8 with mixed-precision
// decomposition. The input columns (features) where any |x| reaches the
// threshold are multiplied in float; the rest go through the int8 GEMM with
// per-token activation and per-output-channel weight scales.
// docs/quantization.md, "LLM.int8()", defines it and the order of the sum.
#include <string>
#include <vector>

#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"
#include "base/tensor.h"

namespace sqsim::kernels {

struct LlmInt8Options {
  float threshold = 6.0f;      // a column is an outlier when some |x| >= threshold
  bool fp16_outliers = false;  // round the outlier inputs and weights to float16 first
  KernelPath path = KernelPath::kAuto;
};

// The weights, prepared once: the float matrix (for the outlier columns) and
// its int8 codes with one scale per output channel over all K columns.
struct LlmInt8Weights {
  MatrixF w;         // [N, K]
  Int8Matrix codes;  // per-row symmetric int8 of w
};
LlmInt8Weights prepare_llm_int8_weights(const MatrixF& w, const std::string& what);

// What one call did: the outlier columns (ascending) and the share of the
// multiply-adds left in float (|outliers| / K).
struct LlmInt8Stats {
  std::vector<long> outlier_columns;
  double float_mac_share = 0;
};

// The outlier columns of x under `threshold` (ascending).
std::vector<long> llm_int8_outlier_columns(const MatrixF& x, float threshold);

// y = int8 part + float part (+ bias), in that order (docs/quantization.md).
// stats (may be null) receives what was decomposed.
MatrixF llm_int8_linear(const MatrixF& x, const LlmInt8Weights& w, const float* bias,
                        const LlmInt8Options& options, const std::string& what, LlmInt8Stats* stats = nullptr);

// The two parts on their own (for tests and reports): the int8 product of the
// regular columns (zeros when every column is an outlier) and the float product
// of the outlier columns (zeros when there is none), no bias.
MatrixF llm_int8_integer_part(const MatrixF& x, const LlmInt8Weights& w, const std::vector<long>& outliers,
                              KernelPath path, const std::string& what);
MatrixF llm_int8_float_part(const MatrixF& x, const MatrixF& w, const std::vector<long>& outliers, bool fp16);

}  // namespace sqsim::kernels
