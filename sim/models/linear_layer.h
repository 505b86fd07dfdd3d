#pragma once
// One linear layer y = x Wᵀ (+ b) behind an interface, so that quantized
// implementations can be swapped in per layer without touching model code.
#include <memory>
#include <string>
#include <vector>

#include "kernels/quantized_linear.h"
#include "kernels/sgemm.h"
#include "base/tensor.h"
#include "sim/models/half_matrix.h"

namespace sqsim {

// The input of several layers (q, k and v read one norm's output; gate and
// up another). A layer may keep here what it derives from the input alone
// (the float kernel's packed panels, a quantized layer's int8 codes), so that
// the next layer reading it does not derive it again. Lives as long as the
// layers' calls; x must not change.
class SharedInput {
 public:
  explicit SharedInput(const MatrixF& x) : x_(x) {}
  const MatrixF& x() const { return x_; }
  // x in the float kernel's panels, packed on first use (empty on the
  // portable path). Not thread-safe: the layers run one after another.
  const kernels::PackedA& packed_a() const;
  // The int8 codes a quantized layer made of x, for a layer whose activation
  // quantization gives the same codes (PreparedLinear::same_input_codes), or
  // null; keep_codes stores them and returns them.
  const kernels::Int8Matrix* codes_for(const kernels::PreparedLinear& layer) const;
  const kernels::Int8Matrix& keep_codes(const kernels::PreparedLinear& layer, kernels::Int8Matrix codes) const;
  // require_finite(x, what) on the first call only: the first layer to read
  // x names itself in the error, as it would checking alone. Packs x (if not
  // yet) and reads the packing's finite flag instead of x where it can.
  void require_finite_once(const std::string& what) const;

 private:
  const MatrixF& x_;
  mutable bool packed_ = false, finite_ = false;
  mutable kernels::PackedA a_;
  struct Codes {
    const kernels::PreparedLinear* by;
    std::unique_ptr<const kernels::Int8Matrix> codes;
  };
  mutable std::vector<Codes> codes_;
};

class LinearLayer {
 public:
  virtual ~LinearLayer() = default;
  // x: [tokens, in] -> [tokens, out].
  virtual MatrixF forward(const MatrixF& x) const = 0;
  // The same bits as forward(in.x()), reusing what another layer derived
  // from the same input.
  virtual MatrixF forward_shared(const SharedInput& in) const { return forward(in.x()); }
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
  // The weight kept in its checkpoint's 2-byte type (docs/memory.md): each
  // forward widens it into the fast kernel's packed panels (or, on the
  // portable path, a plain float32 matrix) made for that call and freed after
  // it, so the product has the bits of the layer built from the widened
  // matrix. Shared: a tied head and the embeddings hold one copy.
  explicit FloatLinear(std::shared_ptr<const HalfMatrix> weight, VectorF bias = {});
  MatrixF forward(const MatrixF& x) const override;
  MatrixF forward_shared(const SharedInput& in) const override;
  int in_features() const override { return int(in_); }
  int out_features() const override { return int(out_); }
  // Every output element is one FMA chain over k (kernels/sgemm.h).
  bool rows_independent() const override { return true; }
  // A copy of the weight [out, in]. Where the fast kernel packs, the layer
  // keeps only the packed copy (docs/memory.md) and unpacks it on each call
  // (quantizing, smoothing, traces: not kept, so the model never holds two
  // copies); the float forward never asks. 2-byte words: widened on each call.
  MatrixF weight() const;
  const VectorF& bias() const { return b_; }  // size 0 when the layer has none

 private:
  // The weight in the fast kernel's panel layout, packed once; on the
  // portable path (empty packed) the plain [out, in] matrix instead; or
  // only the 2-byte words (half set; packed and plain empty). Shared so
  // that copies of the layer do not repack.
  struct Weights {
    kernels::PackedB packed;
    MatrixF plain;  // only when packed is empty and half is null
    std::shared_ptr<const HalfMatrix> half;
  };
  void check_bias() const;
  MatrixF run(const MatrixF& x, const kernels::PackedA* packed_a) const;
  std::shared_ptr<const Weights> w_;
  long out_ = 0, in_ = 0;
  VectorF b_;
};

}  // namespace sqsim
