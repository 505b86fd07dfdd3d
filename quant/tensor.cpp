#include "quant/tensor.h"

#include <cmath>

#include "quant/error.h"

namespace sqsim {

void require_finite(const MatrixF& m, const std::string& what, const std::string& column_name) {
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    const float* row = m.row(r).data();
    for (Eigen::Index c = 0; c < m.cols(); ++c) {
      if (!std::isfinite(row[c])) {
        throw Error(what + ": " + (std::isnan(row[c]) ? "NaN" : "Inf") + " at row " +
                    std::to_string(r) + ", " + column_name + " " + std::to_string(c) +
                    " (expected finite values)");
      }
    }
  }
}

void require_finite(const VectorF& v, const std::string& what) {
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw Error(what + ": " + (std::isnan(v[i]) ? "NaN" : "Inf") + " at index " +
                  std::to_string(i) + " (expected finite values)");
    }
  }
}

void require_nonempty(const MatrixF& m, const std::string& what) {
  if (m.rows() == 0 || m.cols() == 0) {
    throw Error(what + ": empty tensor [" + std::to_string(m.rows()) + ", " +
                std::to_string(m.cols()) + "] (expected at least one row and one column)");
  }
}

}  // namespace sqsim
