#include "sim/models/quantized_attention.h"

#include <memory>
#include <optional>
#include <string>

#include <tbb/parallel_for.h>

#include "base/str.h"
#include "kernels/attention_int8.h"
#include "kernels/gemm_reference.h"
#include "kernels/int_weights.h"
#include "quant/quantize.h"

namespace sqsim {

namespace {

using kernels::EmulationMode;

std::string where(int layer, int head, const char* what) { return str("layer ", layer, " head ", head, " ", what); }

// One operand of the attention products ([T, heads*d], heads side by side),
// quantized head by head: with the parameters of the whole matrix (granularity
// tensor or token, computed once) or each head's own (head, token-head).
class Operand {
 public:
  Operand(const MatrixF& x, int head_dim, const BmmScheme& bmm, int layer, const char* what)
      : x_(x), d_(head_dim), spec_(bmm.operand_spec()), layer_(layer), what_(what) {
    if (bmm.granularity == BmmGranularity::kTensor || bmm.granularity == BmmGranularity::kToken)
      shared_ = dynamic_params(x, spec_, str("layer ", layer, " ", what));
  }
  int heads() const { return int(x_.cols() / d_); }
  MatrixF slice(int h) const { return x_.middleCols(long(h) * d_, d_); }
  QuantizedMatrix head(int h) const {
    const MatrixF xh = slice(h);
    const std::string w = where(layer_, h, what_);
    return quantize(xh, spec_, shared_ ? *shared_ : dynamic_params(xh, spec_, w), w);
  }
  // The whole matrix as the quantizer leaves it.
  MatrixF dequantized() const {
    MatrixF y(x_.rows(), x_.cols());
    for (int h = 0; h < heads(); ++h) y.middleCols(long(h) * d_, d_) = dequantize(head(h));
    return y;
  }

