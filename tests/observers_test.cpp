// Calibration observers (quant/observers.h, docs/quantization.md "Calibration
// observers"): the histogram, hand-computed clips, and refusals. The
// histogram methods are also checked against an independent numpy
// implementation in tests/python/test_observers.py.
#include "quant/observers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"

namespace sqsim {
namespace {

AbsHistogram hist_of(const std::vector<float>& v, int bins = 128) {
  AbsHistogram h(bins);
  h.add(v.data(), long(v.size()), "x");
  return h;
}

float clip(const std::vector<float>& v, const std::string& observer, int bits = 8, int bins = 128) {
  return observer_clip(hist_of(v, bins), parse_observer(observer, "--observer"), bits);
}

TEST(Observers, HistogramRangeIsTheSmallestPowerOfTwoAboveTheMaximum) {
  AbsHistogram h = hist_of({0.75f, -0.25f, 0.0f});
  EXPECT_EQ(h.range(), 1.0);
  EXPECT_EQ(h.counts()[96], 1u);  // 0.75 * 128
  EXPECT_EQ(h.counts()[32], 1u);  // 0.25 * 128
  EXPECT_EQ(h.counts()[0], 1u);
  EXPECT_EQ(hist_of({1.0f}).range(), 2.0);  // strictly above: 1.0 goes to bin 64 of [0, 2)
  EXPECT_EQ(hist_of({1.0f}).counts()[64], 1u);
  EXPECT_EQ(hist_of({0.0f, 0.0f}).range(), 0.0);
  EXPECT_EQ(hist_of({0.0f, 0.0f}).counts()[0], 2u);
}

TEST(Observers, HistogramIsTheSameForAnyOrderSplitOrMerge) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(5000);
  for (float& x : v) x = n(rng) * (rng() % 50 == 0 ? 40.0f : 1.0f);
  v.push_back(0.0f);
  const AbsHistogram whole = hist_of(v, 256);
  std::vector<float> rev(v.rbegin(), v.rend());
  EXPECT_EQ(hist_of(rev, 256).counts(), whole.counts());
  AbsHistogram parts(256), a(256), b(256);
  for (size_t i = 0; i < v.size(); i += 7) parts.add(v.data() + i, long(std::min<size_t>(7, v.size() - i)), "x");
  EXPECT_EQ(parts.counts(), whole.counts());
  EXPECT_EQ(parts.range(), whole.range());
  a.add(v.data() + 3000, long(v.size()) - 3000, "x");  // the merge order is free too
  b.add(v.data(), 3000, "x");
  a.merge(b);
  EXPECT_EQ(a.counts(), whole.counts());
  EXPECT_EQ(a.absmax(), whole.absmax());
  AbsHistogram zeros(256);
  const float z[3] = {0, 0, 0};
  zeros.add(z, 3, "x");
  zeros.merge(whole);
  EXPECT_EQ(zeros.counts()[0], whole.counts()[0] + 3);
  EXPECT_EQ(zeros.range(), whole.range());
}

TEST(Observers, AllZeroAndConstantTensors) {
  for (const char* o : {"absmax", "percentile:99.99", "mse", "entropy"}) {
    EXPECT_EQ(clip({0.0f, 0.0f, -0.0f}, o), 0.0f) << o;
    // Constant 2.0: R = 4, the values in bin 64 of width 1/32; every clip is
    // capped at the maximum, and no smaller clip has a smaller error.
    EXPECT_EQ(clip(std::vector<float>(100, 2.0f), o), 2.0f) << o;
    EXPECT_EQ(clip(std::vector<float>(100, -2.0f), o), 2.0f) << o;
  }
}

TEST(Observers, PercentileTakesTheUpperEdgeOfTheBinReachingIt) {
  // 1000 values 1.0 and one 1000.0: R = 1024, w = 8 with 128 bins; 1.0 is in
  // bin 0, which holds 1000/1001 = 99.9001% of the values.
  std::vector<float> v(1000, 1.0f);
  v.push_back(1000.0f);
  EXPECT_EQ(clip(v, "percentile:99.9"), 8.0f);   // bin 0's upper edge
  EXPECT_EQ(clip(v, "percentile:99.91"), 1000.0f);  // needs the last value: capped at the maximum
  EXPECT_EQ(clip(v, "percentile:100"), 1000.0f);
  EXPECT_EQ(clip(v, "absmax"), 1000.0f);
  // Ties at the threshold: exactly half the values in bin 0 -> bin 0 reaches 50%.
  EXPECT_EQ(clip({0.1f, 0.1f, 3.0f, 3.0f}, "percentile:50"), 0.125f);  // R = 4, w = 1/32
}

TEST(Observers, MseClipMinimisesTheHistogramErrorAndClipsALoneOutlier) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(20000);
  for (float& x : v) x = n(rng);
  v.push_back(60.0f);  // a lone outlier: clipping it costs less than coarse steps for everything else
  const AbsHistogram h = hist_of(v, 2048);
  const float c = observer_clip(h, parse_observer("mse", "--observer"), 8);
  EXPECT_LT(c, 60.0f);
  EXPECT_GT(c, 3.0f);
  const double best = mse_objective(h, c, 8);
  const double w = h.bin_width();
  for (int j = 0; j < 2048; ++j) {
    const double cj = std::min(double(j + 1) * w, double(h.absmax()));
    EXPECT_GE(mse_objective(h, cj, 8), best) << j;
  }
  // By hand: 0.001 lies in [0, 2^-9), bin 65 of 128 (0.001 * 2^16 = 65.5),
  // centre m = 65.5 / 2^16; clip 1/128 with 2 bits: s = 1/128, m / s < 0.5
  // rounds to 0, error m^2.
  const double m = 65.5 / 65536;
  EXPECT_DOUBLE_EQ(mse_objective(hist_of({0.001f}), 1.0 / 128, 2), m * m);
}

