#include "experiments/quant_eval.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "base/io.h"
#include "experiments/sha256.h"
#include "base/error.h"
#include "base/io.h"
#include "experiments/calibration_ranks.h"
#include "sim/eval/calibration_file.h"
#include "sim/eval/weight_search_file.h"

namespace sqsim::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt_alpha(float a) { return significant(a, 6); }

void check_interrupt() {
  // Between windows: main() turns this into exit status 128 + signal.
  if (const int sig = interrupt_signal()) throw Interrupted(sig, "stopped between windows; nothing more was measured");
}

}  // namespace

QuantEvaluator::QuantEvaluator(EvalOptions options) : opt_(std::move(options)) {
  base_ = std::make_unique<LoadedModel>(load_model(opt_.model_path));
}

std::vector<int32_t> QuantEvaluator::tokenize_file(const std::string& path, long max_tokens) const {
  std::vector<int32_t> ids = tokenize_document(*base_, read_text_file(path));
  if (max_tokens > 0 && ids.size() > size_t(max_tokens)) ids.resize(size_t(max_tokens));
  return ids;
}

const std::vector<int32_t>& QuantEvaluator::holdout_ids() {
  calibration();
  return holdout_;
}

std::vector<std::vector<int32_t>> QuantEvaluator::calibration_windows() {
  split_calibration_text();
  return sqsim::calibration_windows(calib_ids_, opt_.calib_seq_len, opt_.calib_samples);
}

std::string QuantEvaluator::calibration_cache_key() const {
  if (opt_.calib_cache.empty()) return "";
  return "model sha256 " + sha256_file(opt_.model_path) + "\ncalibration text sha256 " +
         sha256_file(opt_.calib_text) + "\nwindows " + std::to_string(opt_.calib_samples) + " x " +
         std::to_string(opt_.calib_seq_len) + " seed 0, holdout " + std::to_string(opt_.holdout_tokens) +
         ", sample rows " + std::to_string(opt_.sample_rows) + "\n";
}

bool QuantEvaluator::read_calibration_cache(const std::string& key) {
  CalibrationStats cached;
  if (key.empty() || !read_calibration_file(opt_.calib_cache, key, &cached)) return false;
  if (!opt_.quiet) std::fprintf(stderr, "calibration: read from %s\n", opt_.calib_cache.c_str());
  stats_ = std::make_unique<CalibrationStats>(std::move(cached));
  return true;
}

const CalibrationStats& QuantEvaluator::calibration() { return calibration(Ranks::single()); }

const CalibrationStats& QuantEvaluator::calibration(const Ranks& ranks) {
  if (stats_) return *stats_;
  std::string key;
  bool cached = false;
  ranks.all_or_none([&] {
    split_calibration_text();
    key = calibration_cache_key();
    cached = read_calibration_cache(key);
  });
  // Every rank calibrates unless every rank read the cache (a rank that
  // cannot see the file joins the others).
  if (ranks.max(cached ? 0 : 1) == 0) return *stats_;
  const auto windows = calibration_windows();
  CalibrationOptions co;
  co.sample_rows = opt_.sample_rows;
  const auto t0 = std::chrono::steady_clock::now();
  co.progress = [&](size_t done, size_t all) {
    check_interrupt();
    if (!opt_.quiet && (done % 16 == 0 || done == all))
      std::fprintf(stderr, "calibration: %zu/%zu windows of %d tokens%s, %.0f s\n", done, all, opt_.calib_seq_len,
                   ranks.distributed() ? " (this rank's share)" : "", seconds_since(t0));
  };
  stats_ = std::make_unique<CalibrationStats>(calibrate_on_ranks(ranks, *base_->model, windows, co));
  if (!key.empty() && ranks.root()) write_file_atomic(opt_.calib_cache, calibration_file_bytes(key, *stats_));
  return *stats_;
}

void QuantEvaluator::split_calibration_text() {
  if (!calib_ids_.empty()) return;
  if (opt_.calib_text.empty())
    throw Error("--calib-text: smoothing, static scales, alpha and weight searches need calibration text");
  std::vector<int32_t> ids = tokenize_file(opt_.calib_text);
  if (long(ids.size()) < opt_.holdout_tokens + opt_.calib_seq_len)
    throw Error("--calib-text " + opt_.calib_text + ": " + std::to_string(ids.size()) +
                " tokens, fewer than the held-out tail (" + std::to_string(opt_.holdout_tokens) +
                ") plus one calibration window");
  holdout_.assign(ids.end() - opt_.holdout_tokens, ids.end());
  calib_ids_.assign(ids.begin(), ids.end() - opt_.holdout_tokens);
}

