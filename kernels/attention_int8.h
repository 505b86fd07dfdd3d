#pragma once
// The two products of integer attention (`--bmm int8-real`) by blocks of
// query rows, on the AVX-512 VNNI kernel (kernels/x86/s8s8_vnni_impl.h): Q·Kᵀ
// over the keys a block sees, and P·V over the same keys. Each output is
// epilogue_reference's operations on an exact integer sum for one
// accumulator group, (float(acc) * a_scale) * b_scale, so a block's outputs
// are bit for bit the same rows of the whole [T, T] products that
// PreparedLinear computes (docs/kernels.md, "Integer attention by blocks").
// The functions run on the calling thread: a caller runs blocks in parallel.
#include <cstdint>
#include <memory>

namespace sqsim::kernels {

namespace vnni {
struct PackedB;
}

// True where these kernels run: AVX-512 VNNI (and the AVX-512 subsets it needs).
bool int8_attention_available();

// One KV head's K or V codes, packed once per layer as the kernel's weights.
struct Int8AttentionOperand {
  std::shared_ptr<const vnni::PackedB> packed;
  long t = 0, d = 0;     // keys (positions), head width
  float scale = 0.0f;    // the head's one scale (per-tensor codes)
};

// K codes [t, d] (row r at k + r * ld): the keys are the output channels and
// the head width the depth (Q·Kᵀ). d must be a multiple of 4.
Int8AttentionOperand pack_attention_keys(const int8_t* k, long t, long d, long ld, float scale);
// V codes [t, d]: the head's d values are the output channels and the keys
// the depth (P·V).
Int8AttentionOperand pack_attention_values(const int8_t* v, long t, long d, long ld, float scale);

// s[r * keys + j] = (float(sum_c q[r * d + c] * K[j, c]) * q_scale) * k.scale
// for r < rows, j < keys <= k.t; q is [rows, d] contiguous.
void attention_scores_s8(const int8_t* q, long rows, float q_scale, const Int8AttentionOperand& k, long keys,
                         float* s);
// o[r * ld_o + c] = (float(sum_{j < keys} p[r * ld_p + j] * V[j, c]) * p_scale) * v.scale
// for r < rows, c < d; ld_p = keys rounded up to a multiple of 4, and the
// codes from keys to ld_p are 0.
void attention_values_s8(const int8_t* p, long rows, long keys, long ld_p, float p_scale,
                         const Int8AttentionOperand& v, float* o, long ld_o);

}  // namespace sqsim::kernels
