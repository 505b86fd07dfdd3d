#include "experiments/paper_tables.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"
#include "experiments/accuracy_table.h"
#include "experiments/csv.h"
#include "experiments/eval_job.h"
#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/model_layers.h"
#include "experiments/ppl_ranks.h"
#include "experiments/rank_journal.h"
#include "experiments/ranks.h"
#include "experiments/json_writer.h"
#include "experiments/provenance.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "experiments/svg_plot.h"
#include "quant/observers.h"
#include "quant/smoothing.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/stats.h"
#include "sim/models/llm_int8_layer.h"

namespace sqsim::cli {

namespace {

struct Dataset {
  std::string name, path;
  std::vector<int32_t> ids;
};

// A window's cost relative to a W8A8 one, for spreading windows over MPI
// ranks: LLM.int8() 1.56x w8a8-pc (results/paper-table4/speed/float-part.md);
// per window of the README's main job, float 4.7 s, sq-o1 4.0 s, sqplus-g128
// 6.9 s (issue 21's measurements on Zen 4).
double window_cost(const ModelQuantConfig& c) {
  if (c.llm_int8) return 1.6;
  if (c.weight.enabled() && c.weight.bits <= 4 && !c.act.enabled()) return 1.7;  // W4A16
  if (!c.quantizes_anything()) return 1.2;
  return 1.0;
}

// What every part of one run shares: the evaluator, the tokenized texts, the
// provenance lines under every report, and the journal.
struct PaperRun {
  // A perplexity the parts ask for, noted by a planning pass (MPI runs).
  struct Planned {
    const Dataset* data;
    std::vector<int32_t> ids;
    PplRun run;
  };

  const PaperTablesJob& job;
  QuantEvaluator ev;
  std::vector<Dataset> data;  // WikiText-2, PTB
  std::vector<std::string> provenance = {};
  std::unique_ptr<RankJournal> journal = nullptr;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  // Planning pass (non-null): measure_config only notes what it is asked for
  // and returns a NaN perplexity; nothing is measured or written.
  std::vector<Planned>* plan = nullptr;
  // Non-null: every journal item the parts use, in the order a one-process
  // run appends them (the merged journal of an MPI run).
  RankJournal::Items* order = nullptr;
  std::set<std::string> ordered_keys = {};
  // The accuracy part's tasks, items and one run per preset (fp first).
  std::vector<TaskConfig> tasks = {};
  std::vector<std::vector<TaskItem>> items = {};
  std::vector<AccuracyRun> accuracy = {};

  bool writes() const { return plan == nullptr; }
  // Notes an item for `order` (once).
  void note_item(const std::string& key) {
    if (!order || !ordered_keys.insert(key).second) return;
    if (const auto* f = journal->find(key)) order->emplace_back(key, *f);
  }

  static std::string journal_key(const std::string& part, const std::string& label, const Dataset& d,
                                 const std::string& alpha_key) {
    return part + "|" + label + "|" + d.name + "|" + alpha_key;
  }
  // One perplexity of a preset, from the journal or measured now.
  QuantRun measure(const std::string& part, const std::string& preset, const Dataset& d, const AlphaChoice& a,
                   const std::string& alpha_key, const std::vector<int32_t>& ids) {
    return measure_config(part, preset, preset_config(preset), d, a, alpha_key, ids);
  }
  // The same for a configuration named `label` in the journal key.
  QuantRun measure_config(const std::string& part, const std::string& label, const ModelQuantConfig& config,
                          const Dataset& d, const AlphaChoice& a, const std::string& alpha_key,
                          const std::vector<int32_t>& ids) {
    const std::string key = journal_key(part, label, d, alpha_key);
    if (plan) {
      if (std::none_of(plan->begin(), plan->end(), [&](const Planned& p) { return p.run.key == key; }))
        plan->push_back({&d, ids, {key, config, a, label + " " + d.name, window_cost(config)}});
      QuantRun none;
      none.ppl = none.mean_nll = std::numeric_limits<double>::quiet_NaN();
      return none;
    }
    const QuantRun r = journaled_run(ev, *journal, key, config, a, ids, job.seq_len, label + " " + d.name);
    if (order && !ordered_keys.count(key)) {
      for (size_t w = 0; w < ids.size() / size_t(job.seq_len); ++w) note_item(window_key(key, w));
      note_item(key);
    }
    if (!r.from_journal) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "[%s] %s on %s, alpha %s: ppl %.4f (%.0f s, %.0f s in all)\n", part.c_str(),
                   label.c_str(), d.name.c_str(), r.alpha_text.c_str(), r.ppl, r.seconds, elapsed);
    }
    return r;
  }
  // A preset as the tables measure it: Tables 1, 2 and 4 share these keys,
  // so a preset in several tables (fp, sq-o1, ...) is measured once.
  QuantRun table_run(const std::string& preset, const Dataset& d) {
    return measure("tables", preset, d, job.table_alpha, table_alpha_key(preset), d.ids);
  }
  std::string table_alpha_key(const std::string& preset) const {
    return preset_config(preset).smooth ? job.alpha_request : "-";
  }
  // The journaled seconds of windows 1, 2, ... of a measured perplexity (window
  // 0's also hold the model's quantization and calibration; so does the first
  // window measured after a --resume, which this does not know).
  std::vector<double> forward_seconds(const std::string& key) const {
    std::vector<double> s;
    for (size_t w = 1;; ++w) {
      const std::string wk = window_key(key, w);
      const std::vector<std::string>* f = journal->find(wk);
      if (!f || f->size() < 2) break;
      s.push_back(parse_journal_number(f->back(), journal->where(wk) + ", seconds"));  // seconds: the last field
    }
    return s;
  }
};

