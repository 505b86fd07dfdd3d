#include "base/tensor.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/error.h"

namespace sqsim {

namespace {

// True when all n values are finite. Branch-free on purpose: an exponent of all
// ones (Inf or NaN) only sets a flag, so GCC vectorizes the loop; the caller
// re-scans element by element only when the flag trips, to name the element.
bool all_finite(const float* p, long n) {
  uint32_t bad = 0;
  for (long i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &p[i], sizeof u);
    bad |= static_cast<uint32_t>((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

}  // namespace

void require_finite_row(const float* row, long n, long r, const std::string& what,
                        const std::string& column_name) {
  if (all_finite(row, n)) return;
  for (long c = 0; c < n; ++c) {
    if (!std::isfinite(row[c])) {
      throw Error(what + ": " + (std::isnan(row[c]) ? "NaN" : "Inf") + " at row " +
                  std::to_string(r) + ", " + column_name + " " + std::to_string(c) +
                  " (expected finite values)");
    }
  }
}

void require_finite(const MatrixF& m, const std::string& what, const std::string& column_name) {
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    require_finite_row(m.row(r).data(), m.cols(), r, what, column_name);
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
