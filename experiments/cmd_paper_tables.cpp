// sqsim paper-tables: the SmoothQuant / SmoothQuant+ results of the papers,
// measured on one model. The work is run_paper_tables_job (paper_tables.h);
// this file turns options into a PaperTablesJob.
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/model_quant_options.h"
#include "experiments/paper_tables.h"
#include "experiments/ppl_job.h"
#include "experiments/provenance.h"

namespace sqsim::cli {

namespace {

void add_paper_tables_options(po::options_description& o) {
  o.add_options()("model", po::value<std::string>()->default_value("${SQSIM_MODELS}/SmolLM2-135M-Instruct.Q4_1.gguf"),
                  "GGUF model file or Hugging Face checkpoint folder")(
      "wikitext", po::value<std::string>()->default_value("${SQSIM_DATA}/wikitext-2-raw/wiki.test.raw"),
      "WikiText-2 test text")("ptb", po::value<std::string>()->default_value("${SQSIM_DATA}/ptb/ptb.test.txt"),
                               "PTB test text")(
      "seq-len", po::value<int>()->default_value(2048), "evaluation window length")(
      "max-tokens", po::value<long>()->default_value(0), "evaluate only the first N tokens of each text (0 = all)")(
      "table1", po::value<std::string>()->default_value("fp,w8a8,zeroquant,sq-o1,sq-o2,sq-o3,w8a8-pc,sq-w8a8-pc"),
      "presets of Table 1 (W8A8 schemes)")(
      "table2",
      po::value<std::string>()->default_value(
          "fp,w4a16-g64,w4a16-g128,w4a16-g256,sqplus-g64,sqplus-g128,sqplus-g256,w4a8-sq"),
      "presets of Table 2 (SmoothQuant+ and 4-bit weights)")(
      "table4",
      po::value<std::string>()->default_value(
          "fp,w8a8,zeroquant,llm-int8,outlier-suppression,sq-o1,sq-o2,sq-o3,sq-llm-int8"),
      "presets of Table 4 (the SmoothQuant paper's main comparison)")(
      "observer-preset", po::value<std::string>()->default_value("sq-o3"),
      "preset of the observer table (static per-tensor activation scales)")(
      "observers",
      po::value<std::string>()->default_value(
          "absmax,percentile:99.9,percentile:99.99,percentile:99.999,mse,entropy"),
      "observers of the observer table: absmax, percentile:P (0 < P <= 100), mse, entropy")(
      "observer-bins", po::value<int>()->default_value(2048), "histogram bins of the observers (a power of two)")(
      "llm-int8-columns", po::value<std::string>()->default_value("llm-int8,sq-llm-int8"),
      "LLM.int8() presets whose outlier columns are counted per layer")(
      "columns-windows", po::value<long>()->default_value(1),
      "WikiText-2 windows (from the first) over which the outlier columns are counted")(
      "alpha", po::value<std::string>()->default_value("0.5"),
      "alpha of the smoothing presets in the tables: a value, 'search' or 'per-layer'")(
      "figure1", po::value<std::string>()->default_value("sq-o1,sq-o3"), "presets of Figure 1 (ppl against alpha)")(
      "figure1-alpha", po::value<std::string>()->default_value("0:1:0.05"), "alpha values of Figure 1")(
      "figure1-max-tokens", po::value<long>()->default_value(0),
      "WikiText-2 tokens for Figure 1 (0 = as --max-tokens)")(
      "figure2-layer", po::value<std::string>()->default_value("auto"),
      "smoothing group (norm path, e.g. model.layers.3.input_layernorm) of Figure 2; auto = the largest "
      "activation outlier")(
      "accuracy-tasks", po::value<std::string>()->default_value("lambada_openai,hellaswag,piqa,winogrande"),
      "zero-shot tasks of the accuracy part (sqsim eval's names or task config paths)")(
      "accuracy-limit", po::value<long>()->default_value(0),
      "score only the first N items of each accuracy task (0 = all)")(
      "parts", po::value<std::string>()->default_value("table1,table2,figure1,figure2"),
      "what to make: table1, table2, table4, observers, llm-int8-columns, figure1, figure2, accuracy (the "
      "tables' presets on --accuracy-tasks: accuracy.md and two accuracy columns in each table)");
  add_output_options(o, "output directory (journal.txt, calibration.bin, the tables and figures)",
                     /*resumable=*/true);
  add_eval_options(o);
  add_run_options(o);
}

}  // namespace

int run_paper_tables(int argc, char** argv) {
  po::options_description o("paper-tables");
  add_paper_tables_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim paper-tables --out DIR [--config experiments/configs/paper-tables.cfg] [--resume]\n"
             "       (Table 4, observers, LLM.int8() columns: --config experiments/configs/paper-table4.cfg)\n\n"
             "Measures the papers' tables on one model: Table 1 (W8A8: naive, ZeroQuant, SmoothQuant O1-O3,\n"
             "per-channel with and without smoothing), Table 2 (W4A16 round-to-nearest vs SmoothQuant+, W4A8),\n"
             "Table 4 (the SmoothQuant paper's main comparison, with LLM.int8(), Outlier Suppression and\n"
             "SmoothQuant + LLM.int8()), the observer table (--observer-preset with each calibration observer),\n"
             "LLM.int8()'s outlier columns per layer (llm-int8-columns), the tables' zero-shot accuracy\n"
             "(accuracy: sqsim eval's tasks and scoring, with paired differences from fp),\n"
             "Figure 1 (perplexity against alpha) and Figure 2 (one layer's per-channel input and weight absmax\n"
             "before and after smoothing). Tables as Markdown, LaTeX and CSV, figures as SVG (+ CSV), each with\n"
             "its provenance. Calibration uses --calib-text only; evaluation texts are never calibrated on.\n"
             "Every perplexity and every window of it is journaled (journal.txt): --resume finishes an\n"
             "interrupted run without measuring them again.",
             o, vm))
    return 0;
  PaperTablesJob job;
  job.wikitext = vm["wikitext"].as<std::string>();
  job.ptb = vm["ptb"].as<std::string>();
  job.seq_len = vm["seq-len"].as<int>();
  job.max_tokens = vm["max-tokens"].as<long>();
  for (const std::string& p : split_list(vm["parts"].as<std::string>(), "--parts")) job.parts.insert(p);
  job.table1 = split_list(vm["table1"].as<std::string>(), "--table1");
  job.table2 = split_list(vm["table2"].as<std::string>(), "--table2");
  job.table4 = split_list(vm["table4"].as<std::string>(), "--table4");
  job.observer_preset = vm["observer-preset"].as<std::string>();
  job.observers = split_list(vm["observers"].as<std::string>(), "--observers");
  job.observer_bins = vm["observer-bins"].as<int>();
  job.column_presets = split_list(vm["llm-int8-columns"].as<std::string>(), "--llm-int8-columns");
  job.columns_windows = vm["columns-windows"].as<long>();
  job.figure1 = split_list(vm["figure1"].as<std::string>(), "--figure1");
  job.figure1_alpha = parse_alpha_grid(vm["figure1-alpha"].as<std::string>(), "--figure1-alpha");
  job.figure1_max_tokens = vm["figure1-max-tokens"].as<long>();
  job.figure2_group = vm["figure2-layer"].as<std::string>();
  job.alpha_request = vm["alpha"].as<std::string>();
  job.alpha_grid = vm["alpha-grid"].as<std::string>();
  job.table_alpha = alpha_choices(job.alpha_request, job.alpha_grid, "--alpha").at(0);
  job.accuracy_tasks = vm["accuracy-tasks"].as<std::string>();
  job.accuracy_limit = vm["accuracy-limit"].as<long>();
  job.output = output_options(vm);
  job.threads = run_options(vm).threads;
  check_paper_tables_job(job);  // before eval_options: the order of the refusals is the options' order
  job.eval = eval_options(vm, vm["model"].as<std::string>());
  job.command = command_line(argc, argv);
  return run_paper_tables_job(job);
}

}  // namespace sqsim::cli