// A perplexity as the tables and figure1.csv print it.
std::string ppl_text(double ppl) { return significant(ppl, 6); }

// A perplexity cell of the tables: ppl ± its standard error (docs/statistics.md),
// † when the journal held only the per-window means (windows journaled by an
// sqsim before the per-token sums), no ± when neither estimator applies.
std::string ppl_cell(const QuantRun& r) {
  const PplUncertainty& u = r.uncertainty;
  if (u.estimator == PplUncertainty::kNone) return ppl_text(r.ppl);
  return ppl_text(r.ppl) + " ± " + significant(u.ppl.stderr_, 2) +
         (u.estimator == PplUncertainty::kWindow ? "†" : "");
}

// The accuracy part's two columns of a table row (average accuracy and its
// paired difference from fp), when the part ran; appended to `row`.
void add_accuracy_cells(const PaperRun& run, const std::string& preset, std::vector<std::string>* row) {
  for (size_t r = 0; r < run.accuracy.size(); ++r)
    if (run.accuracy[r].preset == preset)
      for (const std::string& cell : accuracy_summary_cells(run.tasks, run.accuracy, r)) row->push_back(cell);
}

void add_accuracy_header(const PaperRun& run, ReportTable* rt) {
  if (run.accuracy.empty()) return;
  std::string tasks;
  for (const TaskConfig& t : run.tasks) tasks += (tasks.empty() ? "" : ", ") + t.name;
  rt->header.push_back("accuracy % (" + std::to_string(run.tasks.size()) + (run.tasks.size() == 1 ? " task)" : " tasks)"));
  rt->header.push_back("Δ accuracy vs fp");
  rt->caption += " accuracy: the mean zero-shot accuracy over " + tasks +
                 " ± its standard error, and its paired difference from fp on the same items (accuracy.md has "
                 "each task; docs/statistics.md).";
}

// Appended to the caption of every table with perplexity cells.
const char* const kUncertaintyNote =
    " ±: standard error of the perplexity, ppl × the standard error of the per-token NLL (llama.cpp's estimator; "
    "docs/statistics.md); † marks a perplexity whose windows were journaled without per-token sums, where the "
    "standard error comes from the spread of the per-window mean NLLs instead.";

