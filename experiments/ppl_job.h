#pragma once
// `sqsim ppl` as a library function: the perplexity of one model on one text,
// float or quantized, for each requested α; printed, and with an output
// directory also written as results.csv (+ alpha_per_layer.csv) and journaled
// (journal.txt) so that --resume does not measure a finished perplexity or
// window again.
#include <string>
#include <vector>

#include "experiments/quant_eval.h"
#include "experiments/run_options.h"
#include "quant/model_quant_config.h"

namespace sqsim::cli {

struct PplJob {
  EvalOptions eval;  // model, calibration, mode, kernel
  int threads = 0;   // 0 = all cores
  std::string text;  // the evaluated text file
  int seq_len = 2048;
  long max_tokens = 0;  // 0 = all
  ModelQuantConfig config;
  std::vector<AlphaChoice> alphas;  // one perplexity each
  bool json = false;                // one JSON object per line instead of text
  OutputOptions output;             // out empty: print only
  // What the journal's results depend on besides the model file (whose sha256
  // it adds): the options as given.
  std::string settings;
  // KL divergence against the float model (experiments/kl_job.h): "fp" or a
  // base file; and/or a base file to write. Both empty: perplexity only.
  std::string kl_base, kl_base_save;
};

// The α choices of an --alpha text: a value, a list / range, 'search' or
// 'per-layer' (with `grid`, the values the searches try). Errors name `option`.
std::vector<AlphaChoice> alpha_choices(const std::string& text, const std::string& grid, const std::string& option);

int run_ppl_job(const PplJob& job);

}  // namespace sqsim::cli
