#include "experiments/ppl_job.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "experiments/csv.h"
#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "experiments/json_writer.h"
#include "experiments/kl_job.h"
#include "experiments/model_quant_options.h"
#include "experiments/ppl_ranks.h"
#include "experiments/sha256.h"

namespace sqsim::cli {

std::vector<AlphaChoice> alpha_choices(const std::string& text, const std::string& grid, const std::string& option) {
  std::vector<AlphaChoice> choices;
  if (text == "search" || text == "per-layer") {
    AlphaChoice a;
    a.kind = text == "search" ? AlphaChoice::kGlobalSearch : AlphaChoice::kPerLayerSearch;
    a.grid = parse_alpha_grid(grid, "--alpha-grid");
    choices.push_back(a);
  } else {
    for (float v : parse_alpha_grid(text, option)) {
      AlphaChoice a;
      a.value = v;
      choices.push_back(a);
    }
  }
  return choices;
}

namespace {

std::string alpha_key(const AlphaChoice& a) {
  if (a.kind == AlphaChoice::kGlobalSearch) return "alpha search";
  if (a.kind == AlphaChoice::kPerLayerSearch) return "alpha per-layer";
  return "alpha " + exact(a.value);
}

// The configuration as the progress line shows it: naming the alpha that
// runs (--alpha), not the preset's default.
std::string shown_config(const PplJob& job) {
  ModelQuantConfig shown = job.config;
  const bool one_fixed = job.alphas.size() == 1 && job.alphas[0].kind == AlphaChoice::kFixed;
  if (one_fixed) shown.alpha = job.alphas[0].value;
  return shown.describe() + (shown.smooth && !one_fixed ? " (alpha: see each result)" : "");
}

const char* mode_name(const PplJob& job) {
  return job.eval.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant";
}

void check_job(const PplJob& job) {
  if (job.max_tokens < 0) throw Error("--max-tokens must be >= 0");
  if (job.seq_len < 2) throw Error("--seq-len must be at least 2");
  if (!job.config.smooth && job.alphas.size() > 1) throw Error("--alpha: a list needs a configuration with smoothing");
}

void print_run(const PplJob& job, const QuantRun& r) {
  const char* mode = mode_name(job);
  if (job.json) {
    JsonWriter w(JsonWriter::kOneLine);
    w.begin_object().member("quant", job.config.name).member("alpha", r.alpha_text);
    w.key("ppl").number(r.ppl, "%.6f").key("ppl_stderr").number(r.uncertainty.ppl.stderr_, "%.6f");
    w.key("mean_nll").number(r.mean_nll, "%.6f").key("nll_stderr").number(r.uncertainty.nll.stderr_, "%.6g");
    w.member("stderr_estimator", estimator_name(r.uncertainty.estimator));
    w.member("tokens", r.tokens).member("windows", r.windows).member("seq_len", job.seq_len).member("mode", mode);
    w.member("integer_layers", r.integer_layers).member("quantized_layers", r.quantized_layers);
    std::printf("%s\n", w.key("seconds").number(r.seconds, "%.3f").end_object().str().c_str());
  } else {
    std::printf("%s alpha %s: perplexity %.6f ± %.6f (mean nll %.6f ± %.6f, %s stderr) over %zu windows of %d "
                "tokens, %zu/%d layers quantized/integer, %.1f s\n",
                job.config.name.c_str(), r.alpha_text.c_str(), r.ppl, r.uncertainty.ppl.stderr_, r.mean_nll,
                r.uncertainty.nll.stderr_, estimator_name(r.uncertainty.estimator), r.windows, job.seq_len,
                r.quantized_layers, r.integer_layers, r.seconds);
  }
  std::fflush(stdout);
}

// Prints each run (unless already printed) and writes results.csv (+
// alpha_per_layer.csv) when --out is given.
void write_results(const PplJob& job, const std::vector<QuantRun>& results, bool print = true) {
  const char* mode = mode_name(job);
  CsvTable table{{"quant", "alpha", "ppl", "ppl_stderr", "stderr_estimator", "mean_nll", "tokens", "windows",
                  "seq_len", "mode", "seconds"},
                 {}};
  CsvTable per_layer{{"quant", "group", "alpha"}, {}};
  for (const QuantRun& r : results) {
    if (print) print_run(job, r);
    table.rows.push_back({job.config.name, r.alpha_text, significant(r.ppl, 8),
                          significant(r.uncertainty.ppl.stderr_, 6), estimator_name(r.uncertainty.estimator),
                          significant(r.mean_nll, 8), std::to_string(r.tokens), std::to_string(r.windows),
                          std::to_string(job.seq_len), mode, significant(r.seconds, 8)});
    for (const auto& [g, al] : r.alpha_per_group) per_layer.rows.push_back({job.config.name, g, significant(al, 8)});
  }
  const std::string& out = job.output.out;
  if (!out.empty()) {
    write_file_atomic(out + "/results.csv", to_csv(table));
    if (!per_layer.rows.empty()) write_file_atomic(out + "/alpha_per_layer.csv", to_csv(per_layer));
  }
}

// The job on the ranks of an MPI run (docs/mpi.md): every rank loads the
// model and the text itself; the windows of all α are split across ranks
// (ranked_perplexities); rank 0 prints and writes what one process would.
int run_ppl_ranks(const PplJob& job, const Ranks& ranks) {
  std::unique_ptr<QuantEvaluator> ev;
  std::vector<int32_t> ids;
  std::string settings;
  ranks.all_or_none([&] {
    check_job(job);
    EvalOptions eo = job.eval;
    eo.quiet = eo.quiet || !ranks.root();  // one rank's progress is enough
    ev = std::make_unique<QuantEvaluator>(eo);
    ids = ev->tokenize_file(job.text, job.max_tokens);
    settings = "model sha256 " + sha256_file(job.eval.model_path) + "\ntext tokens " + std::to_string(ids.size()) +
               "\n" + job.settings;
  });
  require_same(ranks, "ppl settings", settings);
  const std::string& out = job.output.out;
  ranks.all_or_none([&] {
    if (!ranks.root() || out.empty()) return;
    prepare_output_dir(job.output, true);
    if (!job.output.resume) RankJournal::clear(ranks, out);
  });
  std::unique_ptr<RankJournal> journal;
  ranks.all_or_none([&] {
    if (!out.empty()) journal = std::make_unique<RankJournal>(ranks, out, settings, job.output.resume);
  });
  if (ranks.root())
    std::cerr << "ppl: " << ids.size() << " tokens of " << job.text << "; " << job.config.name << ": "
              << shown_config(job) << "; " << ranks.size() << " ranks x " << threads_text(job.threads) << "\n";
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  std::vector<PplRun> runs;
  for (const AlphaChoice& a : job.alphas) runs.push_back({alpha_key(a), job.config, a, job.config.name});
  RankJournal::Items ordered;
  size_t bytes = 0;
  const std::vector<QuantRun> results =
      ranked_perplexities(ranks, *ev, journal.get(), runs, ids, job.seq_len, &ordered, &bytes);
  if (!ranks.root()) return 0;
  std::cerr << "ppl: gathered " << bytes << " bytes from " << ranks.size() - 1 << " other rank(s)\n";
  write_results(job, results);
  if (journal) journal->finish(ordered);
  return 0;
}

}  // namespace

int run_ppl_job(const PplJob& job) {
  if (!job.kl_base.empty() || !job.kl_base_save.empty()) return run_kl_job(job);
  const Ranks& ranks = Ranks::world();
  // One process finishing an MPI run's journals takes the same path.
  if (ranks.distributed() ||
      (job.output.resume && !job.output.out.empty() && RankJournal::has_rank_files(job.output.out)))
    return run_ppl_ranks(job, ranks);
  check_job(job);
  const std::string& out = job.output.out;
  if (!out.empty()) prepare_output_dir(job.output, true);
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  EvalOptions eo = job.eval;
  // one configuration at one alpha: the float model may become the quantized one
  eo.keep_float_model = job.alphas.size() != 1;
  QuantEvaluator ev(eo);
  const std::vector<int32_t> ids = ev.tokenize_file(job.text, job.max_tokens);
  std::cerr << "ppl: " << ids.size() << " tokens of " << job.text << "; " << job.config.name << ": "
            << shown_config(job) << "\n";
  std::unique_ptr<Journal> journal;
  if (!out.empty())
    journal = std::make_unique<Journal>(out + "/" + Journal::kFileName,
                                        "model sha256 " + sha256_file(job.eval.model_path) + "\ntext tokens " +
                                            std::to_string(ids.size()) + "\n" + job.settings,
                                        job.output.resume);
  std::vector<QuantRun> results;
  for (const AlphaChoice& a : job.alphas) {
    results.push_back(journal ? journaled_run(ev, *journal, alpha_key(a), job.config, a, ids, job.seq_len,
                                              job.config.name)
                              : ev.run(job.config, a, ids, job.seq_len, job.config.name));
    print_run(job, results.back());
  }
  write_results(job, results, /*print=*/false);
  return 0;
}

}  // namespace sqsim::cli
