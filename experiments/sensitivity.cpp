#include "experiments/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "base/error.h"
#include "base/io.h"
#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/kl_job.h"
#include "experiments/provenance.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "experiments/svg_plot.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/quantize_model.h"

namespace sqsim::cli {

namespace {

// "model.layers.12.mlp.up_proj" -> ("model.layers.12", "mlp.up_proj"); no block: ("", name).
std::pair<std::string, std::string> split_block(const std::string& layer) {
  const size_t at = layer.find("layers.");
  if (at == std::string::npos) return {"", layer};
  const size_t dot = layer.find('.', at + 7);
  if (dot == std::string::npos) return {"", layer};
  return {layer.substr(0, dot), layer.substr(dot + 1)};
}

// The input a layer reads, within its block: layers reading the same one share a group.
std::string input_role(const std::string& inner) {
  static const std::pair<const char*, const char*> shared[] = {
      {"self_attn.q_proj", "self_attn.qkv"}, {"self_attn.k_proj", "self_attn.qkv"},
      {"self_attn.v_proj", "self_attn.qkv"}, {"mlp.gate_proj", "mlp.gate_up"}, {"mlp.up_proj", "mlp.gate_up"}};
  for (const auto& [layer, group] : shared)
    if (inner == layer) return group;
  return inner;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string pm(const MeanStderr& m, int digits) { return significant(m.mean, digits) + " ± " + significant(m.stderr_, 2); }

}  // namespace

std::vector<SensitivityUnit> sensitivity_units(const std::vector<std::string>& layers, const std::string& kind) {
  if (kind != "layer" && kind != "group" && kind != "block")
    throw Error("--unit '" + kind + "': expected layer, group or block");
  std::vector<SensitivityUnit> units;
  std::map<std::string, size_t> index;
  for (const std::string& l : layers) {
    const auto [block, inner] = split_block(l);
    std::string name = l;
    if (kind == "block" && !block.empty()) name = block;
    if (kind == "group" && !block.empty()) name = block + "." + input_role(inner);
    const auto it = index.find(name);
    if (it == index.end()) {
      index[name] = units.size();
      units.push_back({name, {l}});
    } else {
      units[it->second].layers.push_back(l);
    }
  }
  return units;
}

std::vector<std::string> score_fields(const SensitivityScore& s) {
  return {exact(s.kl.kl.mean),        exact(s.kl.kl.stderr_), exact(s.kl.median),   exact(s.kl.p99),
          exact(s.kl.max),            exact(s.kl.same_top1.mean), exact(s.kl.same_top1.stderr_),
          exact(s.ppl.mean),          exact(s.ppl.stderr_),   std::to_string(s.kl.tokens), exact(s.seconds)};
}

SensitivityScore score_from_fields(const std::vector<std::string>& f, const std::string& where) {
  if (f.size() != 11) throw Error(where + ": expected 11 fields of a sensitivity score, got " + std::to_string(f.size()));
  const auto n = [&](size_t i, const char* what) { return parse_journal_number(f[i], where + ", " + what); };
  SensitivityScore s;
  s.kl.kl.mean = n(0, "kl");
  s.kl.kl.stderr_ = n(1, "kl stderr");
  s.kl.median = n(2, "kl median");
  s.kl.p99 = n(3, "kl p99");
  s.kl.max = n(4, "kl max");
  s.kl.same_top1.mean = n(5, "same top-1");
  s.kl.same_top1.stderr_ = n(6, "same top-1 stderr");
  s.ppl.mean = n(7, "ppl");
  s.ppl.stderr_ = n(8, "ppl stderr");
  s.kl.tokens = size_t(n(9, "tokens"));
  s.seconds = n(10, "seconds");
  return s;
}

namespace {

struct Run {
  const SensitivityJob& job;
  QuantEvaluator ev;
  std::vector<int32_t> ids;
  size_t windows = 0;
  std::vector<MatrixF> fp_logits;  // per window, computed on first need
  std::unique_ptr<Journal> journal;
  std::string model_digest;  // sha256, once (the report is rewritten after every unit)

  std::vector<int32_t> window(size_t w) const {
    return {ids.begin() + long(w * size_t(job.seq_len)), ids.begin() + long((w + 1) * size_t(job.seq_len))};
  }

