#include "quant/gptq.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"
#include "quant/rounding.h"
#include "quant/scales.h"

namespace sqsim {

void HessianAccumulator::add(const MatrixF& x, const std::string& what) {
  if (x.cols() != h_.cols())
    throw Error(what + ": calibration input has " + std::to_string(x.cols()) + " columns, the layer " +
                std::to_string(h_.cols()));
  require_finite(x, what);
  const MatrixD xd = x.cast<double>();
  h_.noalias() += xd.transpose() * xd;
  n_ += x.rows();
}

MatrixD HessianAccumulator::hessian() const {
  if (n_ == 0) return h_;
  return h_ * (2.0 / double(n_));
}

namespace {

QuantSpec group_spec(const GptqOptions& o) {
  QuantSpec s;
  s.bits = o.bits;
  s.symmetric = false;
  s.granularity = Granularity::kPerGroup;
  s.group_size = o.group_size;
  return s;
}

// Scale and zero point of row n's group covering columns [c0, c1) of w, from
// the float32 values of those columns (the project's asymmetric rule).
void group_params(const MatrixD& w, long c0, long c1, const QuantSpec& spec, long n, float* scale,
                  int32_t* zero_point) {
  float lo = float(w(n, c0)), hi = lo;
  for (long c = c0 + 1; c < c1; ++c) {
    const float v = float(w(n, c));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  RangeStats r;
  r.absmax = {std::max(std::fabs(lo), std::fabs(hi))};
  r.min = {lo};
  r.max = {hi};
  const QuantParams p = params_from_range(r, spec);
  *scale = p.scale[0];
  *zero_point = p.zero_point[0];
}

}  // namespace

GptqResult gptq_quantize(const MatrixF& w, const MatrixD& h_in, const GptqOptions& o, const std::string& what) {
  const long N = w.rows(), K = w.cols();
  if (o.bits < 2 || o.bits > 8) throw Error(what + ": GPTQ bits must be 2..8, got " + std::to_string(o.bits));
  if (o.group_size < 1) throw Error(what + ": GPTQ group size must be positive, got " + std::to_string(o.group_size));
  if (!(o.damp > 0) || !std::isfinite(o.damp))
    throw Error(what + ": --gptq-damp must be a positive number (a share of the mean Hessian diagonal), got " +
                std::to_string(o.damp));
  if (o.block < 1) throw Error(what + ": GPTQ block must be positive, got " + std::to_string(o.block));
  if (h_in.rows() != K || h_in.cols() != K)
    throw Error(what + ": Hessian is " + std::to_string(h_in.rows()) + "x" + std::to_string(h_in.cols()) +
                ", the weight has " + std::to_string(K) + " columns");
  require_nonempty(w, what + " weight");
  require_finite(w, what + " weight");
  if (!h_in.allFinite()) throw Error(what + ": the Hessian holds NaN or Inf");
  const QuantSpec spec = group_spec(o);
  spec.validate(what);
  const long G = spec.groups_per_row(K);

  // 1. Dead columns (never active): H_jj = 1, the weights there zero.
  MatrixD H = h_in;
  MatrixD W = w.cast<double>();
  GptqResult res;
  for (long j = 0; j < K; ++j) {
    if (H(j, j) == 0) {
      H(j, j) = 1;
      W.col(j).setZero();
      ++res.dead_columns;
    }
  }
  // 2. Column order: natural, or by decreasing H_jj (stable).
  std::vector<long> perm(static_cast<size_t>(K));
  std::iota(perm.begin(), perm.end(), 0L);
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](long a, long b) { return H(a, a) > H(b, b); });
  // 3. Damping, then the upper Cholesky factor U of H^-1 (H^-1 = U^T U), in
  // the processing order.
  MatrixD Hp(K, K);
  for (long a = 0; a < K; ++a)
    for (long b = 0; b < K; ++b) Hp(a, b) = H(perm[size_t(a)], perm[size_t(b)]);
  const double damp = o.damp * Hp.diagonal().mean();
  Hp.diagonal().array() += damp;
  Eigen::LLT<MatrixD> llt(Hp);
  if (llt.info() != Eigen::Success)
    throw Error(what + ": the Hessian is not positive definite even after damping " + std::to_string(o.damp) +
                " (raise --gptq-damp)");
  const MatrixD Hinv = llt.solve(MatrixD::Identity(K, K));
  Eigen::LLT<MatrixD> llt_inv(Hinv);
  if (llt_inv.info() != Eigen::Success)
    throw Error(what + ": the inverse Hessian is not positive definite (raise --gptq-damp)");
  const MatrixD U = llt_inv.matrixU();

