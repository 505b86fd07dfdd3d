#pragma once
// How far an approximation is from its reference (docs/quantization.md,
// "Error metrics"). Accumulated in float64.
#include <string>

#include "quant/error_sums.h"
#include "quant/quantize.h"
#include "base/tensor.h"

namespace sqsim {

struct ErrorMetrics {
  double rel_err = 0;   // ||A - R||_F / ||R||_F
  double sqnr_db = 0;   // 10 log10(||R||^2 / ||A - R||^2)
  double max_abs = 0;   // max |A - R|
  double cosine = 1;    // <A, R> / (||A|| ||R||)
};

// `what` names the pair in the shape-mismatch error.
ErrorMetrics compare(const MatrixF& reference, const MatrixF& approx, const std::string& what);

// The reference's own sum (||R||^2, as float64 lanes: quant/error_sums.h),
// made once for a reference that several approximations are compared with.
struct ReferenceSums {
  long rows = 0, cols = 0;
  ErrorLaneState lanes;
};
ReferenceSums reference_sums(const MatrixF& reference);

// compare(reference, approx, what), bit for bit, without summing the
// reference again (ref: reference_sums(reference)).
ErrorMetrics compare(const MatrixF& reference, const ReferenceSums& ref, const MatrixF& approx,
                     const std::string& what);

// rel_err and sqnr_db from err_sq lanes made with ErrorSumsParts::kErrorOnly
// (for example by quantize_and_measure) and the reference's sums: bit for bit
// those of compare over the same elements, for about a third of the
// arithmetic. max_abs and cosine are not computed (NaN). For measurements that
// report only those two.
ErrorMetrics rel_sqnr_metrics(const ReferenceSums& ref, const ErrorLaneState& err_only);

}  // namespace sqsim
