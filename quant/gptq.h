#pragma once
// GPTQ (Frantar et al. 2022): group-wise asymmetric int4 (or fewer bits)
// weights chosen column by column with inverse-Hessian error feedback, from
// H = (2/n) sum x^T x over calibration inputs. docs/quantization.md, "GPTQ",
// defines the order of every operation; the codes are those of the project's
// own asymmetric quantizer (quant/quantize.h), so the int4 kernels run them.
#include <string>

#include "base/tensor.h"
#include "quant/quantize.h"

namespace sqsim {

struct GptqOptions {
  int bits = 4;          // 2..8
  int group_size = 128;  // columns per (scale, zero point); the last group may be narrower
  double damp = 0.01;    // added to the diagonal: damp * mean(diag(H)), damp > 0
  int block = 128;       // columns per lazy-update block (the result does not depend on it beyond rounding)
  bool act_order = false;  // columns in order of decreasing H diagonal (groups then fixed up front)
};

// H = (2/n) sum over calibration rows x of x^T x, in float64, rows added in order.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(long k) : h_(MatrixD::Zero(k, k)) {}
  void add(const MatrixF& x, const std::string& what);
  long rows() const { return n_; }
  // (2/n) sum x^T x; all zero when no row was added.
  MatrixD hessian() const;

 private:
  MatrixD h_;  // sum x^T x
  long n_ = 0;
};

struct GptqResult {
  QuantizedMatrix q;       // asymmetric, per group, codes of the project's quantizer
  double loss = 0;         // sum over columns of ||w - q||^2 / d^2 / 2 (GPTQ's loss)
  long dead_columns = 0;   // columns with H_jj == 0 (never active): quantized as zeros
};

// w: [N, K]; h: [K, K]. Throws sqsim::Error naming `what` on bad options,
// shapes, non-finite values, or a Hessian that is not positive definite even
// after damping.
GptqResult gptq_quantize(const MatrixF& w, const MatrixD& h, const GptqOptions& options, const std::string& what);

}  // namespace sqsim