std::vector<std::string> provenance_lines(const PaperRun& run) {
  const EvalOptions& eo = run.job.eval;
  std::vector<std::string> p = {
      "command: `" + run.job.command + "`",
      "sqsim commit " + git_commit(),
      "model: `" + display_path(eo.model_path) + "` (sha256 " + sha256_file(eo.model_path) + ")",
      "calibration: `" + display_path(eo.calib_text) + "` (sha256 " + sha256_file(eo.calib_text) + "), " +
          std::to_string(eo.calib_samples) + " windows of " + std::to_string(eo.calib_seq_len) +
          " tokens, held-out tail " + std::to_string(eo.holdout_tokens) + " tokens",
      "CPU: " + cpu_model(),
      std::string("emulation: ") + (eo.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") +
          ", kernel " + kernels::kernel_path_name(kernels::resolve_kernel_path(eo.path))};
  for (const Dataset& d : run.data)
    p.push_back(d.name + ": `" + display_path(d.path) + "` (sha256 " + sha256_file(d.path) + "), " +
                std::to_string(d.ids.size()) + " tokens used, windows of " + std::to_string(run.job.seq_len));
  return p;
}

// Everything a journaled perplexity depends on; --resume refuses other settings.
// (The presets, parts and alphas are in the journal's keys: a resume may add some.)
std::string journal_settings(const PaperRun& run) {
  const EvalOptions& eo = run.job.eval;
  std::string s = "model sha256 " + sha256_file(eo.model_path) + "\ncalibration " + display_path(eo.calib_text) +
                  " " + std::to_string(eo.calib_samples) + "x" + std::to_string(eo.calib_seq_len) + " holdout " +
                  std::to_string(eo.holdout_tokens) + "\nmode " + std::to_string(int(eo.mode)) + "\nseq-len " +
                  std::to_string(run.job.seq_len) + "\nalpha-grid " + run.job.alpha_grid + "\nfigure1-max-tokens " +
                  std::to_string(run.job.figure1_max_tokens) + "\n";
  for (const Dataset& d : run.data)
    s += d.name + " " + display_path(d.path) + " " + std::to_string(d.ids.size()) + " tokens\n";
  return s;
}

void write_table(PaperRun& run, int t) {
  static const char* const titles[2] = {"Table 1: W8A8 schemes", "Table 2: 4-bit weights, SmoothQuant+"};
  static const char* const captions[2] = {
      "Perplexity (lower is better) of the model with every linear layer in W8A8, by scheme "
      "(docs/quantization.md, \"Model presets\"); alpha is the migration strength of the smoothing presets.",
      "Perplexity with 4-bit asymmetric group-wise weights: round-to-nearest (w4a16) vs SmoothQuant+ "
      "(smoothing first), and W4A8 with smoothing."};
  const std::string part = t == 0 ? "table1" : "table2";
  ReportTable rt;
  rt.title = titles[t];
  rt.caption = std::string(captions[t]) + kUncertaintyNote;
  rt.header = {"preset", "weights / activations", "alpha", "WikiText-2 ppl", "PTB ppl"};
  add_accuracy_header(run, &rt);
  rt.provenance = run.provenance;
  for (const std::string& p : t == 0 ? run.job.table1 : run.job.table2) {
    const ModelQuantConfig c = preset_config(p);
    std::vector<std::string> row = {p, c.describe(), "-"};
    for (const Dataset& d : run.data) {
      const QuantRun r = run.table_run(p, d);
      row[2] = r.alpha_text;
      row.push_back(ppl_cell(r));
    }
    add_accuracy_cells(run, p, &row);
    rt.rows.push_back(row);
    if (run.writes()) write_report_table(rt, run.job.output.out + "/" + part);  // partial tables appear as rows complete
  }
}

std::string with_provenance(const CsvTable& csv, const std::vector<std::string>& provenance) {
  std::string text = to_csv(csv);
  for (const std::string& p : provenance) text += "# " + p + "\n";
  return text;
}

// The row names of the SmoothQuant paper's Table 4 (Xiao et al. 2023), for the
// presets that stand for them.
std::string paper_row_name(const std::string& preset) {
  static const std::pair<const char*, const char*> names[] = {
      {"fp", "FP16 (here float32)"},      {"w8a8", "W8A8"},
      {"zeroquant", "ZeroQuant"},         {"llm-int8", "LLM.int8()"},
      {"outlier-suppression", "Outlier Suppression"},
      {"sq-o1", "SmoothQuant-O1"},        {"sq-o2", "SmoothQuant-O2"},
      {"sq-o3", "SmoothQuant-O3"},        {"sq-llm-int8", "SmoothQuant + LLM.int8()"}};
  for (const auto& [p, n] : names)
    if (preset == p) return n;
  return preset;
}

// A perplexity and its ratio to the float model's on the same tokens.
std::vector<std::string> ppl_and_ratio(const QuantRun& r, double fp) {
  return {ppl_cell(r), significant(r.ppl / fp, 4)};
}

// Table 4: each preset's perplexity on both texts, with its ratio to fp.
void write_table4(PaperRun& run) {
  ReportTable rt;
  rt.title = "Table 4: the SmoothQuant paper's main comparison";
  rt.caption =
      "Perplexity (lower is better) of the rows of the SmoothQuant paper's Table 4 on this model, and the ratio to "
      "the float model on the same tokens (docs/quantization.md, \"Model presets\"); alpha is the migration "
      "strength of the smoothing presets. s / window: mean wall seconds of one window's forward pass over both "
      "texts, the first window of each left out (it also holds quantization and calibration); '-' with one "
      "window per text." +
      std::string(kUncertaintyNote);
  rt.header = {"method", "preset", "weights / activations", "alpha", "WikiText-2 ppl", "WikiText-2 / fp", "PTB ppl",
               "PTB / fp", "s / window"};
  add_accuracy_header(run, &rt);
  rt.provenance = run.provenance;
  for (const std::string& p : run.job.table4) {
    std::vector<std::string> row = {paper_row_name(p), p, preset_config(p).describe(), "-"};
    std::vector<double> seconds;
    for (const Dataset& d : run.data) {
      const QuantRun r = run.table_run(p, d);
      row[3] = r.alpha_text;
      for (const std::string& cell : ppl_and_ratio(r, run.table_run("fp", d).ppl)) row.push_back(cell);
      const std::vector<double> s = run.forward_seconds(PaperRun::journal_key("tables", p, d, run.table_alpha_key(p)));
      seconds.insert(seconds.end(), s.begin(), s.end());
    }
    row.push_back(seconds.empty() ? "-" : significant(mean_stderr(seconds).mean, 3));
    add_accuracy_cells(run, p, &row);
    rt.rows.push_back(row);
    if (run.writes()) write_report_table(rt, run.job.output.out + "/table4");  // partial tables appear as rows complete
  }
}

// The observer table: observer_preset with each observer's static clips.
// absmax is the preset itself, so that row shares the tables' journal key.
QuantRun observer_run(PaperRun& run, const ObserverSpec& spec, const Dataset& d) {
  const PaperTablesJob& job = run.job;
  if (spec.kind == ObserverKind::kAbsmax) return run.table_run(job.observer_preset, d);
  ModelQuantConfig c = preset_config(job.observer_preset);
  c.act_observer = spec;
  const std::string label = job.observer_preset + " observer=" + observer_name(spec) + " bins=" +
                            std::to_string(spec.bins);
  return run.measure_config("observers", label, c, d, job.table_alpha, c.smooth ? job.alpha_request : "-", d.ids);
}

ObserverSpec observer_spec(const std::string& text, int bins) {
  ObserverSpec s = parse_observer(text, "--observers");
  s.bins = bins;
  return s;
}

void write_observer_table(PaperRun& run) {
  const PaperTablesJob& job = run.job;
  ReportTable rt;
  rt.title = "Observers: " + job.observer_preset + " with each calibration observer";
  rt.caption = "Perplexity of " + job.observer_preset + " (" + preset_config(job.observer_preset).describe() +
               ") when each layer's static per-tensor activation clip comes from a calibration observer "
               "(docs/quantization.md, \"Calibration observers\"; histograms of " +
               std::to_string(job.observer_bins) + " bins), and the ratio to the float model on the same tokens." +
               kUncertaintyNote;
  rt.header = {"observer", "alpha", "WikiText-2 ppl", "WikiText-2 / fp", "PTB ppl", "PTB / fp"};
  rt.provenance = run.provenance;
  for (const std::string& o : job.observers) {
    const ObserverSpec spec = observer_spec(o, job.observer_bins);
    std::vector<std::string> row = {observer_name(spec), "-"};
    for (const Dataset& d : run.data) {
      const QuantRun r = observer_run(run, spec, d);
      row[1] = r.alpha_text;
      for (const std::string& cell : ppl_and_ratio(r, run.table_run("fp", d).ppl)) row.push_back(cell);
    }
    rt.rows.push_back(row);
    if (run.writes()) write_report_table(rt, job.output.out + "/observers");
  }
}

// What LLM.int8() decomposed in one layer over the counted windows.
struct ColumnCount {
  std::string layer;
  long in = 0, out = 0, calls = 0, summed = 0, max = 0;
  std::vector<long> columns;  // every column that was an outlier in some window, ascending
};

// Journal fields of one layer: "layer in out calls summed max c0,c1,...".
std::string column_field(const ColumnCount& c) {
  std::string cols;
  for (long i : c.columns) cols += (cols.empty() ? "" : ",") + std::to_string(i);
  return c.layer + " " + std::to_string(c.in) + " " + std::to_string(c.out) + " " + std::to_string(c.calls) + " " +
         std::to_string(c.summed) + " " + std::to_string(c.max) + " " + (cols.empty() ? "-" : cols);
}

ColumnCount column_count(const std::string& field, const std::string& where) {
  std::istringstream in(field);
  ColumnCount c;
  std::string cols;
  if (!(in >> c.layer >> c.in >> c.out >> c.calls >> c.summed >> c.max >> cols))
    throw Error(where + ": expected 'layer in out calls summed max columns', got '" + field + "'");
  if (cols != "-")
    for (const std::string& t : split_list(cols, where))
      c.columns.push_back(long(parse_journal_number(t, where + ", column")));
  return c;
}

// Runs `preset` over the first columns_windows windows of WikiText-2 and reads
// every LlmInt8Linear's counters; journaled as one item (one field a layer).
std::vector<ColumnCount> count_outlier_columns(PaperRun& run, const std::string& preset) {
  const PaperTablesJob& job = run.job;
  const AlphaChoice& ta = job.table_alpha;
  ModelQuantConfig c = preset_config(preset);
  // A search picks alpha by perplexity or output error; the counts use the fixed value (0.5 otherwise).
  if (c.smooth) c.alpha = ta.kind == AlphaChoice::kFixed ? ta.value : 0.5f;
  const std::string key = "llm-int8-columns|" + preset + "|" + run.data[0].name + "|" +
                          (c.smooth ? alpha_name(c.alpha) : std::string("-")) + "|windows " +
                          std::to_string(job.columns_windows);
  std::vector<ColumnCount> counts;
  if (const auto* fields = run.journal->find(key)) {
    for (const std::string& f : *fields) counts.push_back(column_count(f, run.journal->where(key)));
    run.note_item(key);
    return counts;
  }
  std::vector<int32_t> ids = run.data[0].ids;
  ids.resize(std::min(ids.size(), size_t(job.columns_windows) * size_t(job.seq_len)));
  const auto model = run.ev.quantized_model(c, {}, nullptr);
  perplexity(*model, ids, job.seq_len, [](size_t, size_t, const WindowNll&) {
    if (const int sig = interrupt_signal()) throw Interrupted(sig, "stopped while counting LLM.int8() columns");
  });
  std::vector<std::string> fields;
  for (const std::string& name : model->linear_names()) {
    const auto* layer = dynamic_cast<const LlmInt8Linear*>(&model->linear(name));
    if (!layer) continue;
    const LlmInt8LayerStats st = layer->stats();
    ColumnCount cc{name, st.in_features, layer->out_features(), st.calls, st.outlier_columns_summed,
                   st.max_outlier_columns, {st.columns.begin(), st.columns.end()}};
    counts.push_back(cc);
    fields.push_back(column_field(cc));
  }
  run.journal->append(key, fields);
  run.note_item(key);
  std::fprintf(stderr, "[llm-int8-columns] %s: %zu layers counted\n", preset.c_str(), counts.size());
  return counts;
}

// The layer kind of a module path: its last component (q_proj, down_proj, ...).
std::string layer_kind(const std::string& layer) { return layer.substr(layer.rfind('.') + 1); }

double mean_columns(const ColumnCount& c) { return c.calls ? double(c.summed) / double(c.calls) : 0.0; }

// Per layer and preset: outlier columns per window (mean, max), distinct
// columns, and the share of the layer's multiply-adds left in float.
ReportTable columns_per_layer(const PaperTablesJob& job, const std::vector<std::vector<ColumnCount>>& per_preset) {
  ReportTable rt;
  rt.title = "LLM.int8() outlier columns per layer";
  rt.caption = "Input columns where some |x| reaches the threshold (multiplied in float) in each linear layer, over "
               "the first " + std::to_string(job.columns_windows) + " window(s) of " +
               std::to_string(job.seq_len) + " WikiText-2 tokens: mean and largest count in one window, columns "
               "that were outliers in any window, and the share of the layer's multiply-adds left in float.";
  rt.header = {"layer", "in"};
  for (const std::string& p : job.column_presets)
    for (const char* h : {" mean", " max", " distinct", " float MACs"}) rt.header.push_back(p + h);
  for (size_t l = 0; l < per_preset[0].size(); ++l) {
    std::vector<std::string> row = {per_preset[0][l].layer, std::to_string(per_preset[0][l].in)};
    for (const std::vector<ColumnCount>& counts : per_preset) {
      const ColumnCount& c = counts[l];
      row.insert(row.end(), {significant(mean_columns(c), 4), std::to_string(c.max), std::to_string(c.columns.size()),
                             significant(mean_columns(c) / double(c.in), 3)});
    }
    rt.rows.push_back(row);
  }
  return rt;
}

// The same summed over the layers of each kind and over the whole model; the
// float share weighted by each layer's multiply-adds (in x out per token).
ReportTable columns_by_kind(const PaperTablesJob& job, const std::vector<std::vector<ColumnCount>>& per_preset) {
  ReportTable rt;
  rt.title = "LLM.int8() outlier columns by layer kind";
  rt.caption = "The per-layer counts summed over the blocks (same windows): outlier columns per window (sum of the "
               "layers' means), distinct (layer, column) pairs, and the share of the multiply-adds left in float.";
  rt.header = {"layers", "count"};
  for (const std::string& p : job.column_presets)
    for (const char* h : {" columns / window", " distinct", " float MACs"}) rt.header.push_back(p + h);
  std::vector<std::string> kinds;
  for (const ColumnCount& c : per_preset[0])
    if (std::find(kinds.begin(), kinds.end(), layer_kind(c.layer)) == kinds.end()) kinds.push_back(layer_kind(c.layer));
  kinds.push_back("");  // every layer
  for (const std::string& kind : kinds) {
    std::vector<std::string> row = {kind.empty() ? "all" : kind, "0"};
    long count = 0;
    for (const std::vector<ColumnCount>& counts : per_preset) {
      double mean = 0, float_macs = 0, macs = 0;
      long distinct = 0;
      count = 0;
      for (const ColumnCount& c : counts) {
        if (!kind.empty() && layer_kind(c.layer) != kind) continue;
        ++count;
        mean += mean_columns(c);
        distinct += long(c.columns.size());
        float_macs += mean_columns(c) * double(c.out);
        macs += double(c.in) * double(c.out);
      }
      const double share = macs > 0 ? float_macs / macs : 0.0;
      row.insert(row.end(), {significant(mean, 4), std::to_string(distinct), significant(share, 3)});
    }
    row[1] = std::to_string(count);
    rt.rows.push_back(row);
  }
  return rt;
}

void write_llm_int8_columns(PaperRun& run) {
  const PaperTablesJob& job = run.job;
  std::vector<std::vector<ColumnCount>> per_preset;
  for (const std::string& p : job.column_presets) {
    per_preset.push_back(count_outlier_columns(run, p));
    const std::vector<ColumnCount>& first = per_preset.front();
    bool same = per_preset.back().size() == first.size();
    for (size_t l = 0; same && l < first.size(); ++l) same = per_preset.back()[l].layer == first[l].layer;
    if (!same)
      throw Error("--llm-int8-columns: " + p + " and " + job.column_presets[0] + " decompose different layers");
  }
  if (per_preset.empty()) return;
  CsvTable indices{{"preset", "layer", "columns"}, {}};
  for (size_t p = 0; p < per_preset.size(); ++p)
    for (const ColumnCount& c : per_preset[p]) {
      std::string cols;
      for (long i : c.columns) cols += (cols.empty() ? "" : " ") + std::to_string(i);
      indices.rows.push_back({job.column_presets[p], c.layer, cols});
    }
  ReportTable layers = columns_per_layer(job, per_preset), kinds = columns_by_kind(job, per_preset);
  layers.provenance = kinds.provenance = run.provenance;
  write_report_table(layers, job.output.out + "/llm_int8_columns");
  write_report_table(kinds, job.output.out + "/llm_int8_columns_by_kind");
  write_file_atomic(job.output.out + "/llm_int8_column_indices.csv", with_provenance(indices, run.provenance));
}


void write_figure1(PaperRun& run) {
  const PaperTablesJob& job = run.job;
  const Dataset& wiki = run.data[0];
  std::vector<int32_t> ids = wiki.ids;
  if (job.figure1_max_tokens > 0 && ids.size() > size_t(job.figure1_max_tokens))
    ids.resize(size_t(job.figure1_max_tokens));
  const double fp = run.measure("figure1", "fp", wiki, AlphaChoice{}, "-", ids).ppl;
  Plot plot;
  plot.title = "Perplexity against migration strength (WikiText-2, " + std::to_string(ids.size()) + " tokens)";
  plot.x_label = "alpha";
  plot.y_label = "perplexity";  // svg_plot adds " (log scale)"
  plot.log_y = true;
  CsvTable csv{{"preset", "alpha", "ppl"}, {}};
  for (const std::string& p : job.figure1) {
    PlotSeries s{p, {}, {}};
    for (float a : job.figure1_alpha) {
      AlphaChoice ac;
      ac.value = a;
      const double ppl = run.measure("figure1", p, wiki, ac, significant(a, 6), ids).ppl;
      s.x.push_back(a);
      s.y.push_back(ppl);
      csv.rows.push_back({p, significant(a, 6), ppl_text(ppl)});
    }
    plot.series.push_back(s);
  }
  if (!run.writes()) return;
  plot.series.push_back(PlotSeries{"fp", {job.figure1_alpha.front(), job.figure1_alpha.back()}, {fp, fp}});
  csv.rows.push_back({"fp", "-", ppl_text(fp)});
  write_file_atomic(job.output.out + "/figure1.csv", with_provenance(csv, run.provenance));
  write_file_atomic(job.output.out + "/figure1.svg", render_svg(plot));
}

// Before and after of one channel series, as bars.
Plot absmax_plot(const std::string& title, const VectorF& before, const VectorF& after) {
  Plot p;
  p.title = title;
  p.x_label = "input channel";
  p.y_label = "max |value|";
  p.bars = true;
  PlotSeries b{"before smoothing", {}, {}}, a{"after smoothing", {}, {}};
  for (long c = 0; c < before.size(); ++c) {
    b.x.push_back(double(c));
    b.y.push_back(before[c]);
    a.x.push_back(double(c));
    a.y.push_back(after[c]);
  }
  p.series = {b, a};
  return p;
}

void write_figure2(PaperRun& run) {
  // Calibration statistics of the float model; the group with the largest
  // activation outlier unless one is named.
  const CalibrationStats& stats = run.ev.calibration();
  const CausalLm& m = *run.ev.float_model().model;
  const SmoothGroup group = figure2_group(m, stats, run.job.figure2_group);
  const AlphaChoice& ta = run.job.table_alpha;
  const float alpha = ta.kind == AlphaChoice::kFixed ? ta.value : 0.5f;
  const VectorF s = group_smoothing_factors(m, group, stats, alpha);
  const VectorF act = stats.at(group.layers.front()).absmax;
  std::vector<MatrixF> weights;  // unpacked copies (FloatLinear keeps the packed one only)
  for (const std::string& n : group.layers) weights.push_back(float_linear(m, n).weight());
  std::vector<const MatrixF*> ws;
  for (const MatrixF& w : weights) ws.push_back(&w);
  const VectorF w_before = weight_column_absmax(ws, group.norm);
  const VectorF act_after = act.array() / s.array(), w_after = w_before.array() * s.array();
  CsvTable csv{{"channel", "act_absmax", "act_absmax_smoothed", "weight_absmax", "weight_absmax_smoothed", "s"}, {}};
  for (long c = 0; c < act.size(); ++c)
    csv.rows.push_back({std::to_string(c), significant(act[c], 8), significant(act_after[c], 8),
                        significant(w_before[c], 8), significant(w_after[c], 8), significant(s[c], 8)});
  const Plot pa = absmax_plot("Activation (input of " + group.norm + " -> " + std::to_string(group.layers.size()) +
                                  " layers): per-channel absmax, alpha " + significant(alpha, 3),
                              act, act_after);
  const Plot pw = absmax_plot(
      "Weight (" + group.layers.front() + "...): per-input-channel absmax, alpha " + significant(alpha, 3),
      w_before, w_after);
  const std::string out = run.job.output.out;
  write_file_atomic(out + "/figure2.csv",
                    with_provenance(csv, run.provenance) + "# group: " + group.norm + " -> " + group.layers.front() +
                        " ...; alpha " + significant(alpha, 3) + "\n");
  write_file_atomic(out + "/figure2_activation.svg", render_svg(pa));
  write_file_atomic(out + "/figure2_weight.svg", render_svg(pw));
}

void write_summary_json(const PaperRun& run) {
  JsonWriter w;
  w.begin_object().member("command", run.job.command).member("git_commit", git_commit());
  w.key("libraries").object(library_versions()).key("provenance").begin_array();
  for (const std::string& p : run.provenance) w.value(p);
  write_file_atomic(run.job.output.out + "/summary.json", w.end_array().end_object().str());
}

bool is_preset(const std::string& name) {
  const std::vector<std::string> known = preset_names();
  return std::find(known.begin(), known.end(), name) != known.end();
}


}  // namespace

