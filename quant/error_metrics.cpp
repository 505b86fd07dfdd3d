#include "quant/error_metrics.h"

#include <cmath>
#include <limits>

#include "quant/error.h"
#include "quant/error_sums.h"

namespace sqsim {

ErrorMetrics compare(const MatrixF& reference, const MatrixF& approx, const std::string& what) {
  if (reference.rows() != approx.rows() || reference.cols() != approx.cols()) {
    throw Error(what + ": shapes differ, [" + std::to_string(reference.rows()) + ", " +
                std::to_string(reference.cols()) + "] vs [" + std::to_string(approx.rows()) + ", " +
                std::to_string(approx.cols()) + "]");
  }
  const ErrorSums sums = error_sums(reference.data(), approx.data(), reference.size());
  const double ref_sq = sums.ref_sq, app_sq = sums.app_sq, err_sq = sums.err_sq, dot = sums.dot;
  const double max_abs = sums.max_abs;
  const double inf = std::numeric_limits<double>::infinity();
  ErrorMetrics m;
  m.max_abs = max_abs;
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

}  // namespace sqsim
