#include "sim/linear_layer.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <string>

#include "quant/error.h"

namespace sqsim {

namespace {
// Fixed chunks of rows, so results never depend on the thread count.
constexpr long kRowChunk = 64;
}  // namespace

FloatLinear::FloatLinear(MatrixF weight, VectorF bias) : w_(std::move(weight)), b_(std::move(bias)) {
  if (b_.size() != 0 && b_.size() != w_.rows())
    throw Error("linear layer: bias has " + std::to_string(b_.size()) + " entries for " +
                std::to_string(w_.rows()) + " outputs");
}

MatrixF FloatLinear::forward(const MatrixF& x) const {
  if (x.cols() != w_.cols())
    throw Error("linear layer: input has " + std::to_string(x.cols()) + " features, weight expects " +
                std::to_string(w_.cols()));
  MatrixF y(x.rows(), w_.rows());
  const long chunks = (x.rows() + kRowChunk - 1) / kRowChunk;
  tbb::parallel_for(tbb::blocked_range<long>(0, chunks, 1), [&](const tbb::blocked_range<long>& r) {
    for (long c = r.begin(); c < r.end(); ++c) {
      const long r0 = c * kRowChunk, n = std::min<long>(kRowChunk, x.rows() - r0);
      y.middleRows(r0, n).noalias() = x.middleRows(r0, n) * w_.transpose();
      if (b_.size() != 0) y.middleRows(r0, n).rowwise() += b_.transpose();
    }
  });
  return y;
}

}  // namespace sqsim