SmoothGroup figure2_group(const CausalLm& model, const CalibrationStats& stats, const std::string& wanted) {
  SmoothGroup group;
  float worst = -1;
  for (const SmoothGroup& g : model.smooth_groups()) {
    const float a = stats.at(g.layers.front()).absmax.maxCoeff();
    if ((wanted == "auto" && a > worst) || g.norm == wanted) {
      worst = a;
      group = g;
    }
  }
  if (group.layers.empty()) throw Error("--figure2-layer '" + wanted + "': no such smoothing group (norm path)");
  return group;
}

namespace {

// The observer table's options: a known preset with static symmetric
// per-tensor activations (ModelQuantConfig::validate says why not), and
// observers that parse.
void check_observer_table(const PaperTablesJob& job) {
  if (!is_preset(job.observer_preset))
    throw Error("--observer-preset '" + job.observer_preset + "': unknown preset (sqsim ppl --help lists them)");
  validate_observer_bins(job.observer_bins, "--observer-bins");
  for (const std::string& o : job.observers) {
    ModelQuantConfig c = preset_config(job.observer_preset);
    c.act_observer = observer_spec(o, job.observer_bins);
    if (c.act_observer.kind == ObserverKind::kAbsmax) continue;
    try {
      c.validate();
    } catch (const Error& e) {
      throw Error("--observer-preset " + job.observer_preset + ": " + e.what());
    }
  }
}

void check_column_presets(const PaperTablesJob& job) {
  for (const std::string& p : job.column_presets)
    if (!is_preset(p) || !preset_config(p).llm_int8)
      throw Error("--llm-int8-columns '" + p + "': expected presets with LLM.int8() (llm-int8, sq-llm-int8)");
  if (job.columns_windows < 1) throw Error("--columns-windows must be at least 1");
}

}  // namespace

