// sqsim paper-tables: the SmoothQuant / SmoothQuant+ results of the papers,
// measured on one model: Table 1 (W8A8 schemes), Table 2 (4-bit weights),
// Figure 1 (perplexity against alpha) and Figure 2 (one layer's per-channel
// absmax before and after smoothing). Every perplexity (journal.csv) and every
// window of it (windows.csv) is journaled as it completes, so --resume finishes
// an interrupted run, continuing a perplexity from its last finished window.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/csv.h"
#include "experiments/interrupt.h"
#include "experiments/model_quant_options.h"
#include "experiments/output_dir.h"
#include "experiments/provenance.h"
#include "experiments/quant_eval.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "experiments/svg_plot.h"
#include "base/error.h"
#include "base/paths.h"
#include "quant/smoothing.h"

namespace sqsim::cli {

namespace {

struct Dataset {
  std::string name, path;
  std::vector<int32_t> ids;
};

// One measured perplexity, as journaled.
struct Entry {
  std::string part, preset, dataset, alpha, ppl, tokens, windows, seconds;
  std::string key() const { return part + "|" + preset + "|" + dataset + "|" + alpha; }
};

const std::vector<std::string> kJournalHeader = {"part", "preset", "dataset", "alpha_request", "alpha",
                                                 "ppl", "tokens", "windows", "seconds"};

class Journal {
 public:
  Journal(const std::string& path, bool resume) : path_(path) {
    if (resume && std::ifstream(path)) {
      const CsvTable t = read_csv(path);
      for (const auto& r : t.rows) done_[r[0] + "|" + r[1] + "|" + r[2] + "|" + r[3]] = r;
    } else {
      std::ofstream(path, std::ios::trunc) << to_csv(CsvTable{kJournalHeader, {}});
    }
  }
  const std::vector<std::string>* find(const std::string& key) const {
    const auto it = done_.find(key);
    return it == done_.end() ? nullptr : &it->second;
  }
  // Appends one line and flushes it: a killed run loses only what was in flight.
  void add(const std::vector<std::string>& row) {
    std::ofstream out(path_, std::ios::app);
    std::string line = to_csv(CsvTable{row, {}});
    out << line << std::flush;
    if (!out) throw Error(path_ + ": cannot append to the journal");
    done_[row[0] + "|" + row[1] + "|" + row[2] + "|" + row[3]] = row;
  }

 private:
  std::string path_;
  std::map<std::string, std::vector<std::string>> done_;
};

// Every window's NLL as it completes (windows.csv), so --resume continues a
// perplexity in the middle instead of starting it again: a full test set is
// hundreds of windows per preset.
class WindowLog {
 public:
  WindowLog(const std::string& path, bool resume) : path_(path) {
    if (resume && std::ifstream(path)) {
      const CsvTable t = read_csv(path);
      for (size_t i = 0; i < t.rows.size(); ++i) {
        const auto& r = t.rows[i];
        const std::string where = path + ": row " + std::to_string(i + 2);
        if (r.size() != 7) throw Error(where + ": expected 7 columns, got " + std::to_string(r.size()));
        auto& k = known_[r[0] + "|" + r[1] + "|" + r[2] + "|" + r[3]];
        const double window = number(r[4], where + ", window"), nll = number(r[5], where + ", nll"),
                     seconds = number(r[6], where + ", seconds");
        // Only the unbroken prefix 0, 1, 2, ... is usable.
        if (window == double(k.nll.size())) {
          k.nll.push_back(nll);
          k.seconds += seconds;
        }
      }
    } else {
      std::ofstream(path, std::ios::trunc) << to_csv(CsvTable{{"part", "preset", "dataset", "alpha_request", "window",
                                                               "nll", "seconds"}, {}});
    }
  }
  // A finite number, or an error naming the file, row and column.
  static double number(const std::string& text, const std::string& where) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(v))
      throw Error(where + ": expected a finite number, got '" + text + "'");
    return v;
  }
  struct Known {
    std::vector<double> nll;
    double seconds = 0;
  };
  Known known(const std::string& key) const {
    const auto it = known_.find(key);
    return it == known_.end() ? Known{} : it->second;
  }
  void add(const std::vector<std::string>& key_fields, size_t window, double nll, double seconds) {
    char n[40];
    std::snprintf(n, sizeof n, "%.17g", nll);  // round-trips exactly
    std::vector<std::string> row = key_fields;
    row.insert(row.end(), {std::to_string(window), n, format_number(seconds, 4)});
    std::ofstream out(path_, std::ios::app);
    out << to_csv(CsvTable{row, {}}) << std::flush;
    if (!out) throw Error(path_ + ": cannot append to the window journal");
  }

