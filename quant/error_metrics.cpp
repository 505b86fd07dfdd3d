#include "quant/error_metrics.h"

#include <cmath>
#include <limits>

#include "base/error.h"
#include "quant/error_sums.h"

namespace sqsim {

namespace {

ErrorMetrics metrics_from_sums(const ErrorSums& sums) {
  const double ref_sq = sums.ref_sq, app_sq = sums.app_sq, err_sq = sums.err_sq, dot = sums.dot;
  const double inf = std::numeric_limits<double>::infinity();
  ErrorMetrics m;
  m.max_abs = sums.max_abs;
  if (ref_sq == 0) {
    m.rel_err = err_sq == 0 ? 0.0 : inf;
  } else {
    m.rel_err = std::sqrt(err_sq / ref_sq);
  }
  m.sqnr_db = err_sq == 0 ? inf : (ref_sq == 0 ? -inf : 10.0 * std::log10(ref_sq / err_sq));
  if (ref_sq == 0 && app_sq == 0) {
    m.cosine = 1.0;
  } else if (ref_sq == 0 || app_sq == 0) {
    m.cosine = 0.0;
  } else {
    m.cosine = dot / (std::sqrt(ref_sq) * std::sqrt(app_sq));
  }
  return m;
}

void require_same_shape(long ref_rows, long ref_cols, long rows, long cols, const std::string& what) {
  if (ref_rows != rows || ref_cols != cols) {
    throw Error(what + ": shapes differ, [" + std::to_string(ref_rows) + ", " + std::to_string(ref_cols) + "] vs [" +
                std::to_string(rows) + ", " + std::to_string(cols) + "]");
  }
}

}  // namespace

ErrorMetrics compare(const MatrixF& reference, const MatrixF& approx, const std::string& what) {
  require_same_shape(reference.rows(), reference.cols(), approx.rows(), approx.cols(), what);
  return metrics_from_sums(error_sums(reference.data(), approx.data(), reference.size()));
}

ReferenceSums reference_sums(const MatrixF& reference) {
  ReferenceSums r;
  r.rows = reference.rows();
  r.cols = reference.cols();
  error_sums_add(r.lanes, reference.data(), reference.data(), reference.size(), ErrorSumsPath::kAuto,
                 ErrorSumsParts::kReferenceOnly);
  return r;
}

ErrorMetrics compare(const MatrixF& reference, const ReferenceSums& ref, const MatrixF& approx,
                     const std::string& what) {
  require_same_shape(reference.rows(), reference.cols(), approx.rows(), approx.cols(), what);
  require_same_shape(reference.rows(), reference.cols(), ref.rows, ref.cols, what + " (reference sums)");
  ErrorLaneState state;
  error_sums_add(state, reference.data(), approx.data(), reference.size(), ErrorSumsPath::kAuto,
                 ErrorSumsParts::kAllButReference);
  error_sums_take_reference(state, ref.lanes);
  return metrics_from_sums(error_sums_finish(state));
}

ErrorMetrics rel_sqnr_metrics(const ReferenceSums& ref, const ErrorLaneState& err_only) {
  ErrorLaneState state = err_only;
  error_sums_take_reference(state, ref.lanes);
  ErrorMetrics m = metrics_from_sums(error_sums_finish(state));
  m.max_abs = m.cosine = std::numeric_limits<double>::quiet_NaN();
  return m;
}

}  // namespace sqsim