void check_paper_tables_job(const PaperTablesJob& job) {
  static const std::set<std::string> parts = {"table1",           "table2",  "table4",  "observers",
                                              "llm-int8-columns", "figure1", "figure2", "accuracy"};
  for (const std::string& p : job.parts)
    if (!parts.count(p))
      throw Error("--parts '" + p + "': expected table1, table2, table4, observers, llm-int8-columns, figure1, "
                  "figure2 or accuracy");
  if (job.parts.count("accuracy") && !job.parts.count("table1") && !job.parts.count("table2") &&
      !job.parts.count("table4"))
    throw Error("--parts accuracy: gives the tables' presets accuracy columns; add table1, table2 or table4");
  if (job.accuracy_limit < 0) throw Error("--accuracy-limit must be >= 0");
  if (job.parts.count("accuracy"))
    for (const std::string& t : split_list(job.accuracy_tasks, "--accuracy-tasks")) task_config_path(t);
  if (job.seq_len < 2) throw Error("--seq-len must be at least 2");
  const std::pair<const char*, const std::vector<std::string>*> tables[] = {
      {"--table1", &job.table1}, {"--table2", &job.table2}, {"--table4", &job.table4}};
  for (const auto& [option, presets] : tables)
    for (const std::string& p : *presets)
      if (!is_preset(p))
        throw Error(std::string(option) + " '" + p + "': unknown preset (sqsim ppl --help lists them)");
  check_observer_table(job);
  check_column_presets(job);
  for (const std::string& p : job.figure1)
    if (!is_preset(p) || !preset_config(p).smooth)
      throw Error("--figure1 " + p + ": Figure 1 needs presets with smoothing");
}

