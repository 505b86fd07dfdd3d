// sqsim ppl: perplexity of a model on a text file, float or quantized
// (--quant PRESET with overrides), with α fixed, swept or searched. The work is
// run_ppl_job (ppl_job.h); this file turns options into a PplJob.
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/model_quant_options.h"
#include "experiments/ppl_job.h"

namespace sqsim::cli {

int run_ppl(int argc, char** argv) {
  po::options_description o("ppl");
  o.add_options()("model", po::value<std::string>()->default_value("${SQSIM_MODELS}/SmolLM2-135M-Instruct.Q4_1.gguf"),
                  "GGUF model file or Hugging Face checkpoint folder (llama, opt)")(
      "text", po::value<std::string>()->default_value("${SQSIM_DATA}/wikitext-2-raw/wiki.test.raw"),
      "UTF-8 text file to evaluate (CRLF is normalized to LF)")(
      "seq-len", po::value<int>()->default_value(2048), "window length in tokens (non-overlapping windows)")(
      "max-tokens", po::value<long>()->default_value(0), "use only the first N tokens (0 = all)")(
      "alpha", po::value<std::string>()->default_value("0.5"),
      "migration strength when smoothing: a value, a list/range (one perplexity each, e.g. 0:1:0.05), "
      "'search' (one global alpha by held-out perplexity) or 'per-layer' (each group's output error)")(
      "json", po::bool_switch(), "print one JSON object per run instead of text")(
      "kl-base", po::value<std::string>()->default_value(""),
      "KL divergence of --quant against a base (docs/statistics.md): 'fp' (the float model, run here window by "
      "window: exact) or a file written by --kl-base-save; prints llama.cpp's KL statistics, ppl ± stderr and the "
      "paired ratio to the base")(
      "kl-base-save", po::value<std::string>()->default_value(""),
      "write the float model's distributions on these tokens to FILE (uint16 log-probs, ~2 bytes x vocab per "
      "token) for later --kl-base FILE runs");
  add_output_options(o,
                     "also write results.csv (+ alpha_per_layer.csv) and the journal into this directory (with "
                     "--kl-base: kl.csv and every window's per-token KL in the journal)",
                     /*resumable=*/true, /*optional=*/true);
  add_model_quant_options(o);
  add_eval_options(o);
  add_run_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim ppl --model FILE.gguf --text FILE [--quant PRESET] [--alpha A|LIST|search|per-layer]\n"
             "                 [--seq-len 2048] [--max-tokens N] [--threads N] [--json] [--out DIR [--resume]]\n"
             "                 [--kl-base fp|FILE] [--kl-base-save FILE]\n\n"
             "Tokenizes the whole text once (BOS only when the model asks for it), splits it into\n"
             "non-overlapping windows of seq-len tokens (remainder dropped) and prints\n"
             "ppl = exp(mean over windows of the mean NLL of tokens 1..L-1), ± its standard error\n"
             "(ppl x stderr of the per-token NLL; docs/statistics.md).\n"
             "With --quant, the model's linear layers run quantized (docs/quantization.md, \"Model presets\");\n"
             "calibration (smoothing, static scales, alpha search) uses --calib-text, never the evaluated text.\n"
             "With --out, every window and perplexity is journaled: --resume finishes an interrupted run\n"
             "(also a --kl-base run: each window's per-token KL, top-1 and probabilities, exact).\n\n" +
                 preset_help(),
             o, vm))
    return 0;
  PplJob job;
  job.seq_len = vm["seq-len"].as<int>();
  job.max_tokens = vm["max-tokens"].as<long>();
  job.config = model_quant_config(vm);
  job.alphas = alpha_choices(vm["alpha"].as<std::string>(), vm["alpha-grid"].as<std::string>(), "--alpha");
  job.json = vm["json"].as<bool>();
  job.output = output_options(vm);
  job.threads = run_options(vm).threads;
  job.eval = eval_options(vm, vm["model"].as<std::string>());
  job.text = vm["text"].as<std::string>();
  job.kl_base = vm["kl-base"].as<std::string>();
  job.kl_base_save = vm["kl-base-save"].as<std::string>();
  job.settings =
      option_settings(vm, {"out", "force", "resume", "threads", "json", "kernel", "kl-base", "kl-base-save"});
  return run_ppl_job(job);
}

}  // namespace sqsim::cli