 private:
  std::string path_;
  std::map<std::string, Known> known_;
};

std::string two(double v) { return format_number(v, 6); }

}  // namespace

int run_paper_tables(int argc, char** argv) {
  po::options_description o("paper-tables");
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
      "alpha", po::value<std::string>()->default_value("0.5"),
      "alpha of the smoothing presets in the tables: a value, 'search' or 'per-layer'")(
      "figure1", po::value<std::string>()->default_value("sq-o1,sq-o3"), "presets of Figure 1 (ppl against alpha)")(
      "figure1-alpha", po::value<std::string>()->default_value("0:1:0.05"), "alpha values of Figure 1")(
      "figure1-max-tokens", po::value<long>()->default_value(0),
      "WikiText-2 tokens for Figure 1 (0 = as --max-tokens)")(
      "figure2-layer", po::value<std::string>()->default_value("auto"),
      "smoothing group (norm path, e.g. model.layers.3.input_layernorm) of Figure 2; auto = the largest "
      "activation outlier")(
      "parts", po::value<std::string>()->default_value("table1,table2,figure1,figure2"), "what to make")(
      "out", po::value<std::string>()->required(), "output directory")(
      "force", po::bool_switch(), "overwrite an existing --out")(
      "resume", po::bool_switch(), "finish an interrupted run in --out (journal.csv, windows.csv): measured perplexities and windows are "
      "not measured again");
  add_eval_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim paper-tables --out DIR [--config experiments/configs/paper-tables.cfg] [--resume]\n\n"
             "Measures the papers' tables on one model: Table 1 (W8A8: naive, ZeroQuant, SmoothQuant O1-O3,\n"
             "per-channel with and without smoothing), Table 2 (W4A16 round-to-nearest vs SmoothQuant+, W4A8),\n"
             "Figure 1 (perplexity against alpha) and Figure 2 (one layer's per-channel input and weight absmax\n"
             "before and after smoothing). Tables as Markdown, LaTeX and CSV, figures as SVG (+ CSV), each with\n"
             "its provenance. Calibration uses --calib-text only; evaluation texts are never calibrated on.",
             o, vm))
    return 0;
  install_interrupt_handlers();
  const auto gc = thread_limit(vm);
  const std::string out = vm["out"].as<std::string>();
  const bool resume = vm["resume"].as<bool>();
  const std::set<std::string> parts = [&] {
    std::set<std::string> p;
    for (const std::string& s : split_list(vm["parts"].as<std::string>(), "--parts")) {
      if (s != "table1" && s != "table2" && s != "figure1" && s != "figure2")
        throw Error("--parts '" + s + "': expected table1, table2, figure1 or figure2");
      p.insert(s);
    }
    return p;
  }();
  const int seq_len = vm["seq-len"].as<int>();
  const long max_tokens = vm["max-tokens"].as<long>();
  if (seq_len < 2) throw Error("--seq-len must be at least 2");
  std::vector<std::string> table_presets[2] = {split_list(vm["table1"].as<std::string>(), "--table1"),
                                               split_list(vm["table2"].as<std::string>(), "--table2")};
  // Refuse unknown names before any work, naming the option that holds them.
  const std::vector<std::string> known = preset_names();
  for (int t = 0; t < 2; ++t)
    for (const std::string& p : table_presets[t])
      if (std::find(known.begin(), known.end(), p) == known.end())
        throw Error("--table" + std::to_string(t + 1) + " '" + p + "': unknown preset (sqsim ppl --help lists them)");
  const std::vector<std::string> fig1 = split_list(vm["figure1"].as<std::string>(), "--figure1");
  for (const std::string& p : fig1)
    if (std::find(known.begin(), known.end(), p) == known.end() ||
        !preset_config(p).smooth) throw Error("--figure1 " + p + ": Figure 1 needs presets with smoothing");
  const std::vector<float> fig1_alpha = parse_alpha_grid(vm["figure1-alpha"].as<std::string>(), "--figure1-alpha");
  const std::string alpha_req = vm["alpha"].as<std::string>();
  AlphaChoice table_alpha;
  if (alpha_req == "search" || alpha_req == "per-layer") {
    table_alpha.kind = alpha_req == "search" ? AlphaChoice::kGlobalSearch : AlphaChoice::kPerLayerSearch;
    table_alpha.grid = parse_alpha_grid(vm["alpha-grid"].as<std::string>(), "--alpha-grid");
  } else {
    table_alpha.value = parse_alpha_grid(alpha_req, "--alpha").at(0);
  }

  // Options are checked before the output directory is made.
  prepare_output_dir(out, vm["force"].as<bool>(), resume, "--out", true);
  EvalOptions eo = eval_options(vm, vm["model"].as<std::string>());
  eo.calib_cache = out + "/calibration.bin";  // a --resume skips recalibrating
  QuantEvaluator ev(eo);
  std::vector<Dataset> data = {{"WikiText-2", vm["wikitext"].as<std::string>(), {}},
                               {"PTB", vm["ptb"].as<std::string>(), {}}};
  for (Dataset& d : data) {
    if (d.path == eo.calib_text) throw Error("--" + std::string(d.name == "PTB" ? "ptb" : "wikitext") +
                                             ": the evaluation text is the calibration text");
    d.ids = ev.tokenize_file(d.path, max_tokens);
  }

  const std::string command = command_line(argc, argv);
  std::vector<std::string> provenance = {
      "command: `" + command + "`",
      "sqsim commit " + git_commit(),
      "model: `" + display_path(eo.model_path) + "` (sha256 " + sha256_file(eo.model_path) + ")",
      "calibration: `" + display_path(eo.calib_text) + "` (sha256 " + sha256_file(eo.calib_text) + "), " +
          std::to_string(eo.calib_samples) + " windows of " + std::to_string(eo.calib_seq_len) +
          " tokens, held-out tail " + std::to_string(eo.holdout_tokens) + " tokens",
      std::string("emulation: ") + (eo.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") +
          ", kernel " + kernels::kernel_path_name(kernels::resolve_kernel_path(eo.path))};
  for (const Dataset& d : data)
    provenance.push_back(d.name + ": `" + display_path(d.path) + "` (sha256 " + sha256_file(d.path) + "), " +
                         std::to_string(d.ids.size()) + " tokens used, windows of " + std::to_string(seq_len));

  // Everything a journaled perplexity depends on; --resume refuses other settings.
  std::string settings = "model sha256 " + sha256_file(eo.model_path) + "\ncalibration " + display_path(eo.calib_text) + " " +
                         std::to_string(eo.calib_samples) + "x" + std::to_string(eo.calib_seq_len) + " holdout " +
                         std::to_string(eo.holdout_tokens) + "\nmode " + std::to_string(int(eo.mode)) + "\nseq-len " +
                         std::to_string(seq_len) + "\nalpha-grid " + vm["alpha-grid"].as<std::string>() +
                         "\nfigure1-max-tokens " + std::to_string(vm["figure1-max-tokens"].as<long>()) + "\n";
  for (const Dataset& d : data) settings += d.name + " " + display_path(d.path) + " " + std::to_string(d.ids.size()) + " tokens\n";
  const std::string settings_path = out + "/settings.txt";
  if (resume && std::ifstream(settings_path)) {
    std::ifstream in(settings_path);
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (old != settings)
      throw Error("--resume: " + settings_path + " records other settings than this run's (model, texts, token "
                  "counts, calibration, mode or seq-len differ); start a new --out");
  }
  write_file_atomic(settings_path, settings);
  Journal journal(out + "/journal.csv", resume);
  WindowLog window_log(out + "/windows.csv", resume);
  const auto t0 = std::chrono::steady_clock::now();
  // One perplexity, from the journal or measured now.
  auto measure = [&](const std::string& part, const std::string& preset, const Dataset& d, const AlphaChoice& a,
                     const std::string& alpha_key, const std::vector<int32_t>& ids) -> std::vector<std::string> {
    const std::string key = part + "|" + preset + "|" + d.name + "|" + alpha_key;
    if (const auto* row = journal.find(key)) return *row;
    const WindowLog::Known known = window_log.known(key);
    WindowJournal wj;
    wj.known_nll = known.nll;
    auto last = std::chrono::steady_clock::now();
    wj.on_window = [&](size_t w, double nll) {
      const auto now = std::chrono::steady_clock::now();
      window_log.add({part, preset, d.name, alpha_key}, w, nll, std::chrono::duration<double>(now - last).count());
      last = now;
    };
    QuantRun r = ev.run(preset_config(preset), a, ids, seq_len, preset + " " + d.name, wj);
    r.seconds += known.seconds;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[%s] %s on %s, alpha %s: ppl %.4f (%.0f s, %.0f s in all)\n", part.c_str(), preset.c_str(),
                 d.name.c_str(), r.alpha_text.c_str(), r.ppl, r.seconds, elapsed);
    std::vector<std::string> row = {part, preset, d.name, alpha_key, r.alpha_text, two(r.ppl),
                                    std::to_string(r.tokens), std::to_string(r.windows), format_number(r.seconds, 4)};
    journal.add(row);
    return row;
  };

  const char* titles[2] = {"Table 1: W8A8 schemes", "Table 2: 4-bit weights, SmoothQuant+"};
  const char* captions[2] = {
      "Perplexity (lower is better) of the model with every linear layer in W8A8, by scheme "
      "(docs/quantization.md, \"Model presets\"); alpha is the migration strength of the smoothing presets.",
      "Perplexity with 4-bit asymmetric group-wise weights: round-to-nearest (w4a16) vs SmoothQuant+ "
      "(smoothing first), and W4A8 with smoothing."};
  for (int t = 0; t < 2; ++t) {
    const std::string part = t == 0 ? "table1" : "table2";
    if (!parts.count(part)) continue;
    ReportTable rt;
    rt.title = titles[t];
    rt.caption = captions[t];
    rt.header = {"preset", "weights / activations", "alpha", "WikiText-2 ppl", "PTB ppl"};
    rt.provenance = provenance;
    for (const std::string& p : table_presets[t]) {
      const ModelQuantConfig c = preset_config(p);
      std::vector<std::string> row = {p, c.describe(), "-"};
      for (const Dataset& d : data) {
        // Both tables measure on the same tokens: a preset in both (fp) is measured once.
        const auto r = measure("tables", p, d, table_alpha, c.smooth ? alpha_req : "-", d.ids);
        row[2] = r[4];
        row.push_back(r[5]);
      }
      rt.rows.push_back(row);
      write_report_table(rt, out + "/" + part);  // partial tables appear as rows complete
    }
  }

  if (parts.count("figure1")) {
    const long fig_tokens = vm["figure1-max-tokens"].as<long>();
    const Dataset& wiki = data[0];
    std::vector<int32_t> ids = wiki.ids;
    if (fig_tokens > 0 && ids.size() > size_t(fig_tokens)) ids.resize(size_t(fig_tokens));
    const auto fp = measure("figure1", "fp", wiki, AlphaChoice{}, "-", ids);
    Plot plot;
    plot.title = "Perplexity against migration strength (WikiText-2, " + std::to_string(ids.size()) + " tokens)";
    plot.x_label = "alpha";
    plot.y_label = "perplexity";  // svg_plot adds " (log scale)"
    plot.log_y = true;
    CsvTable csv{{"preset", "alpha", "ppl"}, {}};
    PlotSeries fp_line{"fp", {fig1_alpha.front(), fig1_alpha.back()}, {std::stod(fp[5]), std::stod(fp[5])}};
    for (const std::string& p : fig1) {
      PlotSeries s{p, {}, {}};
      for (float a : fig1_alpha) {
        AlphaChoice ac;
        ac.value = a;
        const auto r = measure("figure1", p, wiki, ac, format_number(a, 6), ids);
        s.x.push_back(a);
        s.y.push_back(std::stod(r[5]));
        csv.rows.push_back({p, format_number(a, 6), r[5]});
      }
      plot.series.push_back(s);
    }
    plot.series.push_back(fp_line);
    csv.rows.push_back({"fp", "-", fp[5]});
    std::string text = to_csv(csv);
    for (const std::string& p : provenance) text += "# " + p + "\n";
    write_file_atomic(out + "/figure1.csv", text);
    write_file_atomic(out + "/figure1.svg", render_svg(plot));
  }

  if (parts.count("figure2")) {
    // Calibration statistics of the float model; the group with the largest
    // activation outlier unless one is named.
    const CalibrationStats& stats = ev.calibration();
    const CausalLm& m = *ev.float_model().model;
    std::string wanted = vm["figure2-layer"].as<std::string>();
    SmoothGroup group;
    float worst = -1;
    for (const SmoothGroup& g : m.smooth_groups()) {
      const float a = stats.at(g.layers.front()).absmax.maxCoeff();
      if ((wanted == "auto" && a > worst) || g.norm == wanted) {
        worst = a;
        group = g;
      }
    }
    if (group.layers.empty()) throw Error("--figure2-layer '" + wanted + "': no such smoothing group (norm path)");
    const float alpha = table_alpha.kind == AlphaChoice::kFixed ? table_alpha.value : 0.5f;
    const VectorF s = group_smoothing_factors(m, group, stats, alpha);
    const VectorF act = stats.at(group.layers.front()).absmax;
    std::vector<const MatrixF*> ws;
    for (const std::string& n : group.layers) ws.push_back(&dynamic_cast<const FloatLinear&>(m.linear(n)).weight());
    const VectorF w_before = weight_column_absmax(ws, group.norm);
    const VectorF act_after = act.array() / s.array(), w_after = w_before.array() * s.array();
    CsvTable csv{{"channel", "act_absmax", "act_absmax_smoothed", "weight_absmax", "weight_absmax_smoothed", "s"}, {}};
    Plot pa, pw;
    pa.title = "Activation (input of " + group.norm + " -> " + std::to_string(group.layers.size()) +
               " layers): per-channel absmax, alpha " + format_number(alpha, 3);
    pw.title = "Weight (" + group.layers.front() + "...): per-input-channel absmax, alpha " + format_number(alpha, 3);
    pa.x_label = pw.x_label = "input channel";
    pa.y_label = pw.y_label = "max |value|";
    pa.bars = pw.bars = true;
    PlotSeries a0{"before smoothing", {}, {}}, a1{"after smoothing", {}, {}}, w0{"before smoothing", {}, {}},
        w1{"after smoothing", {}, {}};
    for (long c = 0; c < act.size(); ++c) {
      a0.x.push_back(double(c));
      a0.y.push_back(act[c]);
      a1.x.push_back(double(c));
      a1.y.push_back(act_after[c]);
      w0.x.push_back(double(c));
      w0.y.push_back(w_before[c]);
      w1.x.push_back(double(c));
      w1.y.push_back(w_after[c]);
      csv.rows.push_back({std::to_string(c), format_number(act[c]), format_number(act_after[c]),
                          format_number(w_before[c]), format_number(w_after[c]), format_number(s[c])});
    }
    pa.series = {a0, a1};
    pw.series = {w0, w1};
    std::string text = to_csv(csv);
    for (const std::string& p : provenance) text += "# " + p + "\n";
    text += "# group: " + group.norm + " -> " + group.layers.front() + " ...; alpha " + format_number(alpha, 3) + "\n";
    write_file_atomic(out + "/figure2.csv", text);
    write_file_atomic(out + "/figure2_activation.svg", render_svg(pa));
    write_file_atomic(out + "/figure2_weight.svg", render_svg(pw));
  }
  std::ostringstream js;
  js << "{\n  \"command\": \"" << json_escape(command) << "\",\n  \"git_commit\": \"" << json_escape(git_commit())
     << "\",\n  \"libraries\": {" << library_versions_json() << "},\n  \"provenance\": [";
  for (size_t i = 0; i < provenance.size(); ++i) js << (i ? ", " : "") << "\"" << json_escape(provenance[i]) << "\"";
  js << "]\n}\n";
  write_file_atomic(out + "/summary.json", js.str());
  std::fprintf(stderr, "paper-tables: done, reports in %s\n", out.c_str());
  return 0;
}

}  // namespace sqsim::cli
