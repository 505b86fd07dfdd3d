#pragma once
// One linear layer y = x Wᵀ (+ b) behind an interface, so that quantized
// implementations can be swapped in per layer without touching model code.
#include <memory>

#include "kernels/sgemm.h"
#include "base/tensor.h"

namespace sqsim {

class LinearLayer {
 public:
  virtual ~LinearLayer() = default;
  // x: [tokens, in] -> [tokens, out].
  virtual MatrixF forward(const MatrixF& x) const = 0;
  virtual int in_features() const = 0;
  virtual int out_features() const = 0;
  // True when each output row depends only on the same input row, with the
  // same bits however many rows come with it (float and per-token or static
  // quantization; not per-tensor dynamic scales). False unless a layer says
  // so, so that an unknown wrapper never lets windows be packed.
  virtual bool rows_independent() const { return false; }
};

// Float32 layer through kernels::sgemm_parallel (AVX-512 FMA kernel or Eigen,
// chosen at run time), split into fixed tiles run with TBB, so results do not
// depend on the thread count.
class FloatLinear : public LinearLayer {
 public:
  // weight [out, in]; bias empty or [out].
  explicit FloatLinear(MatrixF weight, VectorF bias = {});
  MatrixF forward(const MatrixF& x) const override;
  int in_features() const override { return int(w_.cols()); }
  int out_features() const override { return int(w_.rows()); }
  // Every output element is one FMA chain over k (kernels/sgemm.h).
  bool rows_independent() const override { return true; }
  const MatrixF& weight() const { return w_; }
  const VectorF& bias() const { return b_; }  // size 0 when the layer has none

 private:
  MatrixF w_;  // [out, in]
  VectorF b_;
  // w_ in the fast kernel's panel layout, packed once (empty on the portable
  // path); shared so that copies of the layer do not repack.
  std::shared_ptr<const kernels::PackedB> packed_;
};

}  // namespace sqsim
