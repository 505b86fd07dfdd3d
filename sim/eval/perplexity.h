#pragma once
// Perplexity of a causal language model over a token stream, with
// mit-han-lab/smoothquant's protocol: non-overlapping windows, each scored on
// its own, the mean of the window NLLs exponentiated.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "base/tensor.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

// Mean NLL (natural log) of predicting tokens[1..L-1] from logits rows 0..L-2,
// log-softmax in double.
double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens);

struct PerplexityResult {
  double ppl = 0;
  double mean_nll = 0;
  size_t tokens = 0;  // tokens the scored windows cover (windows * seq_len)
  size_t windows = 0;
  std::vector<double> window_nll;
};
// Non-overlapping windows of seq_len (remainder dropped; throws when there is
// no full window); ppl = exp(mean over windows of the window mean NLL).
// progress(i, windows, nll) is called after every window measured when given;
// it may throw to stop the run (for example on SIGINT). The first
// known_window_nll.size() windows are not run: their NLLs are taken from there
// (an interrupted run's journal), so a resumed run gives the same bits.
PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, double)>& progress = {},
                            const std::vector<double>& known_window_nll = {});

}  // namespace sqsim
