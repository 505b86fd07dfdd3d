#include "kernels/llm_int8.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>

#include "base/error.h"
#include "kernels/gemm.h"
#include "quant/fp16.h"
#include "quant/quantize.h"

namespace sqsim::kernels {

namespace {

QuantSpec per_row_int8() {
  QuantSpec s;
  s.bits = 8;
  s.granularity = Granularity::kPerRow;
  return s;
}

}  // namespace

LlmInt8Weights prepare_llm_int8_weights(const MatrixF& w, const std::string& what) {
  require_nonempty(w, what + " weight");
  LlmInt8Weights p;
  p.w = w;
  p.codes = to_int8(quantize(w, per_row_int8(), what + " weight"), what + " weight");
  return p;
}

std::vector<long> llm_int8_outlier_columns(const MatrixF& x, float threshold) {
  std::vector<long> cols;
  for (long k = 0; k < x.cols(); ++k) {
    for (long m = 0; m < x.rows(); ++m) {
      if (std::fabs(x(m, k)) >= threshold) {
        cols.push_back(k);
        break;
      }
    }
  }
  return cols;
}

MatrixF llm_int8_integer_part(const MatrixF& x, const LlmInt8Weights& w, const std::vector<long>& outliers,
                              KernelPath path, const std::string& what) {
  const long K = x.cols(), N = w.codes.rows;
  std::vector<char> is_outlier(size_t(K), 0);
  for (long k : outliers) is_outlier[size_t(k)] = 1;
  const long kr = K - long(outliers.size());
  if (kr == 0) return MatrixF::Zero(x.rows(), N);
  // The regular columns, compacted in ascending order, of x and of the codes.
  MatrixF xr(x.rows(), kr);
  Int8Matrix b;
  b.rows = N;
  b.cols = kr;
  b.group_size = kr;
  b.codes.resize(size_t(N * kr));
  b.scale = w.codes.scale;
  b.layout = w.codes.layout;
  for (long k = 0, j = 0; k < K; ++k) {
    if (is_outlier[size_t(k)]) continue;
    xr.col(j) = x.col(k);
    for (long n = 0; n < N; ++n) b.codes[size_t(n * kr + j)] = w.codes.codes[size_t(n * K + k)];
    ++j;
  }
  // Per-token absmax over the regular columns only (the outliers are not in them).
  const Int8Matrix a = to_int8(quantize(xr, per_row_int8(), what + " input"), what + " input");
  return linear_s8s8(a, b, nullptr, path);
}

MatrixF llm_int8_float_part(const MatrixF& x, const MatrixF& w, const std::vector<long>& outliers, bool fp16) {
  const long M = x.rows(), N = w.rows(), J = long(outliers.size());
  MatrixF y = MatrixF::Zero(M, N);
  if (outliers.empty()) return y;
  // y[m, n] = sum over the outlier columns k in ascending order of x[m, k] * w[n, k],
  // in float32, one product and one addition at a time. The loops run over n
  // innermost (contiguous, vectorizable) but every y[m, n] still sees its
  // products in the order of k, each rounded before the add (the build turns
  // FMA contraction off), so the bits are those of the plain triple loop.
  MatrixF xo(M, J), wt(J, N);
  for (long j = 0; j < J; ++j) {
    const long k = outliers[size_t(j)];
    for (long m = 0; m < M; ++m) xo(m, j) = fp16 ? round_to_fp16(x(m, k)) : x(m, k);
    for (long n = 0; n < N; ++n) wt(j, n) = fp16 ? round_to_fp16(w(n, k)) : w(n, k);
  }
  tbb::parallel_for(tbb::blocked_range<long>(0, M, 16), [&](const tbb::blocked_range<long>& r) {
    for (long m = r.begin(); m < r.end(); ++m) {
      float* yr = y.data() + m * N;
      for (long j = 0; j < J; ++j) {
        const float xv = xo(m, j);
        const float* wr = wt.data() + j * N;
        for (long n = 0; n < N; ++n) yr[n] = yr[n] + xv * wr[n];
      }
    }
  });
  return y;
}

MatrixF llm_int8_linear(const MatrixF& x, const LlmInt8Weights& w, const float* bias,
                        const LlmInt8Options& options, const std::string& what, LlmInt8Stats* stats) {
  if (!(options.threshold > 0) || !std::isfinite(options.threshold))
    throw Error(what + ": the LLM.int8() threshold must be a positive number, got " +
                std::to_string(options.threshold));
  if (x.cols() != w.w.cols())
    throw Error(what + ": input has " + std::to_string(x.cols()) + " channels, weight expects " +
                std::to_string(w.w.cols()));
  require_finite(x, what + " input");
  const std::vector<long> outliers = llm_int8_outlier_columns(x, options.threshold);
  MatrixF y = llm_int8_integer_part(x, w, outliers, options.path, what);
  if (!outliers.empty()) y = y + llm_int8_float_part(x, w.w, outliers, options.fp16_outliers);
  if (bias) {
    for (long m = 0; m < y.rows(); ++m)
      for (long n = 0; n < y.cols(); ++n) y(m, n) = y(m, n) + bias[n];
  }
  if (stats) {
    stats->outlier_columns = outliers;
    stats->float_mac_share = double(outliers.size()) / double(x.cols());
  }
  return y;
}

}  // namespace sqsim::kernels
