#pragma once
// The log-sum-exp behind every token NLL (docs/statistics.md, "The token
// NLL"): the largest element of a row of float logits and the sum of
// e(x_j - max) over it, in double, in 8 fixed lanes, with the project's own
// exp. The portable function below defines the bits; the AVX-512 and AVX2
// paths (kernels/x86/log_sum_exp_{avx512,avx2}.cpp) run the same operations
// 8 lanes at a time and return the same bits. Chosen at run time: AVX-512
// where kernels/sgemm.h takes it, else AVX2 + FMA, else portable.
namespace sqsim::kernels {

struct MaxExpSum {
  double max = 0;  // largest element (a float, exact)
  double sum = 0;  // S of the documented order; NaN for a row with a NaN or +inf, or no finite element
};

MaxExpSum max_exp_sum(const float* x, long n);

// log p(target) = x[target] - max - log(S), in this order, from the row's
// max_exp_sum s: the token NLL is its negation; a continuation's
// log-likelihood (lm-eval's) is the sum of these over its tokens.
double log_prob(const float* x, const MaxExpSum& s, long target);

// The paths, for tests; the _avx512 one needs sgemm_avx512_available(), the
// _avx2 one max_exp_sum_avx2_available().
MaxExpSum max_exp_sum_portable(const float* x, long n);
MaxExpSum max_exp_sum_avx512(const float* x, long n);
MaxExpSum max_exp_sum_avx2(const float* x, long n);
bool max_exp_sum_avx2_available();

// e(x), the documented exp of one term (x <= 0 in use; 0 below kExpFloor).
double exp_term(double x);

namespace log_sum_exp_detail {

// Every path rounds from these same numbers.
constexpr double kExpFloor = -708.0;  // e(x) = 0 below: 2^k stays a normal double above
constexpr double kLog2e = 1.4426950408889634;
// ln 2 = kLn2Hi + kLn2Lo; kLn2Hi has 32 significant bits, so k * kLn2Hi is
// exact for |k| < 2^21 and r = x - k ln 2 loses nothing to cancellation.
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
// 1/i!, i = 0..13: the Taylor series of e^r, |r| <= ln2/2 (truncation < 5e-18).
constexpr int kDegree = 13;
constexpr double kTaylor[kDegree + 1] = {1.0,
                                         1.0,
                                         1.0 / 2.0,
                                         1.0 / 6.0,
                                         1.0 / 24.0,
                                         1.0 / 120.0,
                                         1.0 / 720.0,
                                         1.0 / 5040.0,
                                         1.0 / 40320.0,
                                         1.0 / 362880.0,
                                         1.0 / 3628800.0,
                                         1.0 / 39916800.0,
                                         1.0 / 479001600.0,
                                         1.0 / 6227020800.0};
constexpr int kLanes = 8;  // element j goes to lane j % 8

// S from the 8 lane sums, in the documented tree.
inline double combine_lanes(const double* s) { return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); }

}  // namespace log_sum_exp_detail

}  // namespace sqsim::kernels