const WeightSearchResult& QuantEvaluator::weight_search(const ModelQuantConfig& config) {
  const std::string method = weight_method_name(config.weight_method);
  const std::string key = method + "|" + config.describe();
  if (const auto it = searches_.find(key); it != searches_.end()) return *it->second;
  split_calibration_text();
  std::string file, file_key;
  if (!opt_.search_cache.empty()) {
    file = opt_.search_cache + "/" + config.name + ".search";
    file_key = "model sha256 " + sha256_file(opt_.model_path) + "\ncalibration text sha256 " +
               sha256_file(opt_.calib_text) + "\nsearch windows " + std::to_string(opt_.search_windows) + " x " +
               std::to_string(opt_.calib_seq_len) + " seed 0, holdout " + std::to_string(opt_.holdout_tokens) +
               ", rows " + std::to_string(opt_.search_rows) + "\nmode " +
               (opt_.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") + "\nquant " +
               config.name + ": " + config.describe() + "\n";
    WeightSearchResult saved;
    if (read_weight_search_file(file, file_key, &saved)) {
      if (!opt_.quiet) std::fprintf(stderr, "%s search: read from %s\n", method.c_str(), file.c_str());
      return *(searches_[key] = std::make_unique<WeightSearchResult>(std::move(saved)));
    }
  }
  // (one calibration per kind of statistics: sequential GPTQ keeps none)
  const bool gptq_float = config.weight_method == ModelQuantConfig::WeightMethod::kGptq &&
                          config.gptq_inputs == ModelQuantConfig::GptqInputs::kFloat;
  auto& cal = weight_cal_[method + (config.act.enabled() ? "+a" : "") + (gptq_float ? "+float" : "")];
  if (!cal) {
    const auto windows = sqsim::calibration_windows(calib_ids_, opt_.calib_seq_len, opt_.search_windows);
    WeightCalibrationOptions co = weight_calibration_needs(config, opt_.search_rows);
    const auto t0 = std::chrono::steady_clock::now();
    co.progress = [&](size_t done, size_t all) {
      check_interrupt();
      if (!opt_.quiet && (done % 8 == 0 || done == all))
        std::fprintf(stderr, "%s calibration: %zu/%zu windows of %d tokens, %.0f s\n", method.c_str(), done, all,
                     opt_.calib_seq_len, seconds_since(t0));
    };
    cal = std::make_unique<WeightCalibration>(
        calibrate_weight_search(*base_->model, selected_layers(*base_->model, config), windows, co));
    if (!opt_.quiet)
      std::fprintf(stderr, "%s calibration: %.1f s (%d windows x %d tokens)\n", method.c_str(), seconds_since(t0),
                   opt_.search_windows, opt_.calib_seq_len);
  }
  const auto t0 = std::chrono::steady_clock::now();
  WeightSearchOptions so;
  so.mode = opt_.mode;
  so.path = opt_.path;
  so.warn = [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); };
  so.progress = [&](size_t done, size_t all) {
    check_interrupt();
    if (!opt_.quiet && (done % 30 == 0 || done == all))
      std::fprintf(stderr, "%s search: %zu/%zu, %.0f s\n", method.c_str(), done, all, seconds_since(t0));
  };
  auto r = std::make_unique<WeightSearchResult>(
      search_weights(*base_->model, config, selected_layers(*base_->model, config), *cal, so));
  if (!opt_.quiet) {
    std::fprintf(stderr, "%s search: %.1f s\n", method.c_str(), seconds_since(t0));
    for (const AwqGroupScale& g : r->awq_scales) {
      std::string layers;
      for (const std::string& n : g.layers) layers += (layers.empty() ? "" : ",") + n;
      std::fprintf(stderr, "awq ratio: %s -> %s %s=%s\n", g.prev.c_str(), layers.c_str(),
                   g.smoothquant_form ? "alpha" : "r", significant(g.ratio, 6).c_str());
    }
  }
  if (!file.empty()) {
    write_file_atomic(file, weight_search_file_bytes(file_key, *r));
    if (!opt_.quiet) std::fprintf(stderr, "%s search: saved to %s\n", method.c_str(), file.c_str());
  }
  return *(searches_[key] = std::move(r));
}

bool QuantEvaluator::needs_calibration(const ModelQuantConfig& c) const {
  return c.smooth || (c.act.enabled() && c.act.source == ScaleSource::kStatic);
}

std::unique_ptr<CausalLm> QuantEvaluator::quantized_model(const ModelQuantConfig& config,
                                                          const std::map<std::string, float>& alpha_per_group,
                                                          QuantizeModelReport* report) {
  const CalibrationStats* stats = needs_calibration(config) ? &calibration() : nullptr;
  QuantizeModelOptions qo;
  qo.mode = opt_.mode;
  qo.path = opt_.path;
  qo.alpha_per_group = alpha_per_group;
  if (config.weight_method != ModelQuantConfig::WeightMethod::kRtn) qo.weight_search = &weight_search(config);
  // Calibration restores the float model it runs, so quantizing it in place
  // gives a fresh copy's bits; later calls (an alpha search) load fresh.
  std::unique_ptr<CausalLm> model =
      !opt_.keep_float_model && base_->model ? std::move(base_->model) : load_model(opt_.model_path).model;
  QuantizeModelReport r;
  if (config.quantizes_anything()) r = quantize_model(*model, config, stats, qo);
  if (report) *report = r;
  return model;
}

