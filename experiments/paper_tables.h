#pragma once
// `sqsim paper-tables` as a library function: the SmoothQuant / SmoothQuant+
// results of the papers measured on one model. Table 1 (W8A8 schemes), Table 2
// (4-bit weights), Table 4 (the SmoothQuant paper's main comparison: W8A8,
// ZeroQuant, LLM.int8(), Outlier Suppression, SmoothQuant O1-O3, SmoothQuant +
// LLM.int8()), the observer table (static per-tensor scales by each
// calibration observer), LLM.int8()'s outlier columns per layer, Figure 1
// (perplexity against alpha), Figure 2 (one smoothing group's per-channel
// absmax before and after smoothing) and the tables' zero-shot accuracy
// (the accuracy part: sqsim eval's scoring, journaled per preset), each as Markdown, LaTeX, CSV or SVG
// with its provenance. Every perplexity and every
// window of it is journaled (journal.txt) as it completes, so --resume
// finishes an interrupted run, continuing a perplexity from its last window.
#include <set>
#include <string>
#include <vector>

#include "experiments/quant_eval.h"
#include "experiments/run_options.h"
#include "sim/models/causal_lm.h"

namespace sqsim::cli {

struct PaperTablesJob {
  EvalOptions eval;  // model, calibration, mode, kernel
  int threads = 0;   // 0 = all cores
  std::string wikitext, ptb;  // evaluation texts (never the calibration text)
  int seq_len = 2048;
  long max_tokens = 0;  // of each text; 0 = all
  std::vector<std::string> table1, table2, table4;  // presets
  // The observer table: observer_preset (static per-tensor activations) with
  // each observer's clip (quant/observers.h spellings), histograms of
  // observer_bins bins.
  std::string observer_preset = "sq-o3";
  std::vector<std::string> observers;
  int observer_bins = 2048;
  // LLM.int8()'s outlier columns per layer, for each of these presets (each
  // must be an LLM.int8() one), over the first columns_windows windows of WikiText-2.
  std::vector<std::string> column_presets;
  long columns_windows = 1;
  std::string alpha_request = "0.5";        // of the smoothing presets in the tables: value, search, per-layer
  AlphaChoice table_alpha;                  // what alpha_request says
  std::string alpha_grid;                   // as given (recorded in the journal's settings)
  std::vector<std::string> figure1;         // presets with smoothing
  std::vector<float> figure1_alpha;
  long figure1_max_tokens = 0;          // 0 = as max_tokens
  std::string figure2_group = "auto";  // a smoothing group's norm path, or auto
  // The accuracy part: every preset of the requested tables (fp first) on
  // these zero-shot tasks (sqsim eval's), the first accuracy_limit items of
  // each (0 = all); the tables then gain accuracy columns.
  std::string accuracy_tasks = "lambada_openai,hellaswag,piqa,winogrande";
  long accuracy_limit = 0;
  std::set<std::string> parts;  // table1, table2, table4, observers, llm-int8-columns, figure1, figure2, accuracy
  OutputOptions output;                 // a directory
  std::string command;                  // as typed, for provenance
};

// Refuses unknown presets (naming --table1 / --table2 / --table4 / --figure1),
// Figure 1 presets without smoothing, observers that do not parse or do not
// apply to --observer-preset, --llm-int8-columns presets without LLM.int8(),
// and unknown --parts; before any work.
void check_paper_tables_job(const PaperTablesJob& job);

int run_paper_tables_job(const PaperTablesJob& job);

// The smoothing group whose first layer's calibration input has the largest
// absmax ("auto"), or the group of norm path `wanted`; errors name --figure2-layer.
SmoothGroup figure2_group(const CausalLm& model, const CalibrationStats& stats, const std::string& wanted);

}  // namespace sqsim::cli
