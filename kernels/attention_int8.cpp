// The plain C++ side of kernels/attention_int8.h: packing, the epilogue tables
// and the prefix views; the products run in s8s8_avx512vnni.cpp.
#include "kernels/attention_int8.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/epilogue.h"
#include "kernels/x86/pack_vnni.h"
#include "kernels/x86/s8s8_vnni.h"

namespace sqsim::kernels {

namespace {

Int8AttentionOperand packed(Int8Matrix&& m, long t, long d, float scale) {
  Int8AttentionOperand op;
  op.packed = std::make_shared<const vnni::PackedB>(vnni::pack_b(m, m.group_size));
  op.t = t;
  op.d = d;
  op.scale = scale;
  return op;
}

// Per-thread tables: a_scale [rows] and b_scale [n_pad] of one scale each, and
// the activations' compensation scratch.
struct Tables {
  std::vector<float> a, b;
  std::vector<int32_t> comp;
  EpilogueView view(long rows, float a_scale, long n_pad, float b_scale) {
    a.assign(size_t(rows), a_scale);
    b.assign(size_t(n_pad), b_scale);
    comp.resize(size_t(rows));
    return {a.data(), b.data(), nullptr, n_pad};
  }
};

Tables& tables() {
  thread_local Tables t;
  return t;
}

}  // namespace

bool int8_attention_available() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}

Int8AttentionOperand pack_attention_keys(const int8_t* k, long t, long d, long ld, float scale) {
  if (d % 4 != 0) throw Error("int8 attention: head width " + std::to_string(d) + " is not a multiple of 4");
  Int8Matrix m;
  m.rows = t;
  m.cols = d;
  m.group_size = d;
  m.codes.resize(size_t(t * d));
  for (long r = 0; r < t; ++r) std::copy(k + r * ld, k + r * ld + d, m.codes.begin() + r * d);
  return packed(std::move(m), t, d, scale);
}

Int8AttentionOperand pack_attention_values(const int8_t* v, long t, long d, long ld, float scale) {
  Int8Matrix m;  // Vᵀ [d, t]
  m.rows = d;
  m.cols = t;
  m.group_size = t;
  m.codes.resize(size_t(t * d));
  int8_t* __restrict dst = m.codes.data();
  for (long r = 0; r < t; ++r)
    for (long c = 0; c < d; ++c) dst[c * t + r] = v[r * ld + c];
  return packed(std::move(m), t, d, scale);
}

void attention_scores_s8(const int8_t* q, long rows, float q_scale, const Int8AttentionOperand& k, long keys,
                         float* s) {
  if (keys < 1 || keys > k.t || rows < 0) throw Error("int8 attention: " + std::to_string(keys) + " keys of " +
                                                      std::to_string(k.t));
  // The first `keys` channels: a block's address does not depend on n.
  vnni::PackedBView b = k.packed->view();
  b.n = keys;
  b.nblocks = (keys + 15) / 16;
  Tables& t = tables();
  const EpilogueView e = t.view(rows, q_scale, b.nblocks * 16, k.scale);
  vnni::gemm_packed_f32_serial_avx512vnni(q, rows, b, t.comp.data(), e, s);
}

void attention_values_s8(const int8_t* p, long rows, long keys, long ld_p, float p_scale,
                         const Int8AttentionOperand& v, float* o, long ld_o) {
  const vnni::PackedB& full = *v.packed;
  if (keys < 1 || keys > v.t || ld_p % 4 != 0 || ld_p < keys || ld_p > full.gsp || rows < 0)
    throw Error("int8 attention: " + std::to_string(keys) + " keys (codes " + std::to_string(ld_p) +
                " apart) of " + std::to_string(v.t));
  // The depth's first ld_p codes (whole k-quads): the view of one group of
  // ld_p, per set of 4 blocks (64 channels), since a set's address depends on
  // the packed depth. Codes past `keys` are 0 and add nothing.
  Tables& t = tables();
  thread_local std::vector<float> out;
  constexpr long kSet = 64;
  for (long c0 = 0; c0 < v.d; c0 += kSet) {
    const long n = std::min(kSet, v.d - c0);
    vnni::PackedBView b = full.view();
    b.data = full.view().block(c0 / 16, 0);
    b.n = n;
    b.nblocks = (n + 15) / 16;
    b.gsp = ld_p;
    const EpilogueView e = t.view(rows, p_scale, b.nblocks * 16, v.scale);
    out.resize(size_t(rows * n));
    vnni::gemm_packed_f32_serial_avx512vnni(p, rows, b, t.comp.data(), e, out.data());
    for (long r = 0; r < rows; ++r) std::copy(out.begin() + r * n, out.begin() + (r + 1) * n, o + r * ld_o + c0);
  }
}

}  // namespace sqsim::kernels
