#include "quant/smoothing.h"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"

namespace sqsim {

Alpha parse_alpha(const std::string& text, const std::string& option) {
  if (text == "none") return std::nullopt;
  char* end = nullptr;
  const float a = std::strtof(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(a >= 0.0f && a <= 1.0f)) {
    throw Error(option + " '" + text + "': expected none or a number in [0, 1]");
  }
  return a;
}

std::string alpha_name(const Alpha& alpha) {
  if (!alpha) return "none";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", static_cast<double>(*alpha));
  return buf;
}

VectorF weight_column_absmax(const std::vector<const MatrixF*>& weights, const std::string& what) {
  if (weights.empty()) throw Error(what + ": no weights to smooth against");
  const Eigen::Index k = weights.front()->cols();
  VectorF out = VectorF::Zero(k);
  for (const MatrixF* w : weights) {
    if (w->cols() != k) {
      throw Error(what + ": weights sharing one input have " + std::to_string(w->cols()) + " and " +
                  std::to_string(k) + " input channels (expected equal)");
    }
    require_nonempty(*w, what);
    require_finite(*w, what);
    out = out.cwiseMax(w->cwiseAbs().colwise().maxCoeff().transpose());
  }
  return out;
}

SmoothingGroupStats smoothing_group_stats(const std::vector<const VectorF*>& act_absmax_of_members,
                                          const std::vector<const MatrixF*>& weights_of_members,
                                          const std::string& what) {
  if (act_absmax_of_members.empty()) throw Error(what + ": no input statistics to smooth with");
  SmoothingGroupStats g;
  g.act_absmax = *act_absmax_of_members.front();
  for (const VectorF* a : act_absmax_of_members) {
    if (a->size() != g.act_absmax.size()) {
      throw Error(what + ": layers of one smoothing group have " + std::to_string(a->size()) + " and " +
                  std::to_string(g.act_absmax.size()) + " input channels (expected equal)");
    }
    g.act_absmax = g.act_absmax.cwiseMax(*a);
  }
  g.weight_absmax = weight_column_absmax(weights_of_members, what);
  return g;
}

VectorF smoothing_group_factors(const std::vector<const VectorF*>& act_absmax_of_members,
                                const std::vector<const MatrixF*>& weights_of_members, float alpha,
                                const std::string& what) {
  return smoothing_group_factors(smoothing_group_stats(act_absmax_of_members, weights_of_members, what), alpha, what);
}

VectorF activation_column_absmax(const MatrixF& x, const std::string& what) {
  require_nonempty(x, what);
  require_finite(x, what);
  return x.cwiseAbs().colwise().maxCoeff().transpose();
}

VectorF smoothing_factors(const VectorF& act_absmax, const VectorF& weight_absmax, float alpha,
                          const std::string& what) {
  if (act_absmax.size() != weight_absmax.size()) {
    throw Error(what + ": activation absmax has " + std::to_string(act_absmax.size()) +
                " channels, weight absmax " + std::to_string(weight_absmax.size()) + " (expected equal)");
  }
  if (!(alpha >= 0.0f && alpha <= 1.0f)) {
    throw Error(what + ": alpha = " + std::to_string(alpha) + " (expected a value in [0, 1])");
  }
  require_finite(act_absmax, what + " activation absmax");
  VectorF s(act_absmax.size());
  for (Eigen::Index j = 0; j < s.size(); ++j) {
    const float a = act_absmax[j];
    if (a < 0.0f) throw Error(what + ": negative activation absmax at channel " + std::to_string(j));
    if (a == 0.0f) {
      s[j] = 1.0f;
      continue;
    }
    const float w = std::max(weight_absmax[j], 1e-5f);
    s[j] = std::max(std::pow(a, alpha) / std::pow(w, 1.0f - alpha), 1e-5f);
  }
  return s;
}

void smooth_activations(MatrixF& x, const VectorF& s) {
  if (x.cols() != s.size()) throw Error("smoothing: activation width does not match the factors");
  for (Eigen::Index r = 0; r < x.rows(); ++r) x.row(r).array() /= s.transpose().array();
}

void smooth_weight(MatrixF& w, const VectorF& s) {
  if (w.cols() != s.size()) throw Error("smoothing: weight width does not match the factors");
  for (Eigen::Index r = 0; r < w.rows(); ++r) w.row(r).array() *= s.transpose().array();
}

MatrixF smoothed_activations(const MatrixF& x, const VectorF& s) {
  if (x.cols() != s.size()) throw Error("smoothing: activation width does not match the factors");
  MatrixF out(x.rows(), x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r) out.row(r).array() = x.row(r).array() / s.transpose().array();
  return out;
}

MatrixF smoothed_weight(const MatrixF& w, const VectorF& s) {
  if (w.cols() != s.size()) throw Error("smoothing: weight width does not match the factors");
  MatrixF out(w.rows(), w.cols());
  for (Eigen::Index r = 0; r < w.rows(); ++r) out.row(r).array() = w.row(r).array() * s.transpose().array();
  return out;
}

void fold_into_layernorm(VectorF& gamma, VectorF& beta, const VectorF& s) {
  if (gamma.size() != s.size() || beta.size() != s.size()) {
    throw Error("smoothing: LayerNorm width does not match the factors");
  }
  gamma.array() /= s.array();
  beta.array() /= s.array();
}

void fold_into_rmsnorm(VectorF& gamma, const VectorF& s) {
  if (gamma.size() != s.size()) throw Error("smoothing: RMSNorm width does not match the factors");
  gamma.array() /= s.array();
}

}  // namespace sqsim
