#include "sim/eval/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

namespace {

// log_softmax of one row in double; *argmax = first index of the maximum.
std::vector<double> log_softmax(const float* row, long n, long* argmax) {
  double mx = -std::numeric_limits<double>::infinity();
  *argmax = 0;
  for (long j = 0; j < n; ++j)
    if (double(row[j]) > mx) {
      mx = double(row[j]);
      *argmax = j;
    }
  double sum = 0;
  for (long j = 0; j < n; ++j) sum += std::exp(double(row[j]) - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (long j = 0; j < n; ++j) out[size_t(j)] = double(row[j]) - lse;
  return out;
}

}  // namespace

TokenKl token_kl(const float* base_logits, const float* quant_logits, long vocab, int32_t correct) {
  if (correct < 0 || correct >= vocab) throw Error(str("token_kl: token ", correct, " outside a vocabulary of ", vocab));
  long top_b = 0, top_q = 0;
  const std::vector<double> lb = log_softmax(base_logits, vocab, &top_b);
  const std::vector<double> lq = log_softmax(quant_logits, vocab, &top_q);
  TokenKl t;
  for (long j = 0; j < vocab; ++j) {
    const double p = std::exp(lb[size_t(j)]);
    if (p > 0) t.kl += p * (lb[size_t(j)] - lq[size_t(j)]);
  }
  t.kl = std::max(t.kl, 0.0);  // rounding can leave -1e-17 for identical rows
  t.same_top1 = top_b == top_q;
  t.p_base = std::exp(lb[size_t(correct)]);
  t.p_quant = std::exp(lq[size_t(correct)]);
  return t;
}

std::vector<TokenKl> window_kl(const MatrixF& base, const MatrixF& quant, const std::vector<int32_t>& tokens) {
  if (base.rows() != quant.rows() || base.cols() != quant.cols())
    throw Error(str("window_kl: logits [", base.rows(), " x ", base.cols(), "] against [", quant.rows(), " x ",
                    quant.cols(), "]: not the same model shape"));
  if (base.rows() + 1 < long(tokens.size()) || tokens.size() < 2)
    throw Error(str("window_kl: ", base.rows(), " logits rows for ", tokens.size(), " tokens"));
  std::vector<TokenKl> out;
  for (size_t t = 0; t + 1 < tokens.size(); ++t)
    out.push_back(token_kl(base.row(long(t)).data(), quant.row(long(t)).data(), base.cols(), tokens[t + 1]));
  return out;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) throw Error("percentile of no values");
  if (!(q >= 0 && q <= 1)) throw Error("percentile: q must be in [0, 1]");
  std::sort(values.begin(), values.end());
  const double pos = q * double(values.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
}

KlStats kl_statistics(const std::vector<TokenKl>& tokens) {
  if (tokens.empty()) throw Error("kl_statistics: no tokens");
  KlStats s;
  s.tokens = tokens.size();
  std::vector<double> kl, same, dp;
  for (const TokenKl& t : tokens) {
    kl.push_back(t.kl);
    same.push_back(t.same_top1 ? 1.0 : 0.0);
    dp.push_back(t.p_quant - t.p_base);
  }
  s.kl = mean_stderr(kl);
  s.same_top1 = mean_stderr(same);
  s.delta_p = mean_stderr(dp);
  std::sort(kl.begin(), kl.end());
  s.median = percentile(kl, 0.5);
  s.p90 = percentile(kl, 0.90);
  s.p95 = percentile(kl, 0.95);
  s.p99 = percentile(kl, 0.99);
  s.max = kl.back();
  return s;
}

MeanStderr perplexity_from_nll(const std::vector<double>& nll) {
  const MeanStderr m = mean_stderr(nll);
  MeanStderr r;
  r.n = m.n;
  r.mean = std::exp(m.mean);
  r.stderr_ = r.mean * m.stderr_;
  return r;
}

MeanStderr paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw Error(str("paired difference of ", a.size(), " and ", b.size(), " values: the runs must cover the same "
                    "tokens or items"));
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return mean_stderr(d);
}

MeanStderr perplexity_ratio(const std::vector<double>& nll_a, const std::vector<double>& nll_b) {
  const MeanStderr d = paired_difference(nll_a, nll_b);
  MeanStderr r;
  r.n = d.n;
  r.mean = std::exp(d.mean);
  r.stderr_ = r.mean * d.stderr_;
  return r;
}

}  // namespace sqsim
