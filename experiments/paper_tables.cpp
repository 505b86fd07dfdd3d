#include "experiments/paper_tables.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "experiments/csv.h"
#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/model_layers.h"
#include "experiments/json_writer.h"
#include "experiments/provenance.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "experiments/svg_plot.h"
#include "quant/smoothing.h"

namespace sqsim::cli {

namespace {

struct Dataset {
  std::string name, path;
  std::vector<int32_t> ids;
};

// What every part of one run shares: the evaluator, the tokenized texts, the
// provenance lines under every report, and the journal.
struct PaperRun {
  const PaperTablesJob& job;
  QuantEvaluator ev;
  std::vector<Dataset> data;  // WikiText-2, PTB
  std::vector<std::string> provenance;
  std::unique_ptr<Journal> journal;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

  // One perplexity, from the journal or measured now.
  QuantRun measure(const std::string& part, const std::string& preset, const Dataset& d, const AlphaChoice& a,
                   const std::string& alpha_key, const std::vector<int32_t>& ids) {
    const std::string key = part + "|" + preset + "|" + d.name + "|" + alpha_key;
    const QuantRun r =
        journaled_run(ev, *journal, key, preset_config(preset), a, ids, job.seq_len, preset + " " + d.name);
    if (!r.from_journal) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "[%s] %s on %s, alpha %s: ppl %.4f (%.0f s, %.0f s in all)\n", part.c_str(),
                   preset.c_str(), d.name.c_str(), r.alpha_text.c_str(), r.ppl, r.seconds, elapsed);
    }
    return r;
  }
};

// A perplexity as the tables and figure1.csv print it.
std::string ppl_text(double ppl) { return significant(ppl, 6); }

std::vector<std::string> provenance_lines(const PaperRun& run) {
  const EvalOptions& eo = run.job.eval;
  std::vector<std::string> p = {
      "command: `" + run.job.command + "`",
      "sqsim commit " + git_commit(),
      "model: `" + display_path(eo.model_path) + "` (sha256 " + sha256_file(eo.model_path) + ")",
      "calibration: `" + display_path(eo.calib_text) + "` (sha256 " + sha256_file(eo.calib_text) + "), " +
          std::to_string(eo.calib_samples) + " windows of " + std::to_string(eo.calib_seq_len) +
          " tokens, held-out tail " + std::to_string(eo.holdout_tokens) + " tokens",
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
  rt.caption = captions[t];
  rt.header = {"preset", "weights / activations", "alpha", "WikiText-2 ppl", "PTB ppl"};
  rt.provenance = run.provenance;
  for (const std::string& p : t == 0 ? run.job.table1 : run.job.table2) {
    const ModelQuantConfig c = preset_config(p);
    std::vector<std::string> row = {p, c.describe(), "-"};
    for (const Dataset& d : run.data) {
      // Both tables measure on the same tokens: a preset in both (fp) is measured once.
      const QuantRun r = run.measure("tables", p, d, run.job.table_alpha, c.smooth ? run.job.alpha_request : "-", d.ids);
      row[2] = r.alpha_text;
      row.push_back(ppl_text(r.ppl));
    }
    rt.rows.push_back(row);
    write_report_table(rt, run.job.output.out + "/" + part);  // partial tables appear as rows complete
  }
}

std::string with_provenance(const CsvTable& csv, const std::vector<std::string>& provenance) {
  std::string text = to_csv(csv);
  for (const std::string& p : provenance) text += "# " + p + "\n";
  return text;
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
  std::vector<const MatrixF*> ws;
  for (const std::string& n : group.layers) ws.push_back(&float_linear(m, n).weight());
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

void check_paper_tables_job(const PaperTablesJob& job) {
  for (const std::string& p : job.parts)
    if (p != "table1" && p != "table2" && p != "figure1" && p != "figure2")
      throw Error("--parts '" + p + "': expected table1, table2, figure1 or figure2");
  if (job.seq_len < 2) throw Error("--seq-len must be at least 2");
  for (int t = 0; t < 2; ++t)
    for (const std::string& p : t == 0 ? job.table1 : job.table2)
      if (!is_preset(p))
        throw Error("--table" + std::to_string(t + 1) + " '" + p + "': unknown preset (sqsim ppl --help lists them)");
  for (const std::string& p : job.figure1)
    if (!is_preset(p) || !preset_config(p).smooth)
      throw Error("--figure1 " + p + ": Figure 1 needs presets with smoothing");
}

int run_paper_tables_job(const PaperTablesJob& job) {
  check_paper_tables_job(job);
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  // Options are checked before the output directory is made.
  prepare_output_dir(job.output, true);
  EvalOptions eo = job.eval;
  eo.calib_cache = job.output.out + "/calibration.bin";  // a --resume skips recalibrating
  PaperRun run{job, QuantEvaluator(eo), {{"WikiText-2", job.wikitext, {}}, {"PTB", job.ptb, {}}}, {}, nullptr};
  for (Dataset& d : run.data) {
    if (d.path == eo.calib_text)
      throw Error("--" + std::string(d.name == "PTB" ? "ptb" : "wikitext") +
                  ": the evaluation text is the calibration text");
    d.ids = run.ev.tokenize_file(d.path, job.max_tokens);
  }
  run.provenance = provenance_lines(run);
  run.journal = std::make_unique<Journal>(job.output.out + "/" + Journal::kFileName, journal_settings(run),
                                          job.output.resume);
  if (job.parts.count("table1")) write_table(run, 0);
  if (job.parts.count("table2")) write_table(run, 1);
  if (job.parts.count("figure1")) write_figure1(run);
  if (job.parts.count("figure2")) write_figure2(run);
  write_summary_json(run);
  std::fprintf(stderr, "paper-tables: done, reports in %s\n", job.output.out.c_str());
  return 0;
}

}  // namespace sqsim::cli
