#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "quant/quantize.h"

namespace sqsim {

std::vector<float> awq_ratio_grid(int n) {
  if (n < 1) throw Error("--awq-grid " + std::to_string(n) + ": expected at least 1 (r = j/N, j = 0..N-1)");
  std::vector<float> out;
  for (int j = 0; j < n; ++j) out.push_back(float(j) / float(n));
  return out;
}

VectorF awq_scales(const VectorF& mean_abs, float r, const std::string& what) {
  if (!(r >= 0.0f && r < 1.0f))
    throw Error(what + ": AWQ ratio " + std::to_string(r) + " is outside [0, 1)");
  if (mean_abs.size() == 0) throw Error(what + ": no activation statistics for the AWQ scales");
  VectorF s(mean_abs.size());
  for (long c = 0; c < s.size(); ++c) {
    const float a = mean_abs[c];
    if (!(a >= 0.0f) || !std::isfinite(a))
      throw Error(what + ": mean |x| of channel " + std::to_string(c) + " is " + std::to_string(a));
    s[c] = std::max(std::pow(a, r), 1e-4f);
  }
  // llm-awq's normalization: the geometric middle of the range becomes 1.
  return s / std::sqrt(s.maxCoeff() * s.minCoeff());
}

MatrixF awq_scaled_fake_quant(const MatrixF& w, const VectorF& s, const QuantSpec& spec, const std::string& what) {
  if (s.size() != w.cols())
    throw Error(what + ": " + std::to_string(s.size()) + " AWQ scales for " + std::to_string(w.cols()) + " columns");
  MatrixF ws = w;
  ws.array().rowwise() *= s.transpose().array();
  MatrixF q = fake_quantize(ws, spec, what + " weight");
  q.array().rowwise() /= s.transpose().array();
  return q;
}

double awq_group_loss(const Eigen::MatrixXf& gram, const std::vector<const MatrixF*>& ws, const VectorF& s,
                      const QuantSpec& spec, const std::string& what) {
  if (ws.empty()) throw Error(what + ": AWQ group without layers");
  double sum = 0;
  long outputs = 0;
  for (const MatrixF* w : ws) {
    if (w->cols() != gram.cols())
      throw Error(what + ": weight has " + std::to_string(w->cols()) + " columns, the input " +
                  std::to_string(gram.cols()));
    const Eigen::MatrixXf d = awq_scaled_fake_quant(*w, s, spec, what) - *w;
    const Eigen::MatrixXf dg = d * gram;
    sum += (dg.array() * d.array()).cast<double>().sum();
    outputs += w->rows();
  }
  return sum / double(outputs);
}

AwqScaleResult awq_search_scales(const Eigen::MatrixXf& gram, const std::vector<const MatrixF*>& ws,
                                 const VectorF& mean_abs, const std::vector<float>& grid, const QuantSpec& spec,
                                 const std::string& what) {
  if (grid.empty()) throw Error(what + ": empty AWQ grid");
  if (!gram.allFinite()) throw Error(what + ": the input's x^T x holds NaN or Inf");
  AwqScaleResult best;
  double best_loss = std::numeric_limits<double>::infinity();
  for (float r : grid) {
    const VectorF s = awq_scales(mean_abs, r, what);
    const double loss = awq_group_loss(gram, ws, s, spec, what);
    best.losses.push_back(loss);
    if (loss < best_loss) {
      best_loss = loss;
      best.ratio = r;
      best.scales = s;
    }
  }
  if (!std::isfinite(best_loss)) throw Error(what + ": every AWQ ratio gave a non-finite loss");
  return best;
}

MatrixF awq_search_clip(const MatrixF& x, const MatrixF& w, const QuantSpec& spec, const std::string& what, int n_grid,
                        double max_shrink) {
  if (spec.granularity != Granularity::kPerGroup) throw Error(what + ": AWQ clipping needs group-wise weights");
  if (x.cols() != w.cols())
    throw Error(what + ": weight has " + std::to_string(w.cols()) + " columns, the input " + std::to_string(x.cols()));
  if (x.rows() == 0) throw Error(what + ": the AWQ clip search needs sample rows of the input");
  const long N = w.rows(), K = w.cols(), G = spec.groups_per_row(K), gs = spec.group_size;
  const int steps = int(max_shrink * n_grid);
  require_finite(x, what + " input");
  // m0 and each group's x_g^T x_g.
  MatrixF m0(N, G);
  std::vector<Eigen::MatrixXd> gram(static_cast<size_t>(G));
  for (long g = 0; g < G; ++g) {
    const long c0 = g * gs, width = std::min(gs, K - c0);
    m0.col(g) = w.middleCols(c0, width).cwiseAbs().rowwise().maxCoeff();
    const Eigen::MatrixXd xg = x.middleCols(c0, width).cast<double>();
    gram[size_t(g)] = xg.transpose() * xg;
  }
  MatrixF best = m0;
  MatrixD best_err = MatrixD::Constant(N, G, std::numeric_limits<double>::infinity());
  for (int k = 0; k < steps; ++k) {
    const MatrixF m = m0 * (1.0f - float(k) / float(n_grid));
    MatrixF wc = w;
    awq_apply_clip(wc, m, spec);
    const MatrixF q = fake_quantize(wc, spec, what + " weight");
    for (long g = 0; g < G; ++g) {
      const long c0 = g * gs, width = std::min(gs, K - c0);
      const Eigen::MatrixXd d = (q.middleCols(c0, width) - w.middleCols(c0, width)).cast<double>();
      const Eigen::VectorXd e = ((d * gram[size_t(g)]).array() * d.array()).rowwise().sum() / double(x.rows());
      for (long n = 0; n < N; ++n) {
        if (e[n] < best_err(n, g)) {
          best_err(n, g) = e[n];
          best(n, g) = m(n, g);
        }
      }
    }
  }
  return best;
}

void awq_apply_clip(MatrixF& w, const MatrixF& clip, const QuantSpec& spec) {
  const long K = w.cols(), gs = spec.group_size;
  for (long n = 0; n < w.rows(); ++n)
    for (long c = 0; c < K; ++c) {
      const float m = clip(n, c / gs);
      w(n, c) = std::min(std::max(w(n, c), -m), m);
    }
}

}  // namespace sqsim
