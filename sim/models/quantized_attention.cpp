#include "sim/models/quantized_attention.h"

#include <string>

#include "quant/quantize.h"

namespace sqsim {

namespace {

QuantSpec int8_spec(Granularity g) {
  QuantSpec s;
  s.bits = 8;
  s.symmetric = true;
  s.granularity = g;
  return s;
}

std::string where(int layer, int head, const char* what) {
  return "layer " + std::to_string(layer) + " head " + std::to_string(head) + " " + what;
}

}  // namespace

AttentionMatmuls quantized_attention_matmuls(bool quantize_bmm, bool kv_int8, kernels::EmulationMode mode,
                                             kernels::KernelPath path) {
  AttentionMatmuls mm;
  if (!quantize_bmm && !kv_int8) return mm;
  const QuantSpec per_tensor = int8_spec(Granularity::kPerTensor);
  const QuantSpec per_token = int8_spec(Granularity::kPerRow);
  mm.qk = [=](int layer, int head, const MatrixF& q, const MatrixF& k) -> MatrixF {
    const MatrixF kc = kv_int8 ? fake_quantize(k, per_token, where(layer, head, "K cache")) : k;
    if (!quantize_bmm) return q * kc.transpose();
    return kernels::quantized_linear(q, kc, nullptr, per_tensor, per_tensor, nullptr, mode, path,
                                     where(layer, head, "Q·Kᵀ"))
        .y;
  };
  mm.pv = [=](int layer, int head, const MatrixF& p, const MatrixF& v) -> MatrixF {
    const MatrixF vc = kv_int8 ? fake_quantize(v, per_token, where(layer, head, "V cache")) : v;
    if (!quantize_bmm) return p * vc;
    const MatrixF vt = vc.transpose();
    return kernels::quantized_linear(p, vt, nullptr, per_tensor, per_tensor, nullptr, mode, path,
                                     where(layer, head, "P·V"))
        .y;
  };
  return mm;
}

}  // namespace sqsim