 private:
  const MatrixF& x_;
  int d_;
  QuantSpec spec_;
  std::optional<QuantParams> shared_;
  int layer_;
  const char* what_;
};

// K or V as an int8 KV cache holds them: each head rounded per token.
MatrixF int8_cache(const MatrixF& x, int head_dim, int layer, const char* what) {
  QuantSpec per_token;
  per_token.bits = 8;
  per_token.symmetric = true;
  per_token.granularity = Granularity::kPerRow;
  MatrixF y(x.rows(), x.cols());
  for (long h = 0; h < x.cols() / head_dim; ++h)
    y.middleCols(h * head_dim, head_dim) =
        fake_quantize(x.middleCols(h * head_dim, head_dim), per_token, where(layer, int(h), what));
  return y;
}

// a [M, K] times bᵀ (b [N, K]): through the integer GEMM when both are
// quantized and the kernels take their specs, else the float product of what
// the quantizers left (Eigen, as the fake-quant linear layers of the sweep).
MatrixF product(const MatrixF& a, const std::optional<QuantizedMatrix>& qa, const MatrixF& b,
                const std::optional<QuantizedMatrix>& qb, EmulationMode mode, kernels::KernelPath path,
                const std::string& what) {
  if (mode == EmulationMode::kInteger && qa && qb) {
    kernels::LinearQuantSpec spec;
    spec.weight = qb->spec;
    spec.act = qa->spec;
    spec.act.source = ScaleSource::kDynamic;  // the codes are given: no calibration needed
    spec.mode = mode;
    spec.path = path;
    const kernels::PreparedLinear layer(*qb, nullptr, spec, what);
    if (layer.uses_integer_kernel() && layer.padded_k() == qa->cols)
      return layer.run(kernels::to_int8(*qa, what + " input"));
  }
  const MatrixF ad = qa ? dequantize(*qa) : a;
  const MatrixF bd = qb ? dequantize(*qb) : b;
  MatrixF y;
  y.noalias() = ad * bd.transpose();
  return y;
}

// The transpose of per-tensor codes (Vᵀ as the weight operand of P·V).
QuantizedMatrix transposed(const QuantizedMatrix& q) {
  QuantizedMatrix t = q;
  t.rows = q.cols;
  t.cols = q.rows;
  for (long r = 0; r < q.rows; ++r)
    for (long c = 0; c < q.cols; ++c) t.codes[size_t(c * q.rows + r)] = q.codes[size_t(r * q.cols + c)];
  return t;
}

// What the heads hook keeps of one layer while its heads run.
struct LayerOperands {
  const MatrixF* q = nullptr;  // the caller's, alive while the heads run (sim/models/attention.h)
  MatrixF k, v;                // after the int8 KV cache, when there is one
  std::optional<Operand> q_op, k_op, v_op;
};

// True when the scheme's products can run by query blocks on the int8
// attention kernels (kernels/attention_int8.h) with the bits the heads hook's
// whole products get on the int8 kernels: Q, K, V and P all quantized after
// RoPE with one scale per head (so each product is one accumulator group with
// a scale per operand), P as s8 codes, integer mode on the VNNI kernel (or
// AMX, whose bits are the same), no int8 KV cache.
bool runs_by_blocks(const BmmScheme& bmm, bool kv_int8, EmulationMode mode, kernels::KernelPath path) {
  using kernels::KernelPath;
  if (mode != EmulationMode::kInteger || kv_int8 || !(bmm.q && bmm.k && bmm.v && bmm.p)) return false;
  if (bmm.point != BmmPoint::kRope || bmm.p_format != ProbFormat::kSigned8 || bmm.bits > 8) return false;
  if (bmm.granularity != BmmGranularity::kTensor && bmm.granularity != BmmGranularity::kHead) return false;
  if (bmm.p_spec().rounding != Rounding::kHalfEven) return false;
  if (path != KernelPath::kAuto && path != KernelPath::kAvx512Vnni && path != KernelPath::kAmx) return false;
  if (!kernels::int8_attention_available()) return false;
  const KernelPath resolved = kernels::resolve_kernel_path(path);
  return resolved == KernelPath::kAvx512Vnni || resolved == KernelPath::kAmx;
}

// A head's codes as int8 [T, d] and its one scale.
struct HeadCodes {
  std::vector<int8_t> codes;
  float scale = 0.0f;
};

HeadCodes head_codes(const Operand& op, int h) {
  const QuantizedMatrix q = op.head(h);
  HeadCodes c;
  c.codes.resize(q.codes.size());
  // Local pointers: through the vectors an int8_t store may alias their
  // pointers, which kept this loop scalar.
  const int16_t* __restrict src = q.codes.data();
  int8_t* __restrict dst = c.codes.data();
  const size_t n = q.codes.size();
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(src[i]);
  c.scale = q.params.scale[0];
  return c;
}

// The blocks hook (attention.h, BlockMatmuls): per layer, every head of Q
// quantized as the heads hook quantizes it, K and V packed per KV head; per
// block, the scores over the keys it sees, and P quantized row by row with the
// same quantizer (its codes are elementwise, so a row's prefix has the codes
// of the whole row; past the row's key P is 0 and so are its codes). Empty
// products (the heads hook runs) for a head width that is not a multiple of 4.
AttentionMatmuls::BlocksHook blocks_hook(const BmmScheme& bmm) {
  return [bmm](int layer, const MatrixF& q, const MatrixF& k, const MatrixF& v, int d) -> BlockMatmuls {
    if (d % 4 != 0) return {};  // the kernels' k-quads: the heads hook runs instead
    const long T = q.rows();
    // The largest |sum| of a product over T keys must fit int32, as the
    // integer GEMM requires (kernels/gemm_reference.h).
    kernels::require_int32_accumulation(T, 127, 127, str("layer ", layer, " P·V"));
    struct Operands {
      std::vector<HeadCodes> q;
      std::vector<kernels::Int8AttentionOperand> k, v;
    };
    auto st = std::make_shared<Operands>();
    const Operand qo(q, d, bmm, layer, "Q"), ko(k, d, bmm, layer, "K"), vo(v, d, bmm, layer, "V");
    const int heads = qo.heads(), kv_heads = ko.heads();
    st->q.resize(size_t(heads));
    st->k.resize(size_t(kv_heads));
    st->v.resize(size_t(kv_heads));
    tbb::parallel_for(0, heads + 2 * kv_heads, [&](int t) {
      if (t < heads) {
        st->q[size_t(t)] = head_codes(qo, t);
      } else if (t < heads + kv_heads) {
        const int g = t - heads;
        const HeadCodes c = head_codes(ko, g);
        st->k[size_t(g)] = kernels::pack_attention_keys(c.codes.data(), T, d, d, c.scale);
      } else {
        const int g = t - heads - kv_heads;
        const HeadCodes c = head_codes(vo, g);
        st->v[size_t(g)] = kernels::pack_attention_values(c.codes.data(), T, d, d, c.scale);
      }
    });
    BlockMatmuls bm;
    bm.qk = [st, d](int h, int kvh, long i0, long rows, long keys, float* s) {
      const HeadCodes& qh = st->q[size_t(h)];
      kernels::attention_scores_s8(qh.codes.data() + i0 * d, rows, qh.scale, st->k[size_t(kvh)], keys, s);
    };
    QuantParams fixed;
    fixed.scale = {bmm.p_scale()};
    fixed.zero_point = {0};
    bm.pv = [st, spec = bmm.p_spec(), fixed](int, int kvh, long rows, long keys, const float* p, float* o,
                                               long ld_o) {
      const long ld_p = (keys + 3) / 4 * 4;
      thread_local std::vector<int16_t> row;
      thread_local std::vector<int8_t> codes;
      row.resize(size_t(keys));
      codes.resize(size_t(rows * ld_p));
      const int16_t* __restrict src = row.data();
      for (long r = 0; r < rows; ++r) {
        // Parameter 0 for every row (per tensor), as in quantize(p, spec, fixed).
        quantize_row_codes(p + r * keys, keys, r, spec, fixed, row.data());
        int8_t* __restrict dst = codes.data() + r * ld_p;
        for (long j = 0; j < keys; ++j) dst[j] = static_cast<int8_t>(src[j]);
        for (long j = keys; j < ld_p; ++j) dst[j] = 0;
      }
      kernels::attention_values_s8(codes.data(), rows, keys, ld_p, fixed.scale[0], st->v[size_t(kvh)], o, ld_o);
    };
    return bm;
  };
}

}  // namespace

AttentionMatmuls quantized_attention_matmuls(const BmmScheme& bmm, bool kv_int8, EmulationMode mode,
                                             kernels::KernelPath path) {
  AttentionMatmuls mm;
  if (!bmm.enabled() && !kv_int8) return mm;
  const bool at_projection = bmm.point == BmmPoint::kProjection;
  if (at_projection && (bmm.q || bmm.k || bmm.v)) {
    mm.projections = [bmm](int layer, MatrixF& q, MatrixF& k, MatrixF& v, int d) {
      if (bmm.q) q = Operand(q, d, bmm, layer, "Q projection").dequantized();
      if (bmm.k) k = Operand(k, d, bmm, layer, "K projection").dequantized();
      if (bmm.v) v = Operand(v, d, bmm, layer, "V projection").dequantized();
    };
  }
  const bool quantize_qk = !at_projection && (bmm.q || bmm.k);
  const bool quantize_v = !at_projection && bmm.v;
  if (!quantize_qk && !quantize_v && !bmm.p && !kv_int8) return mm;

  mm.heads = [=](int layer, const MatrixF& q, const MatrixF& k, const MatrixF& v, int d) -> HeadMatmuls {
    auto st = std::make_shared<LayerOperands>();
    st->q = &q;
    st->k = kv_int8 ? int8_cache(k, d, layer, "K cache") : k;
    st->v = kv_int8 ? int8_cache(v, d, layer, "V cache") : v;
    if (quantize_qk && bmm.q) st->q_op.emplace(q, d, bmm, layer, "Q");
    if (quantize_qk && bmm.k) st->k_op.emplace(st->k, d, bmm, layer, "K");
    if (quantize_v) st->v_op.emplace(st->v, d, bmm, layer, "V");
    HeadMatmuls hm;
    if (quantize_qk || kv_int8) {
      hm.qk = [st, d, layer, mode, path](int h, int kvh) -> MatrixF {
        std::optional<QuantizedMatrix> qa, kb;
        if (st->q_op) qa = st->q_op->head(h);
        if (st->k_op) kb = st->k_op->head(kvh);
        return product(st->q->middleCols(long(h) * d, d), qa, st->k.middleCols(long(kvh) * d, d), kb, mode, path,
                       where(layer, h, "Q·Kᵀ"));
      };
    }
    if (quantize_v || bmm.p || kv_int8) {
      hm.pv = [st, bmm, d, layer, mode, path](int h, int kvh, const MatrixF& p) -> MatrixF {
        std::optional<QuantizedMatrix> pa, vb;
        if (bmm.p) {
          QuantParams fixed;
          fixed.scale = {bmm.p_scale()};
          fixed.zero_point = {0};
          pa = quantize(p, bmm.p_spec(), fixed, where(layer, h, "P"));
        }
        const MatrixF vh = st->v.middleCols(long(kvh) * d, d);
        if (!pa && !st->v_op) return p * vh;  // the int8 KV cache alone
        const MatrixF vt = vh.transpose();
        // Vᵀ's codes are an int8 weight operand only with one scale per head:
        // a per-token scale of V lies along the reduction.
        if (st->v_op) {
          const QuantizedMatrix vq = st->v_op->head(kvh);
          if (vq.spec.granularity == Granularity::kPerTensor) {
            vb = transposed(vq);
          } else {
            const MatrixF vtd = dequantize(vq).transpose();
            return product(p, pa, vtd, std::nullopt, EmulationMode::kFakeQuant, path, where(layer, h, "P·V"));
          }
        }
        // u8 codes do not fit the int8 GEMM: fake-quant in both modes.
        const bool u8 = pa && !pa->spec.symmetric;
        return product(p, pa, vt, vb, u8 ? EmulationMode::kFakeQuant : mode, path, where(layer, h, "P·V"));
      };
    }
    return hm;
  };
  if (runs_by_blocks(bmm, kv_int8, mode, path)) mm.blocks = blocks_hook(bmm);
  return mm;
}

}  // namespace sqsim