  // 4. Group parameters: fixed up front from the (dead-zeroed) weights with
  // act-order; otherwise when the group's first column is reached, from the
  // updated weights.
  res.q.rows = N;
  res.q.cols = K;
  res.q.spec = spec;
  res.q.params.scale.assign(size_t(N * G), 0.0f);
  res.q.params.zero_point.assign(size_t(N * G), 0);
  res.q.codes.assign(size_t(N * K), 0);
  auto fix_group = [&](const MatrixD& from, long g) {
    const long c0 = g * o.group_size, c1 = std::min(K, c0 + o.group_size);
    for (long n = 0; n < N; ++n)
      group_params(from, c0, c1, spec, n, &res.q.params.scale[size_t(n * G + g)],
                   &res.q.params.zero_point[size_t(n * G + g)]);
  };
  if (o.act_order)
    for (long g = 0; g < G; ++g) fix_group(W, g);
  // The weights in processing order.
  MatrixD Wp(N, K);
  for (long j = 0; j < K; ++j) Wp.col(j) = W.col(perm[size_t(j)]);

  // 5. Blocks of columns; inside a block one column at a time, the error
  // spread over the block's later columns at once, then over the columns after
  // the block with one product.
  const int lo = spec.qmin(), hi = spec.qmax();
  for (long i1 = 0; i1 < K; i1 += o.block) {
    const long i2 = std::min(K, i1 + o.block), count = i2 - i1;
    MatrixD Err = MatrixD::Zero(N, count);
    // Group parameters read the weights as the previous blocks left them (the
    // current block's own updates are not in them), as gptq.py reads W.
    const MatrixD at_block_start = Wp.middleCols(0, K);
    for (long i = 0; i < count; ++i) {
      const long j = i1 + i, c = perm[size_t(j)];
      if (!o.act_order && c % o.group_size == 0) {
        // Natural order: the group's columns are j .. j+G-1 of Wp.
        const long g = c / o.group_size, c1 = std::min(K, c + o.group_size);
        for (long n = 0; n < N; ++n)
          group_params(at_block_start, c, c1, spec, n, &res.q.params.scale[size_t(n * G + g)],
                       &res.q.params.zero_point[size_t(n * G + g)]);
      }
      const long g = c / o.group_size;
      const double d = U(j, j);
      for (long n = 0; n < N; ++n) {
        const float s = res.q.params.scale[size_t(n * G + g)];
        const int32_t zp = res.q.params.zero_point[size_t(n * G + g)];
        const double wv = Wp(n, j);
        // The project's asymmetric quantizer on the float32 value.
        const int code = clamp_to_int(round_half_even(float(wv) / s) + float(zp), lo, hi);
        res.q.codes[size_t(n * K + c)] = int16_t(code);
        const double deq = double(float(code - zp) * s);
        const double err = (wv - deq) / d;
        res.loss += (wv - deq) * (wv - deq) / (d * d) / 2;
        Err(n, i) = err;
        for (long k = i + 1; k < count; ++k) Wp(n, i1 + k) -= err * U(j, i1 + k);
      }
    }
    if (i2 < K) Wp.rightCols(K - i2).noalias() -= Err * U.block(i1, i2, count, K - i2);
  }
  return res;
}

}  // namespace sqsim
