// Error and outlier metrics against independent float64 computations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "quant/error.h"
#include "quant/error_metrics.h"
#include "quant/outlier_metrics.h"
#include "sim/synthetic_layer.h"

namespace sqsim {
namespace {

TEST(ErrorMetrics, HandComputed) {
  MatrixF r(1, 2), a(1, 2);
  r << 3, 4;  // ||R|| = 5
  a << 3, 5;  // error (0, 1)
  const ErrorMetrics m = compare(r, a, "t");
  EXPECT_DOUBLE_EQ(m.rel_err, 0.2);
  EXPECT_NEAR(m.sqnr_db, 10 * std::log10(25.0), 1e-12);
  EXPECT_DOUBLE_EQ(m.max_abs, 1.0);
  EXPECT_NEAR(m.cosine, (9 + 20) / (5 * std::sqrt(34.0)), 1e-12);
}

TEST(ErrorMetrics, EdgeCases) {
  MatrixF z = MatrixF::Zero(2, 2), o = MatrixF::Ones(2, 2);
  EXPECT_EQ(compare(z, z, "t").rel_err, 0);
  EXPECT_TRUE(std::isinf(compare(o, o, "t").sqnr_db));
  EXPECT_TRUE(std::isinf(compare(z, o, "t").rel_err));
  EXPECT_THROW(compare(z, MatrixF::Zero(2, 3), "t"), Error);
}

TEST(OutlierMetrics, PlantedChannelsAreFound) {
  SyntheticLayerSpec spec;
  spec.tokens = 256;
  spec.in_features = 128;
  spec.outlier_channels = 3;
  spec.outlier_scale = 40.0f;
  const SyntheticLayer l = make_synthetic_layer(spec);
  OutlierOptions opt;
  opt.top_k = 3;
  const OutlierReport rep = analyze_outliers(l.x, opt, "x");

  // Independent recomputation in double.
  const long m = l.x.rows(), k = l.x.cols();
  std::vector<double> absmax(k, 0);
  double sum = 0;
  for (long i = 0; i < m; ++i)
    for (long j = 0; j < k; ++j) {
      absmax[j] = std::max(absmax[j], std::fabs(double(l.x(i, j))));
      sum += l.x(i, j);
    }
  const double mean = sum / (m * k);
  double m2 = 0, m4 = 0;
  for (long i = 0; i < m; ++i)
    for (long j = 0; j < k; ++j) {
      const double d = l.x(i, j) - mean;
      m2 += d * d;
      m4 += d * d * d * d;
    }
  m2 /= m * k;
  m4 /= m * k;
  EXPECT_NEAR(rep.kurtosis, m4 / (m2 * m2), 1e-9 * rep.kurtosis);
  std::vector<double> sorted = absmax;
  std::sort(sorted.begin(), sorted.end());
  const double median = 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  EXPECT_NEAR(rep.max_median_ratio, sorted.back() / median, 1e-6);
  int over_sigma = 0, over_median = 0;
  for (double a : absmax) {
    over_sigma += a > 6 * std::sqrt(m2);
    over_median += a > 20 * median;
  }
  EXPECT_EQ(rep.channels_over_sigma, over_sigma);
  EXPECT_EQ(rep.channels_over_median, over_median);
  EXPECT_EQ(rep.channels_over_median, 3);
  std::vector<int> planted = l.outlier_channels, top = rep.top_channels;
  std::sort(planted.begin(), planted.end());
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, planted);
  // Planted channels dominate almost every token (40x a unit Gaussian, which is
  // sometimes near zero in a token).
  EXPECT_GT(rep.topk_consistency, 0.85);
  EXPECT_GT(rep.kurtosis, 3.0 * 5);
}

TEST(OutlierMetrics, GaussianHasKurtosisNearThreeAndNoOutliers) {
  SyntheticLayerSpec spec;
  spec.tokens = 2000;
  spec.in_features = 64;
  spec.outlier_channels = 0;
  const OutlierReport rep = analyze_outliers(make_synthetic_layer(spec).x, "x");
  EXPECT_NEAR(rep.kurtosis, 3.0, 0.1);
  EXPECT_EQ(rep.channels_over_sigma, 0);
  EXPECT_EQ(rep.channels_over_median, 0);
  EXPECT_LT(rep.topk_consistency, 0.5);
}

TEST(OutlierMetrics, BadOptions) {
  OutlierOptions opt;
  opt.top_k = 10;
  EXPECT_THROW(analyze_outliers(MatrixF::Ones(2, 4), opt, "x"), Error);
  EXPECT_THROW(analyze_outliers(MatrixF(0, 4), "x"), Error);
}

}  // namespace
}  // namespace sqsim
