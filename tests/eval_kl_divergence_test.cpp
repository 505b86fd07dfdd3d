// KL-divergence statistics (sim/eval/kl_divergence.h) on hand-made
// distributions, percentiles, llama.cpp's perplexity uncertainty and the
// paired-difference standard error, each against an independent computation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/error.h"
#include "sim/eval/kl_divergence.h"

using namespace sqsim;

TEST(EvalKl, IdenticalRowsGiveZero) {
  const std::vector<float> row = {0.3f, -1.0f, 2.5f, 0.0f};
  const TokenKl t = token_kl(row.data(), row.data(), 4, 2);
  EXPECT_EQ(t.kl, 0.0);
  EXPECT_TRUE(t.same_top1);
  EXPECT_EQ(t.p_base, t.p_quant);
  // A shift of every logit by a constant is the same distribution.
  const std::vector<float> shifted = {1.3f, 0.0f, 3.5f, 1.0f};
  EXPECT_NEAR(token_kl(row.data(), shifted.data(), 4, 0).kl, 0.0, 1e-12);
}

TEST(EvalKl, HandMadeDistributions) {
  // p = (1/4, 3/4), q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2).
  const std::vector<float> p = {float(std::log(0.25)), float(std::log(0.75))};
  const std::vector<float> q = {0.0f, 0.0f};
  const TokenKl t = token_kl(p.data(), q.data(), 2, 0);
  EXPECT_NEAR(t.kl, 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  EXPECT_FALSE(t.same_top1);  // q's tie goes to index 0, p's top is 1
  EXPECT_NEAR(t.p_base, 0.25, 1e-7);
  EXPECT_NEAR(t.p_quant, 0.5, 1e-12);
  // One-hot base (p(0) = 1 up to e^-100) against uniform over 3: KL = ln 3.
  const std::vector<float> hot = {100.0f, 0.0f, 0.0f}, flat = {0.0f, 0.0f, 0.0f};
  const TokenKl h = token_kl(hot.data(), flat.data(), 3, 1);
  EXPECT_NEAR(h.kl, std::log(3.0), 1e-12);
  EXPECT_TRUE(h.same_top1);
  EXPECT_NEAR(h.p_quant - h.p_base, 1.0 / 3.0, 1e-12);
  // The reverse direction is not symmetric: uniform against one-hot is ln(1/3) + 2/3 * 100.
  EXPECT_NEAR(token_kl(flat.data(), hot.data(), 3, 0).kl, std::log(1.0 / 3.0) + 200.0 / 3.0, 1e-9);
  EXPECT_THROW(token_kl(hot.data(), flat.data(), 3, 3), Error);
}

TEST(EvalKl, WindowRowsAgainstNextTokens) {
  MatrixF a(3, 2), b(3, 2);
  a << 0, 0, 1, 0, 5, 5;
  b << 0, 0, 0, 1, 5, 5;
  const std::vector<TokenKl> w = window_kl(a, b, {0, 1, 0});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].kl, 0.0);
  EXPECT_NEAR(w[0].p_base, 0.5, 1e-12);
  EXPECT_GT(w[1].kl, 0.0);
  EXPECT_FALSE(w[1].same_top1);
  EXPECT_NEAR(w[1].p_base, std::exp(1.0) / (1 + std::exp(1.0)), 1e-7);  // token 0 under (1, 0)
  MatrixF c(3, 3);
  EXPECT_THROW(window_kl(a, c, {0, 1, 0}), Error);
}

TEST(EvalKl, PercentilesInterpolate) {
  const std::vector<double> v = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(percentile(v, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(percentile(v, 0.9), 4.6);  // position 3.6 between 4 and 5
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 1.0), 5.0);
  EXPECT_DOUBLE_EQ(percentile({2, 4}, 0.5), 3.0);
  EXPECT_THROW(percentile({}, 0.5), Error);
}

TEST(EvalKl, Statistics) {
  std::vector<TokenKl> t(4);
  const double kl[] = {0.1, 0.3, 0.0, 0.2};
  for (int i = 0; i < 4; ++i) {
    t[size_t(i)].kl = kl[i];
    t[size_t(i)].same_top1 = i != 1;
    t[size_t(i)].p_base = 0.5;
    t[size_t(i)].p_quant = 0.5 - 0.1 * i;
  }
  const KlStats s = kl_statistics(t);
  EXPECT_EQ(s.tokens, 4u);
  EXPECT_NEAR(s.kl.mean, 0.15, 1e-12);
  // deviations -0.05, 0.15, -0.15, 0.05: ss = 0.05; var = 0.05 / 3; stderr = sqrt(var / 4)
  EXPECT_NEAR(s.kl.stderr_, std::sqrt(0.05 / 3.0 / 4.0), 1e-12);
  EXPECT_NEAR(s.median, 0.15, 1e-12);
  EXPECT_NEAR(s.p90, 0.2 + 0.7 * 0.1, 1e-12);  // position 2.7 of (0, .1, .2, .3)
  EXPECT_NEAR(s.p99, 0.2 + 0.97 * 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(s.max, 0.3);
  EXPECT_DOUBLE_EQ(s.same_top1.mean, 0.75);
  EXPECT_DOUBLE_EQ(s.same_top1.stderr_, 0.25);
  EXPECT_NEAR(s.delta_p.mean, -0.15, 1e-12);
  EXPECT_THROW(kl_statistics({}), Error);
}

TEST(EvalKl, PerplexityUncertaintyLikeLlamaCpp) {
  // llama.cpp: ppl = exp(mean), uncertainty = ppl * sqrt((E[x^2] - E[x]^2) / (n - 1)).
  const std::vector<double> nll = {2.0, 3.0, 2.5, 4.5};
  double s = 0, s2 = 0;
  for (double x : nll) {
    s += x;
    s2 += x * x;
  }
  const double n = 4, mean = s / n, unc = std::sqrt((s2 / n - mean * mean) / (n - 1));
  const MeanStderr p = perplexity_from_nll(nll);
  EXPECT_NEAR(p.mean, std::exp(mean), 1e-12);
  EXPECT_NEAR(p.stderr_, std::exp(mean) * unc, 1e-12);
}

TEST(EvalKl, PairedDifference) {
  // Two runs whose values move together: the paired stderr is much smaller than either run's.
  const std::vector<double> a = {2.0, 3.0, 5.0, 4.0, 6.0}, b = {1.9, 3.1, 4.8, 3.8, 5.8};
  const MeanStderr d = paired_difference(a, b);
  const double diffs[] = {0.1, -0.1, 0.2, 0.2, 0.2};
  double m = 0;
  for (double x : diffs) m += x / 5;
  double ss = 0;
  for (double x : diffs) ss += (x - m) * (x - m);
  EXPECT_NEAR(d.mean, m, 1e-12);
  EXPECT_NEAR(d.stderr_, std::sqrt(ss / 4) / std::sqrt(5.0), 1e-12);
  EXPECT_LT(d.stderr_, mean_stderr(a).stderr_ / 5);
  const MeanStderr r = perplexity_ratio(a, b);
  EXPECT_NEAR(r.mean, std::exp(m), 1e-12);
  EXPECT_NEAR(r.stderr_, std::exp(m) * d.stderr_, 1e-12);
  EXPECT_THROW(paired_difference({1.0}, {1.0, 2.0}), Error);
}
