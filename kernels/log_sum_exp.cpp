#include "kernels/log_sum_exp.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"

namespace sqsim::kernels {

using namespace log_sum_exp_detail;

double exp_term(double x) {
  if (!(x >= kExpFloor)) return 0.0;  // also -inf (a masked-out logit) and NaN
  const double k = std::nearbyint(x * kLog2e);  // round half to even (the default mode)
  double r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  double p = kTaylor[kDegree];
  for (int i = kDegree - 1; i >= 0; --i) p = std::fma(p, r, kTaylor[i]);
  return std::ldexp(p, int(k));  // exact: p * 2^k is a normal double here
}

MaxExpSum max_exp_sum_portable(const float* x, long n) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  float mx = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (long j = 0; j < n; ++j) {
    nan = nan || std::isnan(x[j]);
    mx = std::max(mx, x[j]);
  }
  if (nan || !std::isfinite(mx)) return {nan ? kNan : double(mx), kNan};
  const double m = double(mx) + 0.0;  // a zero max as +0, whichever zero the max compares kept
  double lane[kLanes] = {};
  for (long j = 0; j < n; ++j) lane[j % kLanes] += exp_term(double(x[j]) - m);
  return {m, combine_lanes(lane)};
}

bool max_exp_sum_avx2_available() {
  static const bool ok = cpu_features().avx2 && cpu_features().fma;
  return ok;
}

MaxExpSum max_exp_sum(const float* x, long n) {
  if (sgemm_avx512_available()) return max_exp_sum_avx512(x, n);
  if (max_exp_sum_avx2_available()) return max_exp_sum_avx2(x, n);
  return max_exp_sum_portable(x, n);
}

double log_prob(const float* x, const MaxExpSum& s, long target) { return double(x[target]) - s.max - std::log(s.sum); }

}  // namespace sqsim::kernels
