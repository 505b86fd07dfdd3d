// Error and outlier metrics against independent float64 computations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "quant/error_metrics.h"
#include "quant/error_sums.h"
#include "quant/quantize.h"
#include "quant/outlier_metrics.h"
#include "sim/eval/synthetic_layer.h"

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

// The sums in the documented order (quant/error_sums.h), written out plainly:
// lane i % 8 in index order, then lanes 0 + 1 + ... + 7.
// n normal values (sigma 3) and the same plus small noise, from `seed`.
void reference_and_close_approximation(unsigned seed, long n, std::vector<float>& r, std::vector<float>& a) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 3.f);
  r.resize(n);
  a.resize(n);
  for (long i = 0; i < n; ++i) {
    r[i] = normal(gen);
    a[i] = r[i] + 0.01f * normal(gen);
  }
}

ErrorSums lane_order_sums(const std::vector<float>& r, const std::vector<float>& a) {
  double lanes[5][kErrorLanes] = {};
  for (size_t i = 0; i < r.size(); ++i) {
    const int j = static_cast<int>(i % kErrorLanes);
    const double x = a[i], y = r[i], d = x - y;
    lanes[0][j] += y * y;
    lanes[1][j] += x * x;
    lanes[2][j] += d * d;
    lanes[3][j] += x * y;
    if (lanes[4][j] < std::fabs(d)) lanes[4][j] = std::fabs(d);
  }
  ErrorSums s;
  for (int j = 0; j < kErrorLanes; ++j) {
    s.ref_sq += lanes[0][j];
    s.app_sq += lanes[1][j];
    s.err_sq += lanes[2][j];
    s.dot += lanes[3][j];
    s.max_abs = std::max(s.max_abs, lanes[4][j]);
  }
  return s;
}

void expect_same_bits(const ErrorSums& want, const ErrorSums& got, const std::string& where) {
  const double w[5] = {want.ref_sq, want.app_sq, want.err_sq, want.dot, want.max_abs};
  const double g[5] = {got.ref_sq, got.app_sq, got.err_sq, got.dot, got.max_abs};
  EXPECT_EQ(0, std::memcmp(w, g, sizeof w)) << where << ": " << w[0] << " " << g[0] << ", " << w[2] << " " << g[2]
                                             << ", " << w[4] << " " << g[4];
}

TEST(ErrorSums, EveryPathFollowsTheDocumentedOrderBitForBit) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.f, 3.f);
  const float specials[] = {0.f, -0.f, 1e-40f, -1e-40f, 3e38f, -3e38f, 65504.f, 1e-7f};
  for (long n : {0L, 1L, 7L, 8L, 9L, 15L, 16L, 17L, 63L, 64L, 100L, 1000L, 4099L}) {
    std::vector<float> r(n), a(n);
    for (long i = 0; i < n; ++i) {
      r[i] = normal(gen);
      a[i] = r[i] + 0.01f * normal(gen);
      if (i % 13 == 5) a[i] = specials[i % 8];
      if (i % 17 == 3) r[i] = specials[(i / 17) % 8];
    }
    const ErrorSums want = lane_order_sums(r, a);
    for (ErrorSumsPath p : {ErrorSumsPath::kAuto, ErrorSumsPath::kPortable, ErrorSumsPath::kAvx2,
                            ErrorSumsPath::kAvx512}) {
      if (!error_sums_path_available(p)) continue;
      expect_same_bits(want, error_sums(r.data(), a.data(), n, p),
                       "n " + std::to_string(n) + " path " + std::to_string(static_cast<int>(p)));
    }
  }
}

