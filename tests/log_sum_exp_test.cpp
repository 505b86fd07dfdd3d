// The token NLL's log-sum-exp (kernels/log_sum_exp.h, docs/statistics.md "The
// token NLL"): its exp against std::exp, its sums against a long double
// reference and against the documented order restated here, the AVX-512 and
// AVX2 paths bit for bit against the portable one, non-finite rows, and next_token_nll on
// hand-computed rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/log_sum_exp.h"
#include "kernels/sgemm.h"
#include "sim/eval/perplexity.h"

namespace sqsim::kernels {
namespace {

std::vector<float> logits_row(long n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 4.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(LogSumExp, ExpIsWithinTwoUlpOfStdExp) {
  double worst_ulp = 0;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-708.0, 0.0);
  std::vector<double> xs;
  for (double x = -708.0; x <= 0.0; x += 0.0173) xs.push_back(x);
  for (int i = 0; i < 100000; ++i) xs.push_back(u(rng));
  for (double x : {-1e-300, -1e-17, -0.34657359027997264, -0.34657359027997270, -707.9999})
    xs.push_back(x);
  for (const double x : xs) {
    const double want = std::exp(x);
    const double ulp = std::nextafter(want, INFINITY) - want;
    worst_ulp = std::max(worst_ulp, std::abs(exp_term(x) - want) / ulp);
  }
  EXPECT_LE(worst_ulp, 2.0);
  EXPECT_EQ(exp_term(0.0), 1.0);  // the row's largest term is exactly 1
  EXPECT_EQ(exp_term(-708.5), 0.0);
  EXPECT_EQ(exp_term(-INFINITY), 0.0);
}

// The documented order, written out independently of the kernel's loops.
double documented_sum(const std::vector<float>& z) {
  float m = z[0];
  for (float v : z) m = v > m ? v : m;
  double s[8] = {};
  for (size_t l = 0; l < 8; ++l)
    for (size_t j = l; j < z.size(); j += 8) s[l] = s[l] + exp_term(double(z[j]) - double(m));
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

TEST(LogSumExp, PortableFollowsTheDocumentedOrderAndIsAccurate) {
  for (long n : {1L, 2L, 7L, 8L, 9L, 17L, 1000L, 49152L}) {
    const std::vector<float> z = logits_row(n, unsigned(n));
    const MaxExpSum got = max_exp_sum_portable(z.data(), n);
    EXPECT_TRUE(same_bits(got.sum, documented_sum(z))) << "n " << n;
    long double ref = 0;
    for (float v : z) ref += std::exp((long double)v - (long double)got.max);
    EXPECT_NEAR(double(got.sum), double(ref), 4e-16 * double(ref) * std::sqrt(double(n))) << "n " << n;
  }
}

// Every vector path against the portable one, bit for bit.
void expect_same_bits_as_portable(MaxExpSum (*path)(const float*, long)) {
  std::vector<long> sizes;
  for (long n = 1; n <= 40; ++n) sizes.push_back(n);
  for (long n : {255L, 1000L, 32000L, 49152L}) sizes.push_back(n);
  for (const long n : sizes) {
    std::vector<float> z = logits_row(n, unsigned(100 + n));
    // terms near and past the floor, masked-out logits, exact ties with the max
    if (n > 3) z[1] = -INFINITY, z[2] = z[0] - 720.0f, z[3] = z[0] - 707.99f;
    if (n > 5) z[5] = *std::max_element(z.begin(), z.end());
    const MaxExpSum a = max_exp_sum_portable(z.data(), n), b = path(z.data(), n);
    EXPECT_TRUE(same_bits(a.max, b.max)) << "n " << n;
    EXPECT_TRUE(same_bits(a.sum, b.sum)) << "n " << n << ": " << a.sum << " vs " << b.sum;
  }
}

TEST(LogSumExp, PortableAndAvx512GiveTheSameBits) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "no AVX-512F on this CPU (or SQSIM_SGEMM=eigen)";
  expect_same_bits_as_portable(&max_exp_sum_avx512);
}

TEST(LogSumExp, PortableAndAvx2GiveTheSameBits) {
  if (!max_exp_sum_avx2_available()) GTEST_SKIP() << "no AVX2 + FMA on this CPU";
  expect_same_bits_as_portable(&max_exp_sum_avx2);
}

TEST(LogSumExp, NonFiniteRows) {
  for (const auto f : {&max_exp_sum_portable, &max_exp_sum_avx512, &max_exp_sum_avx2}) {
    if (f == &max_exp_sum_avx512 && !sgemm_avx512_available()) continue;
    if (f == &max_exp_sum_avx2 && !max_exp_sum_avx2_available()) continue;
    std::vector<float> z = logits_row(19, 3);
    EXPECT_TRUE(std::isfinite(f(z.data(), 19).sum));
    std::vector<float> bad = z;
    bad[17] = NAN;
    EXPECT_TRUE(std::isnan(f(bad.data(), 19).sum));
    bad[17] = INFINITY;
    EXPECT_TRUE(std::isnan(f(bad.data(), 19).sum));
    const std::vector<float> none(19, -INFINITY);
    EXPECT_TRUE(std::isnan(f(none.data(), 19).sum));
    // a masked-out logit adds nothing: the same bits as a term below the floor
    bad[17] = -INFINITY;
    std::vector<float> low = z;
    low[17] = -1e30f;
    EXPECT_TRUE(same_bits(f(bad.data(), 19).sum, f(low.data(), 19).sum));
  }
}

TEST(LogSumExp, NextTokenNllOfHandComputedRows) {
  // row 0: (0, ln 3) -> p(token 0) = 1/4; row 1: nine equal logits -> 1/9 each.
  MatrixF logits = MatrixF::Zero(3, 9);
  logits.row(0).setConstant(-INFINITY);
  logits(0, 0) = 0.0f;
  logits(0, 1) = float(std::log(3.0));
  logits.row(1).setConstant(2.5f);
  const std::vector<double> nll = next_token_nll(logits, {7, 0, 4});
  ASSERT_EQ(nll.size(), 2u);
  const double p1 = 1.0 / (1.0 + std::exp(double(float(std::log(3.0)))));
  EXPECT_NEAR(nll[0], -std::log(p1), 1e-15);
  EXPECT_EQ(nll[1], std::log(9.0));  // nine exact ones: S = 9 exactly
}

}  // namespace
}  // namespace sqsim::kernels