PerplexityResult QuantEvaluator::measure(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                                         const std::string& label, const WindowJournal& journal) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!opt_.quiet && !journal.known.empty())
    std::fprintf(stderr, "%s: %zu windows from the journal\n", label.c_str(), journal.known.size());
  return perplexity(
      m, ids, seq_len,
      [&](size_t w, size_t n, const WindowNll& nll) {
        if (journal.on_window) journal.on_window(w, nll);
        if (!opt_.quiet)
          std::fprintf(stderr, "%s: window %zu/%zu nll %.6f, %.1f s\n", label.c_str(), w + 1, n, nll.mean,
                       seconds_since(t0));
        check_interrupt();
      },
      journal.known);
}

QuantEvaluator::Prepared QuantEvaluator::prepare(const ModelQuantConfig& config, const AlphaChoice& alpha,
                                                 const std::string& label) {
  QuantRun out;
  ModelQuantConfig c = config;
  if (!c.smooth) {
    out.alpha_text = "-";
  } else if (alpha.kind == AlphaChoice::kFixed) {
    c.alpha = alpha.value;
    out.alpha_text = fmt_alpha(alpha.value);
  } else if (alpha.kind == AlphaChoice::kGlobalSearch) {
    // One α for the whole model: the lowest perplexity on the held-out tail.
    const std::vector<int32_t>& held = holdout_ids();
    double best = std::numeric_limits<double>::infinity();
    for (float a : alpha.grid) {
      ModelQuantConfig t = c;
      t.alpha = a;
      const auto m = quantized_model(t, {}, nullptr);
      const double p = measure(*m, held, opt_.calib_seq_len, label + " search alpha=" + fmt_alpha(a)).ppl;
      out.global_search.emplace_back(a, p);
      if (!opt_.quiet) std::fprintf(stderr, "%s: alpha %s held-out ppl %.4f\n", label.c_str(), fmt_alpha(a).c_str(), p);
      if (p < best) {
        best = p;
        c.alpha = a;
      }
    }
    out.alpha_text = "search: " + fmt_alpha(*c.alpha);
  } else {
    const CalibrationStats& stats = calibration();  // restores the float model it runs
    out.alpha_per_group = search_alpha_per_group(*base_->model, c, stats, alpha.grid,
                                                 QuantizeModelOptions{opt_.mode, opt_.path, {}});
    out.alpha_text = "per-layer";
  }
  // The float model needs no fresh copy: calibration restores it after use.
  std::unique_ptr<CausalLm> model;
  if (c.quantizes_anything()) {
    QuantizeModelReport report;
    model = quantized_model(c, out.alpha_per_group, &report);
    out.quantized_layers = report.quantized.size();
    out.integer_layers = report.integer_layers;
  }
  return {std::move(model), std::move(out)};
}

QuantRun QuantEvaluator::run(const ModelQuantConfig& config, const AlphaChoice& alpha, const std::vector<int32_t>& ids,
                             int seq_len, const std::string& label, const WindowJournal& journal) {
  const auto t0 = std::chrono::steady_clock::now();
  Prepared p = prepare(config, alpha, label);
  QuantRun& out = p.head;
  const PerplexityResult r = measure(model_of(p), ids, seq_len, label, journal);
  out.ppl = r.ppl;
  out.mean_nll = r.mean_nll;
  out.tokens = r.tokens;
  out.windows = r.windows;
  out.uncertainty = ppl_uncertainty(r.window_nll, r.window_sumsq, size_t(seq_len - 1));
  out.seconds = seconds_since(t0);
  return out;
}

// A journaled result: alpha_text, ppl, mean_nll, tokens, windows, quantized
// and integer layers, "group=alpha ..." of a per-layer search, seconds (last).
std::vector<std::string> quant_run_fields(const QuantRun& r) {
  std::string groups;
  for (const auto& [g, a] : r.alpha_per_group) groups += (groups.empty() ? "" : " ") + g + "=" + exact(a);
  return {r.alpha_text,          exact(r.ppl),          exact(r.mean_nll),
          std::to_string(r.tokens), std::to_string(r.windows), std::to_string(r.quantized_layers),
          std::to_string(r.integer_layers), groups, exact(r.seconds)};
}

