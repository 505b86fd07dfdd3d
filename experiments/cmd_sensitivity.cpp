// sqsim sensitivity: which layers, groups or blocks cost a preset its
// accuracy (experiments/sensitivity.h); this file turns options into a job.
#include "base/error.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/model_quant_options.h"
#include "experiments/provenance.h"
#include "experiments/sensitivity.h"

namespace sqsim::cli {

int run_sensitivity(int argc, char** argv) {
  po::options_description o("sensitivity");
  o.add_options()("model", po::value<std::string>()->default_value("${SQSIM_MODELS}/SmolLM2-135M-Instruct.Q4_1.gguf"),
                  "GGUF model file or Hugging Face checkpoint folder (llama, opt)")(
      "text", po::value<std::string>()->default_value("${SQSIM_DATA}/wikitext-2-raw/wiki.test.raw"),
      "UTF-8 text whose first --max-tokens tokens are scored")(
      "seq-len", po::value<int>()->default_value(512), "window length in tokens (non-overlapping windows)")(
      "max-tokens", po::value<long>()->default_value(4096), "the token budget: the first N tokens of --text")(
      "unit", po::value<std::string>()->default_value("block"),
      "layer (each linear layer), group (the layers of a block that read one input: q/k/v, gate/up, o, down) "
      "or block (a transformer block)")(
      "no-reverse", po::bool_switch(), "skip the 'all but this unit' runs (halves the time)")(
      "target-kl", po::value<double>()->default_value(0),
      "mixed precision: keep the most sensitive units in float (greedy) until the mean KL <= this")(
      "target-ppl-ratio", po::value<double>()->default_value(0),
      "mixed precision: ... until ppl / float ppl <= this (with --target-kl: both)")(
      "keep", po::value<std::string>()->default_value("float"),
      "mixed precision keeps the most sensitive units in float, or at 8-bit weights (8bit; presets with weights "
      "below 8 bits)");
  add_output_options(o, "directory for sensitivity.{md,tex,csv,svg} and the journal", /*resumable=*/true,
                     /*optional=*/false);
  add_model_quant_options(o);
  add_eval_options(o);
  add_run_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim sensitivity --quant PRESET --out DIR [--unit layer|group|block] [--max-tokens 4096]\n"
             "                         [--seq-len 512] [--no-reverse] [--resume]\n\n"
             "For each unit, applies --quant to that unit alone (the rest float) and to every layer but that\n"
             "unit, and measures each model's KL divergence against the float model (computed once) and its\n"
             "perplexity ± stderr on the first --max-tokens tokens of --text (docs/statistics.md).\n"
             "Writes a table ranked by the KL of the unit alone (sensitivity.md/.tex/.csv) and a plot\n"
             "(sensitivity.svg). One calibration (--calib-text) serves every unit. Journaled: --resume\n"
             "measures only what is missing. With --target-kl / --target-ppl-ratio, then keeps the most\n"
             "sensitive units in float (--keep 8bit: at 8-bit weights), one more at a time, until the targets\n"
             "hold, and writes the result as a preset file (sqsim ppl --quant DIR/mixed_precision.preset) and\n"
             "a table (mixed_precision.md).\n\n" +
                 preset_help(),
             o, vm))
    return 0;
  SensitivityJob job;
  job.seq_len = vm["seq-len"].as<int>();
  job.max_tokens = vm["max-tokens"].as<long>();
  job.unit = vm["unit"].as<std::string>();
  job.reverse = !vm["no-reverse"].as<bool>();
  job.target_kl = vm["target-kl"].as<double>();
  job.target_ppl_ratio = vm["target-ppl-ratio"].as<double>();
  if (!(job.target_kl >= 0)) throw Error("--target-kl must be >= 0 (0: no mixed-precision search)");
  if (!(job.target_ppl_ratio == 0 || job.target_ppl_ratio >= 1))
    throw Error("--target-ppl-ratio must be >= 1 (0: no mixed-precision search)");
  job.config = model_quant_config(vm);
  const std::string keep = vm["keep"].as<std::string>();
  if (keep != "float" && keep != "8bit") throw Error("--keep '" + keep + "': expected float or 8bit");
  job.keep_8bit = keep == "8bit";
  if (job.keep_8bit && !(job.config.weight.enabled() && job.config.weight.bits < 8))
    throw Error("--keep 8bit: --quant " + job.config.name + " has no weights below 8 bits");
  job.preset_lines = preset_file_lines(vm);
  job.output = output_options(vm);
  job.threads = run_options(vm).threads;
  job.eval = eval_options(vm, vm["model"].as<std::string>());
  job.text = vm["text"].as<std::string>();
  job.settings =
      option_settings(vm, {"out", "force", "resume", "threads", "kernel", "target-kl", "target-ppl-ratio"});
  job.command = command_line(argc, argv);
  return run_sensitivity_job(job);
}

}  // namespace sqsim::cli