  // The preset applied to `layers` only, scored against the float model.
  // With `w8`, those of `layers` keep 8-bit weights (--w8-layers).
  SensitivityScore measure(const std::string& key, const std::vector<std::string>& layers,
                           const std::vector<std::string>& w8 = {}) {
    if (const auto* f = journal->find(key)) return score_from_fields(*f, journal->where(key));
    const auto t0 = std::chrono::steady_clock::now();
    const CausalLm& fp = *ev.float_model().model;
    if (fp_logits.empty())
      for (size_t w = 0; w < windows; ++w) fp_logits.push_back(fp.forward(window(w)));
    ModelQuantConfig c = job.config;
    c.layers = join(layers);
    c.w8_layers = join(w8);
    std::unique_ptr<CausalLm> model = ev.quantized_model(c, {}, nullptr);
    std::vector<TokenKl> all;
    std::vector<double> nll;
    for (size_t w = 0; w < windows; ++w) {
      const std::vector<int32_t> win = window(w);
      const MatrixF q = model->forward(win);
      const std::vector<TokenKl> rows = window_kl(fp_logits[w], q, win);
      all.insert(all.end(), rows.begin(), rows.end());
      const std::vector<double> n = next_token_nll(q, win);
      nll.insert(nll.end(), n.begin(), n.end());
      if (const int sig = interrupt_signal()) throw Interrupted(sig, "stopped between windows of " + key);
    }
    SensitivityScore s;
    s.kl = kl_statistics(all);
    s.ppl = perplexity_from_nll(nll);
    s.seconds = seconds_since(t0);
    journal->append(key, score_fields(s));
    if (!ev.options().quiet)
      std::fprintf(stderr, "sensitivity: %s: KL %.6g ± %.2g, ppl %.4f, %.1f s\n", key.c_str(), s.kl.kl.mean,
                   s.kl.kl.stderr_, s.ppl.mean, s.seconds);
    return s;
  }
};

struct Row {
  const SensitivityUnit* unit;
  SensitivityScore only, all_but;
};

// The float model's perplexity over the budget (journaled as "fp").
double fp_ppl(Run& run) {
  if (const auto* f = run.journal->find("fp")) return parse_journal_number((*f)[0], run.journal->where("fp"));
  const CausalLm& fp = *run.ev.float_model().model;
  std::vector<double> nll;
  for (size_t w = 0; w < run.windows; ++w) {
    const std::vector<int32_t> win = run.window(w);
    const std::vector<double> n =
        next_token_nll(run.fp_logits.empty() ? fp.forward(win) : run.fp_logits[w], win);
    nll.insert(nll.end(), n.begin(), n.end());
  }
  const double p = perplexity_from_nll(nll).mean;
  run.journal->append("fp", {exact(p)});
  return p;
}

// Greedy mixed precision: units kept in float (or at 8 bits) in order of
// their "only" KL until the targets hold; each step measured (and journaled)
// on the whole model.
void mixed_precision(Run& run, const std::vector<Row>& rows, const SensitivityScore& full,
                     const std::vector<std::string>& all) {
  const SensitivityJob& job = run.job;
  const char* kept_as = job.keep_8bit ? "8-bit weights" : "float";
  std::vector<const Row*> ranked;
  for (const Row& r : rows) ranked.push_back(&r);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Row* a, const Row* b) { return a->only.kl.kl.mean > b->only.kl.kl.mean; });
  const double base_ppl = fp_ppl(run);
  const auto meets = [&](const SensitivityScore& s) {
    return (job.target_kl <= 0 || s.kl.kl.mean <= job.target_kl) &&
           (job.target_ppl_ratio <= 0 || s.ppl.mean / base_ppl <= job.target_ppl_ratio);
  };
  ReportTable rt;
  rt.title = "Mixed precision: " + job.config.name + " with the most sensitive " + job.unit + "s in " + kept_as;
  rt.caption = "Greedy by the KL of each " + job.unit + " quantized alone: step k keeps the k most sensitive in " +
               kept_as + " and quantizes the rest as the preset does. Targets: " +
               (job.target_kl > 0 ? "KL <= " + significant(job.target_kl, 4) + " " : std::string()) +
               (job.target_ppl_ratio > 0 ? "ppl / fp <= " + significant(job.target_ppl_ratio, 4) : std::string()) +
               "; float model ppl " + significant(base_ppl, 6) + ".";
  rt.header = {"k", std::string("kept ") + kept_as + " (added)", "layers at the preset's bits", "KL", "ppl", "ppl / fp"};
  std::set<std::string> kept;
  SensitivityScore s = full;
  size_t k = 0;
  std::vector<std::string> rest = all, kept_list;
  for (;; ++k) {
    if (k > 0) {
      for (const std::string& l : ranked[k - 1]->unit->layers) kept.insert(l);
      rest.clear();
      kept_list.clear();
      for (const std::string& l : all) (kept.count(l) ? kept_list : rest).push_back(l);
      if (rest.empty()) break;
      const std::string key = std::string(job.keep_8bit ? "keep-8bit|" : "keep-float|") + std::to_string(k) + "|" +
                              ranked[k - 1]->unit->name;
      s = job.keep_8bit ? run.measure(key, all, kept_list) : run.measure(key, rest);
    }
    rt.rows.push_back({std::to_string(k), k ? ranked[k - 1]->unit->name : "-", std::to_string(rest.size()),
                       pm(s.kl.kl, 4), pm(s.ppl, 5), significant(s.ppl.mean / base_ppl, 4)});
    if (meets(s) || k == ranked.size()) break;
  }
  const bool reached = !rest.empty() && meets(s);
  rt.provenance = {"command: " + job.command, "CPU: " + cpu_model(), "sqsim commit " + git_commit()};
  rt.caption += reached ? " Reached with " + std::to_string(k) + " " + job.unit + "(s) in " + kept_as +
                              ": sqsim ppl --quant mixed_precision.preset."
                        : std::string(" Not reached even with every unit in ") + kept_as + ".";
  write_report_table(rt, job.output.out + "/mixed_precision");
  // The result as a preset file (and, kept in float, as a --layers value).
  std::string preset = "# sqsim sensitivity's mixed precision (" + std::string(reached ? "targets reached" : "targets NOT reached") +
                       "), made by: " + job.command + "\n" + job.preset_lines;
  preset += job.keep_8bit ? "layers = " + join(all) + "\n" + (kept_list.empty() ? "" : "w8-layers = " + join(kept_list) + "\n")
                          : "layers = " + join(rest) + "\n";
  if (!rest.empty()) write_file_atomic(job.output.out + "/mixed_precision.preset", preset);
  write_file_atomic(job.output.out + "/mixed_precision.layers",
                    reached && !job.keep_8bit ? join(rest) + "\n" : std::string());
  std::fprintf(stderr, "sensitivity: mixed precision %s with %zu %s(s) in %s\n", reached ? "reached" : "not reached",
               k, job.unit.c_str(), kept_as);
}

void write_report(Run& run, const std::vector<Row>& rows, const SensitivityScore& full) {
  const SensitivityJob& job = run.job;
  std::vector<const Row*> ranked;
  for (const Row& r : rows) ranked.push_back(&r);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Row* a, const Row* b) { return a->only.kl.kl.mean > b->only.kl.kl.mean; });
  ReportTable rt;
  rt.title = "Sensitivity of " + job.config.name + " by " + job.unit;
  rt.caption = "KL(p_fp || p_quant) per token (mean ± stderr over " + std::to_string(full.kl.tokens) +
               " scored tokens) and perplexity ± stderr (docs/statistics.md) when " + job.config.name + " (" +
               job.config.describe() + ") quantizes only this " + job.unit + " (the rest float)" +
               (job.reverse ? ", and every selected layer but this " + job.unit : std::string()) +
               "; ranked by the first. Everything quantized: KL " + pm(full.kl.kl, 4) + ", ppl " + pm(full.ppl, 5) +
               ". One calibration for every unit.";
  rt.header = {"rank", "unit", "layers", "KL (only)", "same top-1 (only)", "ppl (only)"};
  if (job.reverse) {
    rt.header.push_back("KL (all but)");
    rt.header.push_back("ppl (all but)");
  }
  for (size_t i = 0; i < ranked.size(); ++i) {
    const Row& r = *ranked[i];
    std::vector<std::string> row = {std::to_string(i + 1), r.unit->name, std::to_string(r.unit->layers.size()),
                                    pm(r.only.kl.kl, 4), significant(r.only.kl.same_top1.mean, 4),
                                    pm(r.only.ppl, 5)};
    if (job.reverse) {
      row.push_back(pm(r.all_but.kl.kl, 4));
      row.push_back(pm(r.all_but.ppl, 5));
    }
    rt.rows.push_back(row);
  }
  rt.provenance = {"command: " + job.command, "model: " + job.eval.model_path + " (sha256 " +
                   run.model_digest + ")",
                   "text: " + job.text + ", " + std::to_string(run.ids.size()) + " tokens in " +
                       std::to_string(run.windows) + " windows of " + std::to_string(job.seq_len),
                   "CPU: " + cpu_model(), "sqsim commit " + git_commit()};
  write_report_table(rt, job.output.out + "/sensitivity");

  Plot plot;
  plot.title = "Sensitivity of " + job.config.name + " by " + job.unit;
  plot.x_label = job.unit + " (model order)";
  plot.y_label = "mean KL vs float (nats)";
  plot.log_y = true;
  PlotSeries only{"only this " + job.unit + " quantized", {}, {}}, but{"all but this " + job.unit, {}, {}};
  for (size_t i = 0; i < rows.size(); ++i) {
    only.x.push_back(double(i));
    only.y.push_back(std::max(rows[i].only.kl.kl.mean, 1e-9));
    if (job.reverse) {
      but.x.push_back(double(i));
      but.y.push_back(std::max(rows[i].all_but.kl.kl.mean, 1e-9));
    }
  }
  plot.series.push_back(only);
  if (job.reverse) plot.series.push_back(but);
  write_file_atomic(job.output.out + "/sensitivity.svg", render_svg(plot));
}

}  // namespace

