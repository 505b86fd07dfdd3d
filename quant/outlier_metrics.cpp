#include "quant/outlier_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace sqsim {

std::vector<int> top_k_indices(const float* values, int n, int k) {
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto larger = [values](int a, int b) { return values[a] > values[b] || (values[a] == values[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), larger);
  idx.resize(k);
  return idx;
}

OutlierReport analyze_outliers(const MatrixF& x, const OutlierOptions& options, const std::string& what) {
  require_nonempty(x, what);
  require_finite(x, what);
  if (options.top_k < 1 || options.top_k > x.cols()) {
    throw Error(what + ": top-k = " + std::to_string(options.top_k) + " (expected 1.." +
                std::to_string(x.cols()) + ")");
  }
  if (!(options.sigma_threshold > 0) || !(options.median_ratio_threshold > 0)) {
    throw Error(what + ": outlier thresholds must be positive");
  }
  OutlierReport rep;
  const long m = x.rows(), k = x.cols();
  rep.channel_absmax = x.cwiseAbs().colwise().maxCoeff().transpose();

  std::vector<float> sorted(rep.channel_absmax.data(), rep.channel_absmax.data() + k);
  std::sort(sorted.begin(), sorted.end());
  const double median = k % 2 ? sorted[k / 2] : 0.5 * (double(sorted[k / 2 - 1]) + double(sorted[k / 2]));
  const double maxv = sorted.back();
  rep.max_median_ratio = median > 0 ? maxv / median : std::numeric_limits<double>::infinity();

  double sum = 0;
  for (long i = 0; i < m; ++i)
    for (long j = 0; j < k; ++j) sum += x(i, j);
  const double n = double(m) * double(k);
  const double mean = sum / n;
  double m2 = 0, m4 = 0;
  for (long i = 0; i < m; ++i)
    for (long j = 0; j < k; ++j) {
      const double d = x(i, j) - mean, d2 = d * d;
      m2 += d2;
      m4 += d2 * d2;
    }
  m2 /= n;
  m4 /= n;
  rep.stddev = std::sqrt(m2);
  rep.kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0.0;

  for (long j = 0; j < k; ++j) {
    const double a = rep.channel_absmax[j];
    if (a > options.sigma_threshold * rep.stddev) ++rep.channels_over_sigma;
    if (a > options.median_ratio_threshold * median) ++rep.channels_over_median;
  }

  const int top = options.top_k;
  rep.top_channels = top_k_indices(rep.channel_absmax.data(), int(k), top);
  std::vector<char> in_global(k, 0);
  for (int c : rep.top_channels) in_global[c] = 1;
  std::vector<float> row_abs(k);
  double overlap_sum = 0;
  for (long i = 0; i < m; ++i) {
    for (long j = 0; j < k; ++j) row_abs[j] = std::fabs(x(i, j));
    int hits = 0;
    for (int c : top_k_indices(row_abs.data(), int(k), top)) hits += in_global[c];
    overlap_sum += double(hits) / top;
  }
  rep.topk_consistency = overlap_sum / m;
  return rep;
}

OutlierReport analyze_outliers(const MatrixF& x, const std::string& what) {
  return analyze_outliers(x, OutlierOptions{}, what);
}

}  // namespace sqsim
