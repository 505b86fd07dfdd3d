#pragma once
// How far an approximation is from its reference (docs/quantization.md,
// "Error metrics"). Accumulated in float64.
#include <string>

#include "quant/quantize.h"
#include "quant/tensor.h"

namespace sqsim {

struct ErrorMetrics {
  double rel_err = 0;   // ||A - R||_F / ||R||_F
  double sqnr_db = 0;   // 10 log10(||R||^2 / ||A - R||^2)
  double max_abs = 0;   // max |A - R|
  double cosine = 1;    // <A, R> / (||A|| ||R||)
};

// `what` names the pair in the shape-mismatch error.
ErrorMetrics compare(const MatrixF& reference, const MatrixF& approx, const std::string& what);

// compare(reference, dequantize(q), what), bit for bit, without the dequantized
// matrix: each row is dequantized into a small buffer and measured while it is
// in cache (quant/error_sums.h: the sums do not depend on the split).
ErrorMetrics compare_dequantized(const MatrixF& reference, const QuantizedMatrix& q, const std::string& what);

}  // namespace sqsim
