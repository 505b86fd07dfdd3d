#include "sim/models/linear_layer.h"

#include <string>

#include "kernels/sgemm.h"
#include "kernels/sgemm_pack_rows.h"
#include "base/error.h"

namespace sqsim {

void FloatLinear::check_bias() const {
  if (b_.size() != 0 && b_.size() != out_)
    throw Error("linear layer: bias has " + std::to_string(b_.size()) + " entries for " + std::to_string(out_) +
                " outputs");
}

FloatLinear::FloatLinear(MatrixF weight, VectorF bias) : out_(weight.rows()), in_(weight.cols()), b_(std::move(bias)) {
  check_bias();
  auto w = std::make_shared<Weights>();
  w->packed = kernels::pack_b(weight.data(), in_, kernels::BLayout::kNK, out_, in_);
  // one copy of the weight: the packed one when the fast kernel packs
  if (w->packed.empty()) w->plain = std::move(weight);
  w_ = std::move(w);
}

FloatLinear::FloatLinear(std::shared_ptr<const HalfMatrix> weight, VectorF bias)
    : out_(weight ? weight->rows : 0), in_(weight ? weight->cols : 0), b_(std::move(bias)) {
  if (!weight) throw Error("linear layer: no weight given");
  check_bias();
  auto w = std::make_shared<Weights>();
  w->half = std::move(weight);
  w_ = std::move(w);
}

MatrixF FloatLinear::weight() const {
  if (w_->half) return w_->half->widen();
  if (w_->packed.empty()) return w_->plain;
  MatrixF w(out_, in_);
  kernels::unpack_b(w_->packed, w.data());
  return w;
}

const kernels::PackedA& SharedInput::packed_a() const {
  if (!packed_) {
    a_ = kernels::pack_a(x_.data(), x_.cols(), x_.rows(), x_.cols());
    packed_ = true;
  }
  return a_;
}

void SharedInput::require_finite_once(const std::string& what) const {
  if (finite_) return;
  // The packing saw every value; a second pass only where it saw a bad one
  // (to name it) or where there is no packing (the portable path).
  const kernels::PackedA& a = packed_a();
  if (a.empty() || !a.finite) require_finite(x_, what);
  finite_ = true;
}

const kernels::Int8Matrix* SharedInput::codes_for(const kernels::PreparedLinear& layer) const {
  for (const Codes& c : codes_)
    if (c.by->same_input_codes(layer)) return c.codes.get();
  return nullptr;
}

const kernels::Int8Matrix& SharedInput::keep_codes(const kernels::PreparedLinear& layer,
                                                   kernels::Int8Matrix codes) const {
  codes_.push_back({&layer, std::make_unique<const kernels::Int8Matrix>(std::move(codes))});
  return *codes_.back().codes;
}

MatrixF FloatLinear::forward(const MatrixF& x) const { return run(x, nullptr); }

MatrixF FloatLinear::forward_shared(const SharedInput& in) const {
  return run(in.x(), in.x().cols() == in_ ? &in.packed_a() : nullptr);
}

MatrixF FloatLinear::run(const MatrixF& x, const kernels::PackedA* packed_a) const {
  if (x.cols() != in_)
    throw Error("linear layer: input has " + std::to_string(x.cols()) + " features, weight expects " +
                std::to_string(in_));
  // A 2-byte weight: this call's float32 copy, packed from the words panel by
  // panel (or plain on the portable path), the same floats pack_b would see.
  kernels::PackedB call_packed;
  MatrixF call_plain;
  const kernels::PackedB* packed = &w_->packed;
  const MatrixF* plain = &w_->plain;
  if (w_->half) {
    const HalfMatrix& h = *w_->half;
    call_packed = kernels::pack_b_from_rows(out_, in_, [&h](long r0, long n, float* out) { h.widen_rows(r0, n, out); });
    if (call_packed.empty()) call_plain = h.widen();
    packed = &call_packed;
    plain = &call_plain;
  }
  MatrixF y(x.rows(), out_);
  kernels::SgemmArgs g;
  g.m = x.rows();
  g.n = out_;
  g.k = in_;
  g.a = x.data();
  g.lda = x.cols();
  // g.b is read only on the portable path, which has the plain weight
  g.b = packed->empty() ? plain->data() : nullptr;
  g.ldb = in_;
  g.layout = kernels::BLayout::kNK;
  g.c = y.data();
  g.ldc = y.cols();
  g.bias = b_.size() != 0 ? b_.data() : nullptr;
  kernels::sgemm_parallel(g, packed, packed_a);  // fixed tiles: bits independent of the thread count
  return y;
}

}  // namespace sqsim