namespace {

// Under MPI (docs/mpi.md): a planning pass over the perplexity parts notes
// every perplexity they ask for; the windows of all of them are then split
// over the ranks per token stream (ranked_perplexities, which also splits the
// calibration), and rank 0 gets every window into its journal, so that the
// parts, run again on rank 0 alone, find everything journaled.
void measure_on_ranks(PaperRun& run, const Ranks& ranks) {
  const PaperTablesJob& job = run.job;
  std::vector<PaperRun::Planned> plan;
  run.plan = &plan;
  if (job.parts.count("table1")) write_table(run, 0);
  if (job.parts.count("table2")) write_table(run, 1);
  if (job.parts.count("table4")) write_table4(run);
  if (job.parts.count("observers")) write_observer_table(run);
  if (job.parts.count("figure1")) write_figure1(run);
  run.plan = nullptr;
  // One ranked_perplexities per token stream (a text, or figure 1's prefix of it).
  std::vector<std::pair<const PaperRun::Planned*, std::vector<PplRun>>> streams;
  for (const PaperRun::Planned& p : plan) {
    auto s = std::find_if(streams.begin(), streams.end(), [&](const auto& x) {
      return x.first->data == p.data && x.first->ids.size() == p.ids.size();
    });
    if (s == streams.end()) s = streams.insert(streams.end(), {&p, {}});
    s->second.push_back(p.run);
  }
  if (ranks.root())
    std::fprintf(stderr, "paper-tables: %zu perplexities on %zu token streams over %d ranks\n", plan.size(),
                 streams.size(), ranks.size());
  for (const auto& [first, runs] : streams) {
    RankJournal::Items items;
    size_t bytes = 0;
    ranked_perplexities(ranks, run.ev, run.journal.get(), runs, first->ids, job.seq_len, &items, &bytes);
    if (!ranks.root()) continue;
    for (const auto& [key, fields] : items)
      if (!run.journal->find(key)) run.journal->append(key, fields);
    std::fprintf(stderr, "paper-tables: %s: gathered %zu bytes from the other ranks\n", first->data->name.c_str(),
                 bytes);
  }
}

// The presets the accuracy part scores: fp (the base of the paired
// differences), then those of the requested tables in table order.
std::vector<std::string> accuracy_presets(const PaperTablesJob& job) {
  std::vector<std::string> out = {"fp"};
  const std::pair<const char*, const std::vector<std::string>*> tables[] = {
      {"table1", &job.table1}, {"table2", &job.table2}, {"table4", &job.table4}};
  for (const auto& [part, presets] : tables)
    if (job.parts.count(part))
      for (const std::string& p : *presets)
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

// The accuracy part (on every rank of an MPI run: eval_preset splits the
// items): each preset scored as `sqsim eval` scores it, journaled in
// DIR/accuracy/PRESET/ (the layout of `sqsim eval --quant A,B --out DIR`),
// then DIR/accuracy.* and DIR/accuracy_differences.*.
void measure_accuracy(PaperRun& run, const Ranks& ranks) {
  const PaperTablesJob& job = run.job;
  ranks.all_or_none([&] { load_eval_tasks(job.accuracy_tasks, job.accuracy_limit, &run.tasks, &run.items); });
  const ZeroShotOptions zo;
  const EvalContext cx{ranks, run.tasks, run.items, run.ev, zo, false, job.alpha_request, job.alpha_grid,
                       job.output.resume};
  std::string settings = journal_settings(run) + "accuracy tasks " + job.accuracy_tasks + " limit " +
                         std::to_string(job.accuracy_limit) + "\nalpha " + job.alpha_request + "\n";
  for (const std::string& p : accuracy_presets(job)) {
    const ModelQuantConfig c = preset_config(p);
    AccuracyRun a{p, c.describe(), "-", {}};
    a.results = eval_preset(cx, c, job.output.out + "/accuracy/" + p, settings + "preset " + p + "\n", &a.alpha);
    run.accuracy.push_back(std::move(a));
  }
  if (!ranks.root()) return;
  ReportTable table = accuracy_table(run.tasks, run.accuracy), diff = accuracy_difference_table(run.tasks, run.accuracy);
  table.provenance = diff.provenance = run.provenance;
  for (size_t t = 0; t < run.tasks.size(); ++t) {
    const std::string line = run.tasks[t].name + ": " + std::to_string(run.items[t].size()) + " items" +
                             (job.accuracy_limit > 0 ? " (the first " + std::to_string(job.accuracy_limit) + ")" : "");
    table.provenance.push_back(line);
    diff.provenance.push_back(line);
  }
  write_report_table(table, job.output.out + "/accuracy");
  write_report_table(diff, job.output.out + "/accuracy_differences");
}

}  // namespace

int run_paper_tables_job(const PaperTablesJob& job) {
  // Every step up to the measurements runs on every rank of an MPI job; an
  // error on any rank stops all of them, named (ranks.h).
  const Ranks& ranks = Ranks::world();
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  ranks.all_or_none([&] {
    check_paper_tables_job(job);
    // Options are checked before the output directory is made.
    if (!ranks.root()) return;
    prepare_output_dir(job.output, true);
    if (!job.output.resume) RankJournal::clear(ranks, job.output.out);
  });
  EvalOptions eo = job.eval;
  eo.calib_cache = job.output.out + "/calibration.bin";  // a --resume skips recalibrating
  eo.quiet = eo.quiet || !ranks.root();
  PaperRun run{job, QuantEvaluator(eo), {{"WikiText-2", job.wikitext, {}}, {"PTB", job.ptb, {}}}};
  std::string settings;
  ranks.all_or_none([&] {
    for (Dataset& d : run.data) {
      if (d.path == eo.calib_text)
        throw Error("--" + std::string(d.name == "PTB" ? "ptb" : "wikitext") +
                    ": the evaluation text is the calibration text");
      d.ids = run.ev.tokenize_file(d.path, job.max_tokens);
    }
    run.provenance = provenance_lines(run);
    settings = journal_settings(run);
  });
  require_same(ranks, "paper-tables settings", settings);
  ranks.all_or_none([&] { run.journal = std::make_unique<RankJournal>(ranks, job.output.out, settings, job.output.resume); });
  // First, so that the tables can show the accuracy columns.
  if (job.parts.count("accuracy")) measure_accuracy(run, ranks);
  RankJournal::Items ordered;
  if (ranks.distributed()) {
    measure_on_ranks(run, ranks);
    if (!ranks.root()) return 0;
    run.order = &ordered;
  }
  if (job.parts.count("table1")) write_table(run, 0);
  if (job.parts.count("table2")) write_table(run, 1);
  if (job.parts.count("table4")) write_table4(run);
  if (job.parts.count("observers")) write_observer_table(run);
  if (job.parts.count("llm-int8-columns")) write_llm_int8_columns(run);
  if (job.parts.count("figure1")) write_figure1(run);
  if (job.parts.count("figure2")) write_figure2(run);
  write_summary_json(run);
  run.journal->finish(ordered);  // an MPI run's journal.txt in one-process order; else untouched
  std::fprintf(stderr, "paper-tables: done, reports in %s\n", job.output.out.c_str());
  return 0;
}

}  // namespace sqsim::cli
