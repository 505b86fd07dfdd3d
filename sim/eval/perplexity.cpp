#include "sim/eval/perplexity.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens) {
  const long L = long(tokens.size());
  if (logits.rows() != L || L < 2) throw Error("mean_next_token_nll: need >= 2 tokens and one logits row each");
  // Rows in parallel (each row's NLL is computed the same way on any thread),
  // then summed in row order: the result does not depend on the thread count.
  std::vector<double> row_nll(size_t(L - 1));
  tbb::parallel_for(tbb::blocked_range<long>(0, L - 1, 16), [&](const tbb::blocked_range<long>& range) {
    for (long t = range.begin(); t < range.end(); ++t) {
      const float* r = logits.row(t).data();
      double mx = -std::numeric_limits<double>::infinity();
      for (long j = 0; j < logits.cols(); ++j) mx = std::max(mx, double(r[j]));
      double sum = 0.0;
      for (long j = 0; j < logits.cols(); ++j) sum += std::exp(double(r[j]) - mx);
      row_nll[size_t(t)] = -(double(r[tokens[t + 1]]) - mx - std::log(sum));
    }
  });
  double total = 0.0;
  for (const double v : row_nll) total += v;
  return total / double(L - 1);
}

PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, double)>& progress,
                            const std::vector<double>& known_window_nll) {
  if (seq_len < 2) throw Error(str("perplexity: seq-len must be at least 2, got ", seq_len));
  PerplexityResult r;
  r.windows = ids.size() / size_t(seq_len);
  if (r.windows == 0)
    throw Error(str("perplexity: ", ids.size(), " tokens do not fill one window of ", seq_len));
  r.tokens = r.windows * size_t(seq_len);
  if (known_window_nll.size() > r.windows)
    throw Error(str("perplexity: ", known_window_nll.size(), " windows already measured, but the text has ",
                    r.windows));
  double sum = 0.0;
  for (size_t w = 0; w < r.windows; ++w) {
    if (w < known_window_nll.size()) {
      r.window_nll.push_back(known_window_nll[w]);
      sum += known_window_nll[w];
      continue;
    }
    const std::vector<int32_t> win(ids.begin() + long(w * seq_len), ids.begin() + long((w + 1) * seq_len));
    const double nll = mean_next_token_nll(m.forward(win), win);
    r.window_nll.push_back(nll);
    sum += nll;
    if (progress) progress(w, r.windows, nll);
  }
  r.mean_nll = sum / double(r.windows);
  r.ppl = std::exp(r.mean_nll);
  return r;
}

}  // namespace sqsim
