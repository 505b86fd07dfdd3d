#pragma once
// AWQ (Lin et al. 2023) as mit-han-lab/llm-awq searches it: per input channel
// scales s = mean|x|^r with r on a grid, chosen by a layer group's output
// error with the weights quantized group-wise; then per (output row, group)
// clipping of the scaled weights. docs/quantization.md, "AWQ", defines every
// step; sim/eval/weight_search.h runs them over a model.
#include <string>
#include <vector>

#include "base/tensor.h"
#include "quant/quant_spec.h"

namespace sqsim {

// r = j / n for j = 0..n-1 (llm-awq: n = 20). Throws naming --awq-grid unless n >= 1.
std::vector<float> awq_ratio_grid(int n);

// s = max(a^r, 1e-4) per channel, then s / sqrt(max s * min s). `a` is the
// mean |x| per input channel (non-negative, finite); r in [0, 1).
VectorF awq_scales(const VectorF& mean_abs, float r, const std::string& what);

// The weight as the search sees it with scales s: Q(W diag(s)) diag(s)^-1.
MatrixF awq_scaled_fake_quant(const MatrixF& w, const VectorF& s, const QuantSpec& spec, const std::string& what);

// The group objective over every calibration token x of the shared input,
// from G = (1/T) sum_x x^T x [K, K] (float32):
//   L = sum_i sum_n d_n G d_n^T / sum_i N_i,   d_n = row n of (W_i' - W_i),
// W_i' = awq_scaled_fake_quant(W_i, s): the mean over tokens and outputs of
// the squared output error, (X W'^T - X W^T)^2, without storing X.
// D G in float32, the row sums in float64.
double awq_group_loss(const Eigen::MatrixXf& gram, const std::vector<const MatrixF*>& ws, const VectorF& s,
                      const QuantSpec& spec, const std::string& what);

struct AwqScaleResult {
  float ratio = 0;
  VectorF scales;
  std::vector<double> losses;  // one per grid value, in grid order
};

// The grid value with the smallest loss (the first on ties); `gram` as for
// awq_group_loss, `ws` the group's weights [N_i, K].
AwqScaleResult awq_search_scales(const Eigen::MatrixXf& gram, const std::vector<const MatrixF*>& ws,
                                 const VectorF& mean_abs, const std::vector<float>& grid, const QuantSpec& spec,
                                 const std::string& what);

// Per output row n and group g (spec's group_size; the last group may be
// narrower), the clip m_k = m0 (1 - k/n_grid), k = 0 .. max_shrink*n_grid - 1,
// m0 = max |w[n, g]|, that minimizes the mean over x's rows of the squared
// error of the group's partial output (first on ties), computed as
// d G_g d^T / rows with G_g = x_g^T x_g in float64. Returns [N, G].
MatrixF awq_search_clip(const MatrixF& x, const MatrixF& w, const QuantSpec& spec, const std::string& what,
                        int n_grid = 20, double max_shrink = 0.5);

// w[n, c] clamped to [-m, m], m = clip(n, group of c).
void awq_apply_clip(MatrixF& w, const MatrixF& clip, const QuantSpec& spec);

}  // namespace sqsim
