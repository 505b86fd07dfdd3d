#include "sim/models/linear_layer.h"

#include <string>

#include "kernels/sgemm.h"
#include "base/error.h"

namespace sqsim {

FloatLinear::FloatLinear(MatrixF weight, VectorF bias) : out_(weight.rows()), in_(weight.cols()), b_(std::move(bias)) {
  if (b_.size() != 0 && b_.size() != out_)
    throw Error("linear layer: bias has " + std::to_string(b_.size()) + " entries for " + std::to_string(out_) +
                " outputs");
  auto w = std::make_shared<Weights>();
  w->packed = kernels::pack_b(weight.data(), in_, kernels::BLayout::kNK, out_, in_);
  // one copy of the weight: the packed one when the fast kernel packs
  if (w->packed.empty()) w->plain = std::move(weight);
  w_ = std::move(w);
}

MatrixF FloatLinear::weight() const {
  if (w_->packed.empty()) return w_->plain;
  MatrixF w(out_, in_);
  kernels::unpack_b(w_->packed, w.data());
  return w;
}

MatrixF FloatLinear::forward(const MatrixF& x) const {
  if (x.cols() != in_)
    throw Error("linear layer: input has " + std::to_string(x.cols()) + " features, weight expects " +
                std::to_string(in_));
  MatrixF y(x.rows(), out_);
  kernels::SgemmArgs g;
  g.m = x.rows();
  g.n = out_;
  g.k = in_;
  g.a = x.data();
  g.lda = x.cols();
  // g.b is read only on the portable path, which keeps the plain weight
  g.b = w_->packed.empty() ? w_->plain.data() : nullptr;
  g.ldb = in_;
  g.layout = kernels::BLayout::kNK;
  g.c = y.data();
  g.ldc = y.cols();
  g.bias = b_.size() != 0 ? b_.data() : nullptr;
  kernels::sgemm_parallel(g, &w_->packed);  // fixed tiles: bits independent of the thread count
  return y;
}

}  // namespace sqsim