QuantRun quant_run_from_fields(const std::vector<std::string>& f, const std::string& where) {
  if (f.size() != 9) throw Error(where + ": expected 9 fields of a perplexity, got " + std::to_string(f.size()));
  QuantRun r;
  r.from_journal = true;
  r.alpha_text = f[0];
  r.ppl = parse_journal_number(f[1], where + ", ppl");
  r.mean_nll = parse_journal_number(f[2], where + ", mean_nll");
  r.tokens = size_t(parse_journal_number(f[3], where + ", tokens"));
  r.windows = size_t(parse_journal_number(f[4], where + ", windows"));
  r.quantized_layers = size_t(parse_journal_number(f[5], where + ", quantized layers"));
  r.integer_layers = int(parse_journal_number(f[6], where + ", integer layers"));
  for (size_t start = 0; start < f[7].size();) {
    size_t end = f[7].find(' ', start);
    if (end == std::string::npos) end = f[7].size();
    const std::string item = f[7].substr(start, end - start);
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos) throw Error(where + ": expected group=alpha, got '" + item + "'");
    r.alpha_per_group[item.substr(0, eq)] = float(parse_journal_number(item.substr(eq + 1), where + ", alpha"));
    start = end + 1;
  }
  r.seconds = parse_journal_number(f[8], where + ", seconds");
  return r;
}


std::string window_key(const std::string& key, size_t w) { return key + "|window " + std::to_string(w); }

std::vector<std::string> window_fields(const WindowNll& nll, double seconds) {
  return {exact(nll.mean), exact(nll.sumsq), exact(seconds)};  // seconds last, as in every journal line
}

WindowNll window_from_fields(const std::vector<std::string>& f, const std::string& where, double* seconds) {
  if (f.size() != 2 && f.size() != 3) throw Error(where + ": expected nll, [sum of squared nll,] seconds of a window");
  WindowNll w;
  w.mean = parse_journal_number(f[0], where + ", nll");
  if (f.size() == 3) w.sumsq = parse_journal_number(f[1], where + ", sum of squared nll");
  if (seconds) *seconds = parse_journal_number(f.back(), where + ", seconds");
  return w;
}

PplUncertainty windows_uncertainty(const std::function<const std::vector<std::string>*(const std::string&)>& find,
                                   const std::string& key, size_t windows, int seq_len) {
  std::vector<double> nll, sumsq;
  for (size_t w = 0; w < windows; ++w) {
    const std::vector<std::string>* f = find(window_key(key, w));
    if (!f) return {};
    const WindowNll x = window_from_fields(*f, window_key(key, w), nullptr);
    nll.push_back(x.mean);
    sumsq.push_back(x.sumsq);
  }
  return ppl_uncertainty(nll, sumsq, size_t(seq_len - 1));
}

namespace {

template <class J>
QuantRun journaled_run_in(QuantEvaluator& ev, J& journal, const std::string& key, const ModelQuantConfig& config,
                       const AlphaChoice& alpha, const std::vector<int32_t>& ids, int seq_len, const std::string& label) {
  const auto find = [&](const std::string& k) { return journal.find(k); };
  if (const auto* fields = journal.find(key)) {
    QuantRun r = quant_run_from_fields(*fields, journal.where(key));
    r.uncertainty = windows_uncertainty(find, key, r.windows, seq_len);
    return r;
  }
  // Only the unbroken prefix of windows 0, 1, 2, ... is usable.
  WindowJournal wj;
  double known_seconds = 0;
  for (const std::vector<std::string>* f; (f = journal.find(window_key(key, wj.known.size())));) {
    double s = 0;
    wj.known.push_back(window_from_fields(*f, journal.where(window_key(key, wj.known.size())), &s));
    known_seconds += s;
  }
  auto last = std::chrono::steady_clock::now();
  wj.on_window = [&](size_t w, const WindowNll& nll) {
    const auto now = std::chrono::steady_clock::now();
    journal.append(window_key(key, w), window_fields(nll, seconds_since(last)));
    last = now;
  };
  QuantRun r = ev.run(config, alpha, ids, seq_len, label, wj);
  r.seconds += known_seconds;
  journal.append(key, quant_run_fields(r));
  return r;
}

}  // namespace

QuantRun journaled_run(QuantEvaluator& ev, Journal& journal, const std::string& key, const ModelQuantConfig& config,
                       const AlphaChoice& alpha, const std::vector<int32_t>& ids, int seq_len, const std::string& label) {
  return journaled_run_in(ev, journal, key, config, alpha, ids, seq_len, label);
}

QuantRun journaled_run(QuantEvaluator& ev, RankJournal& journal, const std::string& key,
                       const ModelQuantConfig& config, const AlphaChoice& alpha, const std::vector<int32_t>& ids,
                       int seq_len, const std::string& label) {
  return journaled_run_in(ev, journal, key, config, alpha, ids, seq_len, label);
}

}  // namespace sqsim::cli
