#include "experiments/commands.h"

namespace sqsim::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"info", "versions, CPU features and the integer GEMM paths this machine runs", run_info},
      {"layer-error", "quantize one synthetic linear layer with planted outlier channels and report its error",
       run_layer_error},
      {"make-traces", "write a synthetic trace file (format v1) with planted outlier channels", run_make_traces},
      {"sweep", "sweep alpha, bit widths and granularities over a trace file; CSV, tables, plots", run_sweep_command},
      {"check", "compare a sweep's results.csv with a baseline; fail when an error grew", run_check},
      {"outliers", "per-layer activation outlier report of a trace file (CSV, Markdown, SVG)", run_outliers},
      {"gptq", "GPTQ against round-to-nearest int4 groups on the layers of a trace file", run_gptq},
      {"observers", "what each calibration observer (absmax, percentile, MSE, entropy) clips in a trace file",
       run_observers},
      {"model-info", "architecture, hyperparameters and tensors (name, type, shape) of a GGUF model file",
       run_model_info},
      {"ppl", "perplexity of a model on a text file, float or quantized (--quant PRESET), alpha fixed/swept/searched",
       run_ppl},
      {"eval", "zero-shot task accuracy (LAMBADA, HellaSwag, PIQA, ...) as lm-evaluation-harness scores it, with stderr",
       run_eval},
      {"trace", "run a model over calibration text and write every linear layer's weight and inputs (trace v1)",
       run_trace},
      {"paper-tables", "the papers' tables and figures on one model (W8A8, SmoothQuant+, Table 4, observers, alpha)",
       run_paper_tables},
      {"sensitivity", "which layers, groups or blocks cost a preset its accuracy: KL vs float, one unit at a time",
       run_sensitivity},
      {"logits", "logits of a model (GGUF or Hugging Face folder) for given token ids, as CSV", run_logits},
      {"tokenize", "token ids of a text file with a model's tokenizer (GGUF or Hugging Face folder)", run_tokenize},
  };
  return table;
}

}  // namespace sqsim::cli
