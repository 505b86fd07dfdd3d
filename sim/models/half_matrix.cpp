#include "sim/models/half_matrix.h"

#include "sim/formats/gguf_dequant.h"

namespace sqsim {

void HalfMatrix::widen_rows(long row0, long n, float* out) const {
  const uint16_t* w = words.data() + row0 * cols;
  const long count = n * cols;
  // the loaders' own conversions (dequantize of F16 / BF16), element by element
  if (type == Type::kBf16) {
    for (long i = 0; i < count; ++i) out[i] = bf16_to_float(w[i]);
  } else {
    for (long i = 0; i < count; ++i) out[i] = fp16_to_float(w[i]);
  }
}

MatrixF HalfMatrix::widen() const {
  MatrixF m(rows, cols);
  widen_rows(0, rows, m.data());
  return m;
}

Eigen::RowVectorXf HalfMatrix::row(long r) const {
  Eigen::RowVectorXf v(cols);
  widen_rows(r, 1, v.data());
  return v;
}

void require_finite(const HalfMatrix& m, const std::string& what) {
  std::vector<float> row(size_t(m.cols));
  for (long r = 0; r < m.rows; ++r) {
    m.widen_rows(r, 1, row.data());
    require_finite_row(row.data(), m.cols, r, what);
  }
}

}  // namespace sqsim