TEST(Observers, EntropyClipsAHeavyTailAndKeepsAUniformRange) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> flat(50000);
  for (float& x : flat) x = u(rng);
  const float c_flat = clip(flat, "entropy", 8, 2048);
  EXPECT_GT(c_flat, 0.9f * 0.99999f);  // a uniform range is kept (nearly) whole
  std::exponential_distribution<float> e(1.0f);
  std::vector<float> tail(50000);
  for (float& x : tail) x = e(rng);
  tail.push_back(200.0f);
  const float c_tail = clip(tail, "entropy", 8, 2048);
  EXPECT_LT(c_tail, 50.0f);
  // The chosen n minimises KL over every candidate.
  const AbsHistogram h = hist_of(tail, 2048);
  const double w = h.bin_width();
  const int n_best = int(std::lround(c_tail / w));
  const double kl_best = entropy_objective(h, n_best, 8);
  int last = 2047;
  while (h.counts()[size_t(last)] == 0) --last;
  for (int n = 128; n <= last + 1; ++n) EXPECT_GE(entropy_objective(h, n, 8), kl_best) << n;
  // By hand, 2 bits (L = 2) on 128 bins of [0, 1): one value in bin 1 and
  // one in bin 127. Every bin kept (n = 128): chunks 0..63 and 64..127, each
  // holding one value in one non-zero bin, so Q = P and KL = 0. n = 64: the
  // tail moves into bin 63, whose chunk (32..63) has no mass of its own:
  // Q_63 = 0, smoothed to eps, against P_63 = 1: a large KL.
  AbsHistogram gap = hist_of({1.5f / 128, 127.5f / 128}, 128);
  EXPECT_NEAR(entropy_objective(gap, 128, 2), 0.0, 1e-12);
  EXPECT_GT(entropy_objective(gap, 64, 2), 1.0);
  EXPECT_EQ(clip({1.5f / 128, 127.5f / 128}, "entropy", 2), 127.5f / 128);
}

TEST(Observers, RefusesBadSpellingsNamingTheOption) {
  for (const char* bad : {"percentile:0", "percentile:100.5", "percentile:nan", "percentile:", "percentile:-1",
                          "percentile:99x", "max", "", "kl"}) {
    try {
      parse_observer(bad, "--observer");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--observer"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(observer_name(parse_observer("percentile:99.99", "--observer")), "percentile:99.99");
  EXPECT_EQ(observer_name(parse_observer("entropy", "--observer")), "entropy");
  EXPECT_THROW(validate_observer_bins(100, "--observer-bins"), Error);
  EXPECT_THROW(validate_observer_bins(64, "--observer-bins"), Error);
  validate_observer_bins(2048, "--observer-bins");
  AbsHistogram h(128);
  const float bad[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  try {
    h.add(bad, 2, "layer x input");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer x input"), std::string::npos);
  }
}

}  // namespace
}  // namespace sqsim
