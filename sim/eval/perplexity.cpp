#include "sim/eval/perplexity.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"
#include "kernels/log_sum_exp.h"

namespace sqsim {

namespace {

// -log softmax(row)[target], in double: the one definition both paths use
// (docs/statistics.md, "The token NLL"; the sum's order is the kernel's).
double row_nll(const float* r, long cols, int32_t target) {
  return -kernels::log_prob(r, kernels::max_exp_sum(r, cols), target);
}

// NLL of logits row t (of rows first.. of the window) into out[first + t].
void rows_nll(const MatrixF& logits, long first, const std::vector<int32_t>& tokens, std::vector<double>& out) {
  const long n = std::min(logits.rows(), long(out.size()) - first);
  // Rows in parallel: each row's NLL is computed the same way on any thread.
  tbb::parallel_for(tbb::blocked_range<long>(0, n, 16), [&](const tbb::blocked_range<long>& range) {
    for (long t = range.begin(); t < range.end(); ++t)
      out[size_t(first + t)] = row_nll(logits.row(t).data(), logits.cols(), tokens[size_t(first + t + 1)]);
  });
}

}  // namespace

std::vector<double> next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens) {
  const long L = long(tokens.size());
  if (logits.rows() != L || L < 2) throw Error("next_token_nll: need >= 2 tokens and one logits row each");
  std::vector<double> row_nll(size_t(L - 1));
  rows_nll(logits, 0, tokens, row_nll);
  return row_nll;
}

std::vector<double> next_token_nll(const CausalLm& m, const std::vector<int32_t>& tokens, long head_row_chunk) {
  const long L = long(tokens.size());
  if (L < 2) throw Error("next_token_nll: need >= 2 tokens");
  if (head_row_chunk <= 0) head_row_chunk = kHeadRowChunk;
  // the whole window runs (a per-tensor activation scale sees every row, as
  // in forward())
  const MatrixF h = m.hidden_windows({{tokens, 0}});
  if (h.rows() != L) throw Error("next_token_nll: the model gave a wrong number of hidden rows");
  // All L rows are projected, the last (which predicts nothing) too: the
  // last chunk then holds the rows of forward()'s last GEMM row split (a
  // 1-row Eigen product is not a 2-row one's row). A head whose rows depend
  // on each other (per-tensor dynamic scales) gets all L rows at once.
  const long chunk = m.head_rows_independent() ? head_row_chunk : L;
  std::vector<double> out(size_t(L - 1));
  for (long r0 = 0; r0 < L - 1; r0 += chunk)
    rows_nll(m.project_rows(h.middleRows(r0, std::min(chunk, L - r0))), r0, tokens, out);
  return out;
}

WindowNll window_nll(const std::vector<double>& token_nll) {
  // Summed in row order: the result does not depend on the thread count.
  WindowNll w;
  double total = 0.0, sq = 0.0;
  for (const double v : token_nll) {
    total += v;
    sq += v * v;
  }
  w.mean = total / double(token_nll.size());
  w.sumsq = sq;
  return w;
}

double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens) {
  return window_nll(next_token_nll(logits, tokens)).mean;
}

PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, const WindowNll&)>& progress,
                            const std::vector<WindowNll>& known_windows) {
  if (seq_len < 2) throw Error(str("perplexity: seq-len must be at least 2, got ", seq_len));
  PerplexityResult r;
  r.windows = ids.size() / size_t(seq_len);
  if (r.windows == 0)
    throw Error(str("perplexity: ", ids.size(), " tokens do not fill one window of ", seq_len));
  r.tokens = r.windows * size_t(seq_len);
  if (known_windows.size() > r.windows)
    throw Error(str("perplexity: ", known_windows.size(), " windows already measured, but the text has ",
                    r.windows));
  double sum = 0.0;
  for (size_t w = 0; w < r.windows; ++w) {
    WindowNll nll;
    if (w < known_windows.size()) {
      nll = known_windows[w];
    } else {
      const std::vector<int32_t> win(ids.begin() + long(w * seq_len), ids.begin() + long((w + 1) * seq_len));
      nll = window_nll(next_token_nll(m, win));
    }
    r.window_nll.push_back(nll.mean);
    r.window_sumsq.push_back(nll.sumsq);
    sum += nll.mean;
    if (w >= known_windows.size() && progress) progress(w, r.windows, nll);
  }
  r.mean_nll = sum / double(r.windows);
  r.ppl = std::exp(r.mean_nll);
  return r;
}

PplUncertainty ppl_uncertainty(const std::vector<double>& window_nll, const std::vector<double>& window_sumsq,
                               size_t scored_per_window) {
  PplUncertainty u;
  const size_t W = window_nll.size();
  if (W == 0) return u;
  bool all_sums = window_sumsq.size() == W && scored_per_window >= 2;
  for (const double s : window_sumsq) all_sums = all_sums && std::isfinite(s);
  double sum = 0.0;
  for (const double v : window_nll) sum += v;
  if (all_sums) {
    // Every window has the same number of tokens, so the token mean is the
    // mean of the window means; the variance from sum(x^2) - n * mean^2.
    u.estimator = PplUncertainty::kToken;
    const double n = double(W * scored_per_window);
    double sq = 0.0;
    for (const double s : window_sumsq) sq += s;
    u.nll.n = W * scored_per_window;
    u.nll.mean = sum / double(W);
    const double var = std::max(0.0, (sq - n * u.nll.mean * u.nll.mean) / (n - 1));
    u.nll.stderr_ = std::sqrt(var / n);
  } else {
    u.nll = mean_stderr(window_nll);
    u.estimator = W >= 2 ? PplUncertainty::kWindow : PplUncertainty::kNone;
  }
  u.ppl.n = u.nll.n;
  u.ppl.mean = std::exp(u.nll.mean);
  u.ppl.stderr_ = u.ppl.mean * u.nll.stderr_;
  return u;
}

const char* estimator_name(PplUncertainty::Estimator e) {
  return e == PplUncertainty::kToken ? "token" : e == PplUncertainty::kWindow ? "window" : "none";
}

}  // namespace sqsim
