#pragma once
// How far a quantized model's next-token distributions are from the float
// model's, with llama.cpp's `--kl-divergence` statistics, and perplexity with
// its uncertainty as llama.cpp reports it. Everything in double.
#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "sim/eval/stats.h"

namespace sqsim {

// One predicted token: KL(p_fp || p_quant) over the whole vocabulary, whether
// the two argmaxes agree (first index on ties), and the probability each
// model gives the token that actually came next.
struct TokenKl {
  double kl = 0;
  bool same_top1 = true;
  double p_base = 0, p_quant = 0;  // of the correct next token
};

// From one logits row of each model (`vocab` entries; log-softmax in double).
TokenKl token_kl(const float* base_logits, const float* quant_logits, long vocab, int32_t correct);
// Rows 0..L-2 of two [L, vocab] logits matrices of the same window, each
// row t judged against tokens[t + 1].
std::vector<TokenKl> window_kl(const MatrixF& base, const MatrixF& quant, const std::vector<int32_t>& tokens);

// The q-quantile (0 <= q <= 1) of `values` with linear interpolation between
// the closest ranks (numpy's default): position q * (n - 1) of the sorted values.
double percentile(std::vector<double> values, double q);

struct KlStats {
  size_t tokens = 0;
  MeanStderr kl;                     // mean KL ± its standard error
  double median = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
  MeanStderr same_top1;              // share of tokens whose top-1 is unchanged, ± stderr
  MeanStderr delta_p;                // mean of p_quant - p_base for the correct token, ± stderr
};
KlStats kl_statistics(const std::vector<TokenKl>& tokens);

// llama.cpp's perplexity: exp(mean NLL) over every scored token, with the
// uncertainty ppl * stderr(NLL) (stderr: sample std / sqrt(n)).
MeanStderr perplexity_from_nll(const std::vector<double>& nll);

// Two runs on the same tokens or items: the mean of a[i] - b[i] with the
// standard error of that difference (sample std of the differences /
// sqrt(n)), which is what tells two presets apart; their separate standard
// errors overlap far more than the paired one. Throws when the sizes differ.
MeanStderr paired_difference(const std::vector<double>& a, const std::vector<double>& b);
// PPL(a) / PPL(b) from per-token NLLs of the same tokens: exp(mean(a - b)),
// with the delta-method standard error ratio * stderr(a - b).
MeanStderr perplexity_ratio(const std::vector<double>& nll_a, const std::vector<double>& nll_b);

}  // namespace sqsim
