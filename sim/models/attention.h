#pragma once
// Causal multi-head (and grouped-query) attention over one window, shared by
// every architecture, with hook points for quantizing its two matmuls.
#include <functional>

#include "base/tensor.h"

namespace sqsim {

// One layer's products of one head, from hooks that have seen the whole
// q, k, v of the layer. Empty functions mean float32 products. qk(h, kvh)
// returns the unscaled scores of query head h against kv head kvh [T, T]; pv
// gets the probabilities p [T, T] (causally masked rows) and returns p v [T, d].
struct HeadMatmuls {
  std::function<MatrixF(int head, int kv_head)> qk;
  std::function<MatrixF(int head, int kv_head, const MatrixF& p)> pv;
};

// One layer's products by blocks of query rows, for hooks whose products of a
// block are bit for bit the same rows of the whole [T, T] products (integer
// sums: sim/models/quantized_attention.h). qk writes the unscaled scores of
// head h's query rows [i0, i0 + rows) against keys [0, keys) to
// s[r * keys + j]; pv gets those rows' probabilities (p[r * keys + j], exact
// zeros past each row's own key) and writes their product with kv head kvh's
// values to o[r * ld_o + c], c < head_dim. Both run inside one task of
// causal_attention's parallel loop over blocks and heads.
struct BlockMatmuls {
  std::function<void(int head, int kv_head, long i0, long rows, long keys, float* s)> qk;
  std::function<void(int head, int kv_head, long rows, long keys, const float* p, float* o, long ld_o)> pv;
};

// Hook points of the attention matmuls (sim/models/quantized_attention.h sets
// them). Empty functions mean float attention.
//  * projections: called by a model's forward on its q, k, v projection
//    outputs [T, heads*d] before RoPE (it may change them in place);
//  * heads: called by causal_attention once per layer with the whole q, k, v
//    (after RoPE) and the head width; returns the per-head products;
//  * blocks: the same products by query blocks (BlockMatmuls), set beside
//    heads where they give the same bits; then only the keys up to each
//    block's last row are multiplied, as in float attention. Empty products
//    from it (for this layer's shapes) mean the heads hook runs.
struct AttentionMatmuls {
  std::function<void(int layer, MatrixF& q, MatrixF& k, MatrixF& v, int head_dim)> projections;
  std::function<HeadMatmuls(int layer, const MatrixF& q, const MatrixF& k, const MatrixF& v, int head_dim)> heads;
  using BlocksHook =
      std::function<BlockMatmuls(int layer, const MatrixF& q, const MatrixF& k, const MatrixF& v, int head_dim)>;
  BlocksHook blocks;

  void on_projections(int layer, MatrixF& q, MatrixF& k, MatrixF& v, int head_dim) const {
    if (projections) projections(layer, q, k, v, head_dim);
  }
};

// q [T, n_heads*d], k, v [T, n_kv_heads*d] -> [T, n_heads*d]. Scores scaled by
// 1/sqrt(d), causal mask, softmax in float. Without hooks q may have fewer
// rows than k and v: the queries of the window's last q.rows() positions
// (the rows after a prefix whose keys and values were computed before), with
// the bits those rows get in the whole window. Without a heads hook, blocks of
// query rows run in parallel and compute only the scores up to their last key
// (the masked upper triangle is skipped); with one, each head runs whole so the
// hooks get the full [T, T] matrices described above. window > 0: sliding-
// window attention, the query at position p sees keys p - window + 1 .. p
// only (Mistral; the others get probability exactly 0).
//
// alibi_slopes (BLOOM's ALiBi; null: none): n_heads slopes m_h; the scaled
// score of query position i and key position j (positions in the window,
// prefix included) gets m_h * (j - i) added before the softmax. HF adds
// m_h * j; the two differ by a constant per row, which the softmax removes,
// and j - i <= 0 keeps the added values small on long windows.
MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionMatmuls& mm = {}, int layer = 0, long window = 0,
                         const VectorF* alibi_slopes = nullptr);

// What a family changes in the scores (the defaults are Llama's, as above);
// the overload above is this one with a window and ALiBi slopes.
// Gemma 3 (sim/models/gemma3_model.h): scale query_pre_attn_scalar^-1/2, a
// sliding window on its local layers, and optional soft-capping.
struct AttentionOptions {
  float scale = 0.0f;    // scores are q·k * scale; 0: 1/sqrt(head_dim)
  long window = 0;       // query at position p sees keys p-window+1..p; 0: all keys up to p
  float softcap = 0.0f;  // scaled scores s -> softcap * tanh(s / softcap) before softmax; 0: none
  const VectorF* alibi_slopes = nullptr;  // BLOOM's ALiBi, as above; null: none
};
MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionOptions& opt, const AttentionMatmuls& mm = {}, int layer = 0);

}  // namespace sqsim
