#pragma once
// Perplexity of a causal language model over a token stream, with
// mit-han-lab/smoothquant's protocol: non-overlapping windows, each scored on
// its own, the mean of the window NLLs exponentiated; and its uncertainty
// (docs/statistics.md).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/eval/stats.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

// NLL (natural log) of predicting tokens[t + 1] from logits row t, for
// t = 0..L-2, log-softmax in double.
std::vector<double> next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens);
// Their mean (summed in row order).
double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens);

// The same NLLs of the model's forward over `tokens`, with the same bits,
// without its [T x vocab] logits: the forward stops at the final norm
// (CausalLm::hidden_windows) and the head projects kHeadRowChunk rows at a
// time, each chunk's logits scored and freed (docs/memory.md). A head whose
// rows are not independent projects every row at once. head_row_chunk 0:
// kHeadRowChunk; another size keeps the bits on the Eigen path only when it
// is a multiple of 64 (tests use uneven ones on the AVX-512 path).
std::vector<double> next_token_nll(const CausalLm& m, const std::vector<int32_t>& tokens,
                                   long head_row_chunk = 0);
// Rows per head chunk: a multiple of the float GEMM's fixed row splits (64
// rows on the Eigen path, 192-row tiles on the AVX-512 path, kernels/sgemm.cpp),
// so a chunk runs the very same products as the whole window; 192 rows of a
// 49152-token vocabulary are 36 MiB of logits instead of 384 MiB.
constexpr long kHeadRowChunk = 192;

// One scored window: the mean NLL of its L-1 predicted tokens and the sum of
// their squared NLLs (the per-token variance needs it; NaN when unknown: a
// window journaled by an sqsim that did not record it).
struct WindowNll {
  double mean = 0;
  double sumsq = std::numeric_limits<double>::quiet_NaN();
};
WindowNll window_nll(const std::vector<double>& token_nll);

struct PerplexityResult {
  double ppl = 0;
  double mean_nll = 0;
  size_t tokens = 0;  // tokens the scored windows cover (windows * seq_len)
  size_t windows = 0;
  std::vector<double> window_nll;
  std::vector<double> window_sumsq;  // per window, NaN where unknown
};
// Non-overlapping windows of seq_len (remainder dropped; throws when there is
// no full window); ppl = exp(mean over windows of the window mean NLL).
// progress(i, windows, nll) is called after every window measured when given;
// it may throw to stop the run (for example on SIGINT). The first
// known_windows.size() windows are not run: their NLLs are taken from there
// (an interrupted run's journal), so a resumed run gives the same bits.
PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, const WindowNll&)>& progress = {},
                            const std::vector<WindowNll>& known_windows = {});

// The uncertainty of a perplexity made of equal windows of `scored_per_window`
// tokens each (docs/statistics.md): with every window's sum of squares, the
// per-token estimator (llama.cpp's: the sample standard deviation of the
// token NLLs over sqrt(tokens)); else, with two windows or more, the spread of
// the window means (their sample standard deviation over sqrt(windows));
// else none. ppl.stderr_ = ppl * nll.stderr_ (delta method).
struct PplUncertainty {
  enum Estimator { kNone, kToken, kWindow } estimator = kNone;
  MeanStderr nll;  // mean NLL ± its standard error; n: tokens or windows
  MeanStderr ppl;  // exp(mean NLL) ± ppl * stderr
};
PplUncertainty ppl_uncertainty(const std::vector<double>& window_nll, const std::vector<double>& window_sumsq,
                               size_t scored_per_window);
// "token" / "window" / "none", as tables name the estimator.
const char* estimator_name(PplUncertainty::Estimator e);

}  // namespace sqsim
