#include "sim/eval/stats.h"

#include <cmath>

namespace sqsim {

MeanStderr mean_stderr(const std::vector<double>& x) {
  MeanStderr r;
  r.n = x.size();
  if (x.empty()) return r;
  double sum = 0;
  for (const double v : x) sum += v;
  r.mean = sum / double(r.n);
  if (r.n < 2) return r;
  double ss = 0;
  for (const double v : x) ss += (v - r.mean) * (v - r.mean);
  r.stderr_ = std::sqrt(ss / double(r.n - 1)) / std::sqrt(double(r.n));
  return r;
}

MeanStderr perplexity_from_logliks(const std::vector<double>& loglik) {
  const MeanStderr m = mean_stderr(loglik);
  MeanStderr r;
  r.n = m.n;
  r.mean = std::exp(-m.mean);
  r.stderr_ = r.mean * m.stderr_;
  return r;
}

}  // namespace sqsim
