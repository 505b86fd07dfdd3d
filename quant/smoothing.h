#pragma once
// SmoothQuant's per-channel smoothing (docs/quantization.md, "SmoothQuant
// smoothing"): the factors, and the three equivalent ways to apply them.
#include <optional>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

// Migration strength: a value in [0, 1], or nullopt for "none" (no smoothing).
using Alpha = std::optional<float>;

// "none" or a number in [0, 1]; `option` names the option in errors.
Alpha parse_alpha(const std::string& text, const std::string& option);
std::string alpha_name(const Alpha& alpha);

// Per input channel: max |W[:, j]| over the rows of every weight given
// (all the linear layers that share one input).
VectorF weight_column_absmax(const std::vector<const MatrixF*>& weights, const std::string& what);

// Per input channel: max |X[:, j]|.
VectorF activation_column_absmax(const MatrixF& x, const std::string& what);

// s_j = max(A_j^alpha / max(W_j, 1e-5)^(1-alpha), 1e-5), and 1 where A_j = 0.
VectorF smoothing_factors(const VectorF& act_absmax, const VectorF& weight_absmax, float alpha,
                          const std::string& what);

// The statistics of one smoothing group: the layers that read one input share
// one s. act_absmax: max over the members' input absmax (equal when they saw
// the same input); weight_absmax: weight_column_absmax over every member's
// weight. Members of different input widths are refused, naming `what`.
struct SmoothingGroupStats {
  VectorF act_absmax, weight_absmax;
};
SmoothingGroupStats smoothing_group_stats(const std::vector<const VectorF*>& act_absmax_of_members,
                                          const std::vector<const MatrixF*>& weights_of_members,
                                          const std::string& what);
// The group's factors: smoothing_factors of its statistics. The one place the
// group's s is computed; a trace adapter (experiments/sweep.h) and a model
// adapter (sim/eval/quantize_model.h) gather the members.
VectorF smoothing_group_factors(const std::vector<const VectorF*>& act_absmax_of_members,
                                const std::vector<const MatrixF*>& weights_of_members, float alpha,
                                const std::string& what);
inline VectorF smoothing_group_factors(const SmoothingGroupStats& stats, float alpha, const std::string& what) {
  return smoothing_factors(stats.act_absmax, stats.weight_absmax, alpha, what);
}

// X' = X / s (columns).
void smooth_activations(MatrixF& x, const VectorF& s);
// W' = W * s (columns).
void smooth_weight(MatrixF& w, const VectorF& s);
// The same values into a new matrix, in one pass (a copy, then smoothing in
// place, reads and writes it twice).
MatrixF smoothed_activations(const MatrixF& x, const VectorF& s);
MatrixF smoothed_weight(const MatrixF& w, const VectorF& s);
// gamma' = gamma / s, beta' = beta / s.
void fold_into_layernorm(VectorF& gamma, VectorF& beta, const VectorF& s);
// gamma' = gamma / s.
void fold_into_rmsnorm(VectorF& gamma, const VectorF& s);

}  // namespace sqsim
