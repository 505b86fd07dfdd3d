#pragma once
// Causal multi-head (and grouped-query) attention over one window, shared by
// every architecture, with hook points for the two attention matmuls.
#include <functional>

#include "base/tensor.h"

namespace sqsim {

// Hook points for the attention matmuls of one (layer, head). Empty functions
// mean float32 products. qk gets q [T, d] and k [T, d] and returns the
// unscaled scores q kᵀ [T, T]; pv gets the probabilities p [T, T] and v [T, d]
// and returns p v [T, d].
struct AttentionMatmuls {
  std::function<MatrixF(int layer, int head, const MatrixF& q, const MatrixF& k)> qk;
  std::function<MatrixF(int layer, int head, const MatrixF& p, const MatrixF& v)> pv;
};

// q [T, n_heads*d], k, v [T, n_kv_heads*d] -> [T, n_heads*d]. Scores scaled by
// 1/sqrt(d), causal mask, softmax in float. Without hooks, blocks of query rows
// run in parallel and compute only the scores up to their last key (the
// masked upper triangle is skipped); with a hook set, each head runs whole so
// the hooks get the full [T, T] matrices described above.
MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionMatmuls& mm = {}, int layer = 0);

}  // namespace sqsim
