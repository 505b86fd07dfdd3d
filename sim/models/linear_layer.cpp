#include "sim/models/linear_layer.h"

#include <string>

#include "kernels/sgemm.h"
#include "base/error.h"

namespace sqsim {

FloatLinear::FloatLinear(MatrixF weight, VectorF bias) : w_(std::move(weight)), b_(std::move(bias)) {
  if (b_.size() != 0 && b_.size() != w_.rows())
    throw Error("linear layer: bias has " + std::to_string(b_.size()) + " entries for " +
                std::to_string(w_.rows()) + " outputs");
  packed_ = std::make_shared<const kernels::PackedB>(
      kernels::pack_b(w_.data(), w_.cols(), kernels::BLayout::kNK, w_.rows(), w_.cols()));
}

MatrixF FloatLinear::forward(const MatrixF& x) const {
  if (x.cols() != w_.cols())
    throw Error("linear layer: input has " + std::to_string(x.cols()) + " features, weight expects " +
                std::to_string(w_.cols()));
  MatrixF y(x.rows(), w_.rows());
  kernels::SgemmArgs g;
  g.m = x.rows();
  g.n = w_.rows();
  g.k = w_.cols();
  g.a = x.data();
  g.lda = x.cols();
  g.b = w_.data();
  g.ldb = w_.cols();
  g.layout = kernels::BLayout::kNK;
  g.c = y.data();
  g.ldc = y.cols();
  g.bias = b_.size() != 0 ? b_.data() : nullptr;
  kernels::sgemm_parallel(g, packed_.get());  // fixed tiles: bits independent of the thread count
  return y;
}

}  // namespace sqsim