int run_sensitivity_job(const SensitivityJob& job) {
  if (job.seq_len < 2) throw Error("--seq-len must be at least 2");
  if (job.max_tokens < job.seq_len) throw Error("--max-tokens must hold at least one window of --seq-len");
  if (job.output.out.empty()) throw Error("--out: sensitivity needs an output directory");
  if (!job.config.quantizes_anything()) throw Error("--quant " + job.config.name + ": quantizes nothing");
  sensitivity_units({}, job.unit);  // refuses a bad --unit before any work
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  EvalOptions eo = job.eval;
  if (eo.calib_cache.empty()) eo.calib_cache = job.output.out + "/calibration.bin";  // a --resume skips recalibrating
  Run run{job, QuantEvaluator(eo), {}, 0, {}, nullptr, {}};
  const std::vector<SensitivityUnit> units =
      sensitivity_units(selected_layers(*run.ev.float_model().model, job.config), job.unit);
  prepare_output_dir(job.output, true);
  run.ids = run.ev.tokenize_file(job.text, job.max_tokens);
  run.windows = run.ids.size() / size_t(job.seq_len);
  if (run.windows == 0) throw Error("--text " + job.text + ": fewer tokens than one window");
  run.ids.resize(run.windows * size_t(job.seq_len));
  run.model_digest = model_sha256(job.eval.model_path);
  run.journal = std::make_unique<Journal>(job.output.out + "/" + Journal::kFileName,
                                          "model sha256 " + run.model_digest + "\ntext tokens " +
                                              std::to_string(run.ids.size()) + "\n" + job.settings,
                                          job.output.resume);
  std::fprintf(stderr, "sensitivity: %zu %ss of %s, %zu tokens (%zu windows of %d)\n", units.size(),
               job.unit.c_str(), job.config.name.c_str(), run.ids.size(), run.windows, job.seq_len);
  std::vector<std::string> all;
  for (const SensitivityUnit& u : units) all.insert(all.end(), u.layers.begin(), u.layers.end());
  const SensitivityScore full = run.measure("all", all);
  std::vector<Row> rows;
  for (const SensitivityUnit& u : units) {
    Row r{&u, run.measure("only|" + u.name, u.layers), {}};
    if (job.reverse) {
      std::vector<std::string> rest;
      for (const std::string& l : all)
        if (std::find(u.layers.begin(), u.layers.end(), l) == u.layers.end()) rest.push_back(l);
      r.all_but = rest.empty() ? SensitivityScore{} : run.measure("all-but|" + u.name, rest);
    }
    rows.push_back(r);
    write_report(run, rows, full);  // partial tables appear as units complete
  }
  std::printf("%s", read_file(job.output.out + "/sensitivity.md").c_str());
  if (job.target_kl > 0 || job.target_ppl_ratio > 0) {
    mixed_precision(run, rows, full, all);
    std::printf("\n%s", read_file(job.output.out + "/mixed_precision.md").c_str());
  }
  return 0;
}

}  // namespace sqsim::cli