// Pieces of any length (row by row, ragged, one element at a time) give the
// bits of one call over the whole buffer, on every path.
TEST(ErrorSums, PiecesGiveTheBitsOfOneCall) {
  const long n = 1237;
  std::vector<float> r, a;
  reference_and_close_approximation(11, n, r, a);
  const ErrorSums want = lane_order_sums(r, a);
  for (ErrorSumsPath p : {ErrorSumsPath::kPortable, ErrorSumsPath::kAvx2, ErrorSumsPath::kAvx512}) {
    if (!error_sums_path_available(p)) continue;
    for (long piece : {1L, 3L, 8L, 13L, 64L, 577L}) {
      ErrorLaneState st;
      for (long i = 0; i < n; i += piece) error_sums_add(st, r.data() + i, a.data() + i, std::min(piece, n - i), p);
      EXPECT_EQ(st.count, n);
      expect_same_bits(want, error_sums_finish(st),
                       "pieces of " + std::to_string(piece) + " path " + std::to_string(static_cast<int>(p)));
    }
  }
}

// Each subset of the sums leaves the lanes it does not update untouched and
// gives its own lanes the bits of kAll, so a reference's sums made once and
// copied in give kAll's state exactly, on every path and for any pieces.
TEST(ErrorSums, PartsGiveTheBitsOfAll) {
  const long n = 1237;
  std::vector<float> r, a;
  reference_and_close_approximation(12, n, r, a);
  for (ErrorSumsPath p : {ErrorSumsPath::kPortable, ErrorSumsPath::kAvx2, ErrorSumsPath::kAvx512}) {
    if (!error_sums_path_available(p)) continue;
    for (long piece : {3L, 8L, 577L, n}) {
      const std::string what = "pieces of " + std::to_string(piece) + " path " + std::to_string(static_cast<int>(p));
      auto add = [&](ErrorSumsParts parts) {
        ErrorLaneState st;
        for (long i = 0; i < n; i += piece)
          error_sums_add(st, r.data() + i, a.data() + i, std::min(piece, n - i), p, parts);
        return st;
      };
      const ErrorLaneState all = add(ErrorSumsParts::kAll), reference = add(ErrorSumsParts::kReferenceOnly);
      ErrorLaneState rest = add(ErrorSumsParts::kAllButReference);
      const ErrorLaneState error_only = add(ErrorSumsParts::kErrorOnly);
      const ErrorLaneState zero;
      EXPECT_EQ(std::memcmp(rest.lane[0], zero.lane[0], sizeof zero.lane[0]), 0) << what;
      error_sums_take_reference(rest, reference);
      EXPECT_EQ(std::memcmp(rest.lane, all.lane, sizeof all.lane), 0) << what;
      EXPECT_EQ(std::memcmp(reference.lane[0], all.lane[0], sizeof all.lane[0]), 0) << what;
      EXPECT_EQ(std::memcmp(reference.lane[1], zero.lane[1], 4 * sizeof zero.lane[0]), 0) << what;  // lanes 1-4
      EXPECT_EQ(std::memcmp(error_only.lane[2], all.lane[2], sizeof all.lane[2]), 0) << what;
      for (int s : {0, 1, 3, 4}) EXPECT_EQ(std::memcmp(error_only.lane[s], zero.lane[s], sizeof zero.lane[s]), 0) << what;
    }
  }
}

