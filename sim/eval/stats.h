#pragma once
// Means with standard errors, as lm-evaluation-harness and llama.cpp report
// them: the sample standard deviation (n - 1 in the denominator) over sqrt(n).
#include <cstddef>
#include <vector>

namespace sqsim {

struct MeanStderr {
  double mean = 0;
  double stderr_ = 0;  // 0 when n < 2
  size_t n = 0;
};

// mean(x) and sqrt(sum((x - mean)^2) / (n - 1)) / sqrt(n); two passes in double.
MeanStderr mean_stderr(const std::vector<double>& x);

// Perplexity exp(-mean(loglik)) of per-document log-likelihoods (LAMBADA's
// `perplexity`, lm-eval's weighted-free form), with the delta-method standard
// error exp(-m) * stderr(loglik). lm-eval itself bootstraps this one.
MeanStderr perplexity_from_logliks(const std::vector<double>& loglik);

}  // namespace sqsim
