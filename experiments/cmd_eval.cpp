// sqsim eval: zero-shot accuracy of a model, float or quantized (every
// option of `sqsim ppl`), on tasks described by data files
// (experiments/configs/tasks/*.task, docs/tasks.md), scored as
// lm-evaluation-harness scores them, with standard errors.
#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/accuracy_table.h"
#include "experiments/eval_job.h"
#include "experiments/interrupt.h"
#include "experiments/model_quant_options.h"
#include "experiments/quant_eval.h"
#include "experiments/provenance.h"
#include "experiments/ranks.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"
#include "sim/formats/json.h"

namespace sqsim::cli {

namespace {

// The settings line of --quant replaced by one preset's: each preset's
// journal records the preset it holds (one preset: the line as typed).
std::string preset_settings(const std::string& settings, const std::string& presets, const std::string& preset) {
  if (presets == preset) return settings;  // given or defaulted (journal.h's mark), as typed
  const std::string from = "quant=" + json_quote(presets) + "\n", to = "quant=" + json_quote(preset) + "\n";
  const size_t at = settings.find(from);
  if (at == std::string::npos) return settings + to;
  return settings.substr(0, at) + to + settings.substr(at + from.size());
}

}  // namespace

int run_eval(int argc, char** argv) {
  po::options_description o("eval");
  o.add_options()("model", po::value<std::string>()->default_value("${SQSIM_MODELS}/SmolLM2-135M-Instruct.Q4_1.gguf"),
                  "GGUF model file or Hugging Face checkpoint folder (llama, opt)")(
      "tasks", po::value<std::string>()->default_value("lambada_openai,hellaswag,piqa,winogrande"),
      "comma-separated tasks: names of experiments/configs/tasks/NAME.task, or paths to task configs")(
      "limit", po::value<long>()->default_value(0), "score only the first N items of each task (0 = all)")(
      "alpha", po::value<std::string>()->default_value("0.5"),
      "migration strength when smoothing: one value, 'search' (one global alpha by held-out perplexity) "
      "or 'per-layer' (each group's output error)")(
      "json", po::bool_switch(), "print one JSON object per task instead of text")(
      "pack-rows", po::value<long>()->default_value(512),
      "token rows per forward: whole items are packed into one forward until their requests reach this many "
      "rows (same bits as one request per forward; presets with per-tensor dynamic activation scales always "
      "run one request per forward). 0 = one request per forward");
  add_output_options(o, "write the journal (journal.txt) into this directory: every finished item, so that "
                     "--resume continues an interrupted run; at the end also items.jsonl, one line per item "
                     "(log-likelihood per choice, greedy, tokens, acc)", /*resumable=*/true, /*optional=*/true);
  add_model_quant_options(o);
  add_eval_options(o);
  add_run_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim eval --tasks piqa,arc_easy [--limit N] [--model FILE.gguf] [--quant PRESET[,PRESET...]]\n"
             "                  [--alpha A|search|per-layer] [--threads N] [--json] [--out DIR [--resume]]\n\n"
             "Zero-shot accuracy as lm-evaluation-harness scores it (docs/tasks.md): for each choice the\n"
             "log-likelihood of \" \" + choice after the context, acc / acc_norm (by the choice's length in\n"
             "characters), LAMBADA's greedy last-word acc and perplexity; every metric with its standard error.\n"
             "Shipped tasks: lambada_openai, hellaswag, piqa, winogrande, arc_easy, boolq.\n\n"
             "Several presets (--quant fp,w8a8,sq-o1) run one after the other on the same items (one model load,\n"
             "one calibration; with --out each journals into DIR/PRESET/) and end with an accuracy table: each\n"
             "task's acc ± stderr, their average, and the paired difference from the first preset (the SmoothQuant\n"
             "paper's Table 1 layout; DIR/accuracy.{md,tex,csv} and DIR/accuracy_differences.*).\n\n" +
                 preset_help(),
             o, vm))
    return 0;
  install_interrupt_handlers();
  const auto gc = thread_limit(run_options(vm).threads);
  const long limit = vm["limit"].as<long>();
  if (limit < 0) throw Error("--limit must be >= 0");
  // Several presets (--quant fp,w8a8,sq-o1): each runs on every task, then
  // the accuracy table compares them (the first is the base of the paired
  // differences). Every preset is checked before any work.
  const std::string preset_list = vm["quant"].as<std::string>();
  const std::vector<std::string> presets = split_list(preset_list, "--quant");
  std::vector<ModelQuantConfig> configs;
  for (const std::string& p : presets) configs.push_back(model_quant_config(vm, p));
  const bool several = presets.size() > 1;
  for (size_t i = 0; i < presets.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (presets[i] == presets[j]) throw Error("--quant: preset '" + presets[i] + "' is listed twice");
  const bool json = vm["json"].as<bool>();
  ZeroShotOptions zo;
  zo.pack_rows = vm["pack-rows"].as<long>();
  if (zo.pack_rows < 0) throw Error("--pack-rows must be >= 0");
  const OutputOptions output = output_options(vm);
  // What a journal must agree on to be resumed: every option that changes
  // a result (not --pack-rows, which changes no bit), and the model's bytes.
  const std::string settings = option_settings(vm, {"out", "force", "resume", "threads", "json", "pack-rows"});

  // Under mpirun (docs/mpi.md) every rank reads the tasks and prepares the
  // model itself (an error on any rank is reported once, naming it), and the
  // items are split across the ranks.
  const Ranks& ranks = Ranks::world();
  // Every task and item is read and checked before the model is loaded.
  std::vector<TaskConfig> tasks;
  std::vector<std::vector<TaskItem>> items;
  std::unique_ptr<QuantEvaluator> evaluator;
  std::string journal_settings;
  ranks.all_or_none([&] {
    load_eval_tasks(vm["tasks"].as<std::string>(), limit, &tasks, &items);
    EvalOptions eo = eval_options(vm, vm["model"].as<std::string>());
    eo.quiet = eo.quiet || !ranks.root();
    if (!output.out.empty()) {
      journal_settings = (std::filesystem::is_directory(eo.model_path) ? "model folder " + eo.model_path
                                                                        : "model sha256 " + sha256_file(eo.model_path)) +
                         "\n" + settings;
      if (ranks.root()) prepare_output_dir(output, true);
    }
    evaluator = std::make_unique<QuantEvaluator>(eo);
  });
  const EvalContext cx{ranks, tasks, items, *evaluator, zo, json,
                       vm["alpha"].as<std::string>(), vm["alpha-grid"].as<std::string>(), output.resume};
  std::vector<AccuracyRun> runs;
  for (size_t p = 0; p < presets.size(); ++p) {
    // One preset: DIR/journal.txt as always; several: DIR/PRESET/journal.txt each.
    const std::string dir = output.out.empty() ? "" : several ? output.out + "/" + presets[p] : output.out;
    AccuracyRun run{presets[p], configs[p].describe(), "-", {}};
    run.results = eval_preset(cx, configs[p], dir, preset_settings(journal_settings, preset_list, presets[p]),
                              &run.alpha);
    runs.push_back(std::move(run));
  }
  if (!several || !ranks.root()) return 0;
  ReportTable table = accuracy_table(tasks, runs), diff = accuracy_difference_table(tasks, runs);
  const EvalOptions& eo = evaluator->options();
  std::vector<std::string> prov = {
      "command: `" + command_line(argc, argv) + "`", "sqsim commit " + git_commit(),
      "model: `" + display_path(eo.model_path) + "`" +
          (std::filesystem::is_directory(eo.model_path) ? "" : " (sha256 " + sha256_file(eo.model_path) + ")"),
      "CPU: " + cpu_model(),
      std::string("emulation: ") + (eo.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") +
          ", kernel " + kernels::kernel_path_name(kernels::resolve_kernel_path(eo.path))};
  if (std::any_of(configs.begin(), configs.end(), [&](const ModelQuantConfig& c) { return evaluator->needs_calibration(c); }))
    prov.push_back("calibration: `" + display_path(eo.calib_text) + "`, " + std::to_string(eo.calib_samples) + " windows of " +
                   std::to_string(eo.calib_seq_len) + " tokens");
  for (size_t t = 0; t < tasks.size(); ++t)
    prov.push_back(tasks[t].name + ": " + std::to_string(items[t].size()) + " items" +
                   (limit > 0 ? " (the first " + std::to_string(limit) + ")" : ""));
  table.provenance = diff.provenance = prov;
  if (!json) std::printf("\n%s\n%s", to_markdown(table).c_str(), to_markdown(diff).c_str());
  if (!output.out.empty()) {
    write_report_table(table, output.out + "/accuracy");
    write_report_table(diff, output.out + "/accuracy_differences");
  }
  return 0;
}

}  // namespace sqsim::cli