// The row-by-row measurement of a quantization equals comparing with the whole
// dequantized matrix, bit for bit, for every granularity (ragged groups,
// columns not a multiple of the 8 lanes) and both code kinds.
TEST(ErrorMetrics, QuantizeAndMeasureEqualsCompareWithTheDequantizedMatrix) {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.f, 2.f);
  for (long cols : {7L, 64L, 100L, 576L}) {
    MatrixF x(13, cols);
    for (long i = 0; i < x.size(); ++i) x.data()[i] = normal(gen) * (i % 37 == 0 ? 40.f : 1.f);
    for (Granularity g : {Granularity::kPerTensor, Granularity::kPerRow, Granularity::kPerColumn, Granularity::kPerGroup}) {
      for (bool symmetric : {true, false}) {
        QuantSpec spec;
        spec.bits = symmetric ? 8 : 4;
        spec.symmetric = symmetric;
        spec.granularity = g;
        spec.group_size = g == Granularity::kPerGroup ? 32 : 0;
        const QuantizedMatrix q = quantize(x, spec, "x");
        const ErrorMetrics a = compare(x, dequantize(q), "x");
        const std::string what = "cols " + std::to_string(cols) + " granularity " + std::to_string(static_cast<int>(g)) +
                                 " symmetric " + std::to_string(symmetric);
        EXPECT_GT(a.rel_err, 0.0) << what;
        const ReferenceSums sums = reference_sums(x);
        ErrorLaneState err_only, all;
        const QuantizedMatrix q_err = quantize_and_measure(x, spec, q.params, "x", FiniteCheck::kCheck,
                                                           ErrorSumsParts::kErrorOnly, err_only);
        const QuantizedMatrix q_all =
            quantize_and_measure(x, spec, q.params, "x", FiniteCheck::kCheck, ErrorSumsParts::kAll, all);
        EXPECT_TRUE(q_err.codes == q.codes && q_all.codes == q.codes) << what;
        const ErrorSums all_sums = error_sums_finish(all);
        const ErrorMetrics c = compare(x, sums, dequantize(q), "x"), d = rel_sqnr_metrics(sums, err_only);
        const ErrorSums want = error_sums(x.data(), dequantize(q).data(), x.size());
        EXPECT_EQ(std::memcmp(&all_sums, &want, sizeof want), 0) << what;
        EXPECT_EQ(std::memcmp(&a, &c, sizeof a), 0) << what;
        EXPECT_EQ(std::memcmp(&a.rel_err, &d.rel_err, sizeof a.rel_err), 0) << what;
        EXPECT_EQ(std::memcmp(&a.sqnr_db, &d.sqnr_db, sizeof a.sqnr_db), 0) << what;
        EXPECT_TRUE(std::isnan(d.max_abs) && std::isnan(d.cosine)) << what;
      }
    }
  }
  EXPECT_THROW(compare(MatrixF::Ones(2, 3), reference_sums(MatrixF::Ones(3, 2)), MatrixF::Ones(2, 3), "pair"), Error);
}

TEST(ErrorSums, InfinityAndNanDifferences) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> r(20, 1.f), a(20, 1.f);
  a[3] = 3.f;
  a[11] = nan;  // a NaN difference leaves the max as it was, and the sums NaN
  for (ErrorSumsPath p : {ErrorSumsPath::kPortable, ErrorSumsPath::kAvx2, ErrorSumsPath::kAvx512}) {
    if (!error_sums_path_available(p)) continue;
    const ErrorSums s = error_sums(r.data(), a.data(), 20, p);
    EXPECT_EQ(s.max_abs, 2.0);
    EXPECT_TRUE(std::isnan(s.err_sq));
    std::vector<float> b = r;
    b[19] = inf;  // in the tail
    const ErrorSums t = error_sums(r.data(), b.data(), 20, p);
    EXPECT_TRUE(std::isinf(t.max_abs));
    EXPECT_TRUE(std::isinf(t.err_sq));
    EXPECT_EQ(t.ref_sq, 20.0);
  }
}

TEST(ErrorMetrics, MatchesALongDoubleComputationOnALargeMatrix) {
  MatrixF r(300, 577), a(300, 577);
  std::mt19937 gen(3);
  std::normal_distribution<float> normal;
  long double rr = 0, ee = 0, aa = 0, dd = 0;
  for (long i = 0; i < r.size(); ++i) {
    r.data()[i] = normal(gen);
    a.data()[i] = r.data()[i] + 0.05f * normal(gen);
    const long double x = a.data()[i], y = r.data()[i];
    rr += y * y;
    aa += x * x;
    ee += (x - y) * (x - y);
    dd += x * y;
  }
  const ErrorMetrics m = compare(r, a, "t");
  EXPECT_NEAR(m.rel_err, static_cast<double>(std::sqrt(ee / rr)), 1e-12);
  EXPECT_NEAR(m.cosine, static_cast<double>(dd / std::sqrt(rr * aa)), 1e-12);
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
