// sqsim ppl: perplexity of a model on a text file, float or quantized
// (--quant PRESET with overrides), with α fixed, swept or searched.
#include <tbb/global_control.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/csv.h"
#include "experiments/interrupt.h"
#include "experiments/model_quant_options.h"
#include "experiments/output_dir.h"
#include "experiments/quant_eval.h"
#include "base/error.h"

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
      "out", po::value<std::string>(), "also write results.csv (+ alpha_per_layer.csv) into this new directory")(
      "force", po::bool_switch(), "replace an existing --out directory")(
      "json", po::bool_switch(), "print one JSON object per run instead of text");
  add_model_quant_options(o);
  add_eval_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim ppl --model FILE.gguf --text FILE [--quant PRESET] [--alpha A|LIST|search|per-layer]\n"
             "                 [--seq-len 2048] [--max-tokens N] [--threads N] [--json]\n\n"
             "Tokenizes the whole text once (BOS only when the model asks for it), splits it into\n"
             "non-overlapping windows of seq-len tokens (remainder dropped) and prints\n"
             "ppl = exp(mean over windows of the mean NLL of tokens 1..L-1).\n"
             "With --quant, the model's linear layers run quantized (docs/quantization.md, \"Model presets\");\n"
             "calibration (smoothing, static scales, alpha search) uses --calib-text, never the evaluated text.\n\n" +
                 preset_help(),
             o, vm))
    return 0;
  install_interrupt_handlers();
  const auto gc = thread_limit(vm);
  const int seq_len = vm["seq-len"].as<int>();
  const long max_tokens = vm["max-tokens"].as<long>();
  if (seq_len < 2) throw Error("--seq-len must be at least 2");
  if (max_tokens < 0) throw Error("--max-tokens must be >= 0");
  const ModelQuantConfig config = model_quant_config(vm);
  const std::string alpha_text = vm["alpha"].as<std::string>();
  std::vector<AlphaChoice> choices;
  if (alpha_text == "search" || alpha_text == "per-layer") {
    AlphaChoice a;
    a.kind = alpha_text == "search" ? AlphaChoice::kGlobalSearch : AlphaChoice::kPerLayerSearch;
    a.grid = parse_alpha_grid(vm["alpha-grid"].as<std::string>(), "--alpha-grid");
    choices.push_back(a);
  } else {
    for (float v : parse_alpha_grid(alpha_text, "--alpha")) {
      AlphaChoice a;
      a.value = v;
      choices.push_back(a);
    }
  }
  if (!config.smooth && choices.size() > 1) throw Error("--alpha: a list needs a configuration with smoothing");
  std::string out_dir;
  if (vm.count("out")) {
    out_dir = vm["out"].as<std::string>();
    prepare_output_dir(out_dir, vm["force"].as<bool>(), false, "--out");
  }

  QuantEvaluator ev(eval_options(vm, vm["model"].as<std::string>()));
  const std::string text_path = vm["text"].as<std::string>();
  const std::vector<int32_t> ids = ev.tokenize_file(text_path, max_tokens);
  std::cerr << "ppl: " << ids.size() << " tokens of " << text_path << "; " << config.name << ": "
            << config.describe() << "\n";
  CsvTable table{{"quant", "alpha", "ppl", "mean_nll", "tokens", "windows", "seq_len", "mode", "seconds"}, {}};
  CsvTable per_layer{{"quant", "group", "alpha"}, {}};
  for (const AlphaChoice& a : choices) {
    const QuantRun r = ev.run(config, a, ids, seq_len, config.name);
    const char* mode = ev.options().mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant";
    if (vm["json"].as<bool>()) {
      std::printf("{\"quant\": \"%s\", \"alpha\": \"%s\", \"ppl\": %.6f, \"mean_nll\": %.6f, \"tokens\": %zu, "
                  "\"windows\": %zu, \"seq_len\": %d, \"mode\": \"%s\", \"integer_layers\": %d, "
                  "\"quantized_layers\": %zu, \"seconds\": %.3f}\n",
                  config.name.c_str(), r.alpha_text.c_str(), r.ppl, r.mean_nll, r.tokens, r.windows, seq_len, mode,
                  r.report.integer_layers, r.report.quantized.size(), r.seconds);
    } else {
      std::printf("%s alpha %s: perplexity %.6f (mean nll %.6f) over %zu windows of %d tokens, %zu/%d layers "
                  "quantized/integer, %.1f s\n",
                  config.name.c_str(), r.alpha_text.c_str(), r.ppl, r.mean_nll, r.windows, seq_len,
                  r.report.quantized.size(), r.report.integer_layers, r.seconds);
    }
    std::fflush(stdout);
    table.rows.push_back({config.name, r.alpha_text, format_number(r.ppl), format_number(r.mean_nll),
                   std::to_string(r.tokens), std::to_string(r.windows), std::to_string(seq_len), mode,
                   format_number(r.seconds)});
    for (const auto& [g, al] : r.alpha_per_group) per_layer.rows.push_back({config.name, g, format_number(al)});
  }
  if (!out_dir.empty()) {
    write_file_atomic(out_dir + "/results.csv", to_csv(table));
    if (!per_layer.rows.empty()) write_file_atomic(out_dir + "/alpha_per_layer.csv", to_csv(per_layer));
  }
  return 0;
}

}  // namespace sqsim::cli
