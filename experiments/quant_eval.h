#pragma once
// Perplexity of quantized models, the way `sqsim ppl` and `sqsim paper-tables`
// need it: a float model loaded from its file for every configuration (so no
// configuration sees another's smoothing), calibration run once on text that
// is never evaluated, and the two α searches of the issue: one global α by
// perplexity on a held-out tail of the calibration text, and a per-layer α by
// each smoothing group's output error on calibration rows.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "experiments/journal.h"
#include "experiments/rank_journal.h"
#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"
#include "quant/model_quant_config.h"
#include "sim/eval/calibration.h"
#include "sim/eval/perplexity.h"
#include "experiments/ranks.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/load_model.h"

namespace sqsim::cli {

struct EvalOptions {
  std::string model_path;
  std::string calib_text;   // empty: configurations that need calibration are refused
  int calib_samples = 512;  // windows of calib_seq_len drawn from the calibration part
  int calib_seq_len = 512;
  long holdout_tokens = 16384;  // the tail of the calibration text, for the global α search only
  long sample_rows = 512;       // input rows kept per layer for the per-layer α search
  kernels::EmulationMode mode = kernels::EmulationMode::kInteger;
  kernels::KernelPath path = kernels::KernelPath::kAuto;
  bool quiet = false;  // no per-window progress on stderr
  // When set: calibration statistics are read from this file if it holds
  // those of the same model, text and settings, else computed and written
  // there (sim/eval/calibration_file.h). Bit-identical either way.
  std::string calib_cache;
  // GPTQ and AWQ: their own calibration pass (sim/eval/weight_calibration.h)
  // over search_windows windows of calib_seq_len, AWQ keeping search_rows rows.
  int search_windows = 64;
  long search_rows = 512;
  // When set: a directory of saved searches, <dir>/<preset>.search
  // (sim/eval/weight_search_file.h): read when its key matches, refused when
  // it was made from another model, calibration or setting, written otherwise.
  std::string search_cache;
  // False for a run that needs the float model no more once a quantized one
  // is built (one `sqsim ppl` configuration): the first quantized model is
  // the float model itself, quantized in place, after calibration and the
  // weight search have read it, so the process never holds two models
  // (docs/memory.md); float_model() is then unusable.
  bool keep_float_model = true;
};

// How α is chosen for one run.
struct AlphaChoice {
  enum Kind { kFixed, kGlobalSearch, kPerLayerSearch } kind = kFixed;
  float value = 0.5f;        // kFixed
  std::vector<float> grid;   // the searches
};

struct QuantRun {
  double ppl = 0, mean_nll = 0;
  size_t tokens = 0, windows = 0;
  double seconds = 0;
  std::string alpha_text;  // "0.5", "search: 0.65", "per-layer", "-" without smoothing
  std::map<std::string, float> alpha_per_group;  // per-layer search result
  std::vector<std::pair<float, double>> global_search;  // (α, held-out ppl)
  size_t quantized_layers = 0;  // layers replaced by QuantizedLinear
  int integer_layers = 0;       // of those, how many run the integer kernels
  bool from_journal = false;    // read back, not measured by this process
  // ppl ± stderr and which estimator gave it (docs/statistics.md): from the
  // windows measured, or read back from the journal's window lines.
  PplUncertainty uncertainty;
};

// A run that continues an interrupted one: the windows already measured, and
// a callback after every new window (to journal it).
struct WindowJournal {
  std::vector<WindowNll> known;  // windows 0..known.size()-1, in order
  std::function<void(size_t window, const WindowNll& nll)> on_window;
};

class QuantEvaluator {
 public:
  explicit QuantEvaluator(EvalOptions options);

  // Token ids of a text file (CRLF -> LF, BOS when the model asks), cut to
  // max_tokens when > 0.
  std::vector<int32_t> tokenize_file(const std::string& path, long max_tokens = 0) const;

  // The token windows calibration runs the float model over: calib_samples
  // windows of calib_seq_len drawn from the calibration text without its
  // held-out tail (sim/eval/calibration.h).
  std::vector<std::vector<int32_t>> calibration_windows();
  // Calibration statistics of the float model (computed on first use).
  const CalibrationStats& calibration();
  // The same, computed once for the whole MPI job with the windows split over
  // its ranks (experiments/calibration_ranks.h). Collective: every rank calls
  // it at the same point (before the ranks go separate ways), and later
  // calibration() calls find the result. One process: calibration().
  const CalibrationStats& calibration(const Ranks& ranks);
  // The held-out tail of the calibration text.
  const std::vector<int32_t>& holdout_ids();
  // GPTQ's or AWQ's search for `config` (computed on first use per method,
  // weight spec and settings), with the seconds its calibration and search took.
  const WeightSearchResult& weight_search(const ModelQuantConfig& config);

  // A freshly loaded float model with `config` applied.
  std::unique_ptr<CausalLm> quantized_model(const ModelQuantConfig& config,
                                            const std::map<std::string, float>& alpha_per_group,
                                            QuantizeModelReport* report);

  // The first half of run(): α chosen as asked (searches included) and the
  // configuration applied; `model` null means the float model (float_lm()).
  // An MPI run (docs/mpi.md) prepares on every rank that measures windows.
  struct Prepared {
    std::unique_ptr<CausalLm> model;
    QuantRun head;  // alpha_text, alpha_per_group, global_search, layer counts
  };
  Prepared prepare(const ModelQuantConfig& config, const AlphaChoice& alpha, const std::string& label);
  const CausalLm& model_of(const Prepared& p) const {
    if (!p.model && !base_->model) throw Error("the float model was quantized in place (keep_float_model false)");
    return p.model ? *p.model : *base_->model;
  }

  // Chooses α as asked, quantizes, and measures perplexity of ids in windows of seq_len.
  QuantRun run(const ModelQuantConfig& config, const AlphaChoice& alpha, const std::vector<int32_t>& ids,
               int seq_len, const std::string& label, const WindowJournal& journal = {});

  const EvalOptions& options() const { return opt_; }
  // Whether `c` needs calibration statistics (smoothing or static scales).
  bool needs_calibration(const ModelQuantConfig& c) const;
  const LoadedModel& float_model() const { return *base_; }

 private:
  // Tokenizes the calibration text once into calib_ids_ and holdout_.
  void split_calibration_text();
  // The calibration cache's key ("" without --calib-cache), and its statistics
  // read into stats_ when the file holds that key.
  std::string calibration_cache_key() const;
  bool read_calibration_cache(const std::string& key);
  PerplexityResult measure(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len, const std::string& label,
                           const WindowJournal& journal = {});

  EvalOptions opt_;
  std::unique_ptr<LoadedModel> base_;  // tokenizer and the float model used for calibration
  std::unique_ptr<CalibrationStats> stats_;
  std::vector<int32_t> calib_ids_, holdout_;
  std::map<std::string, std::unique_ptr<WeightCalibration>> weight_cal_;  // by method
  std::map<std::string, std::unique_ptr<WeightSearchResult>> searches_;   // by method and settings
};

// journaled_run's record of a perplexity (its fields under its key) and back.
std::vector<std::string> quant_run_fields(const QuantRun& r);
QuantRun quant_run_from_fields(const std::vector<std::string>& fields, const std::string& where);

// One perplexity through `journal`: what it holds under `key` when it has it,
// else measured now (continuing from the windows journaled under `key`, each
// new window journaled as it completes) and journaled. Fields written with
// format.h's exact (%.17g), so a result read back equals the one measured, bit for bit.
// The journal key of window w (from 0) of the perplexity journaled under `key`;
// its fields are the window's mean NLL, (since the per-token uncertainty) the
// sum of its squared token NLLs, and seconds (last); two-field lines of
// earlier runs are read as sumsq NaN, so their journals still resume.
std::string window_key(const std::string& key, size_t w);
std::vector<std::string> window_fields(const WindowNll& nll, double seconds);
WindowNll window_from_fields(const std::vector<std::string>& fields, const std::string& where, double* seconds);
// The uncertainty of a journaled perplexity from its window lines (`find`
// returns a window key's fields or null); estimator kNone when a window is missing.
PplUncertainty windows_uncertainty(const std::function<const std::vector<std::string>*(const std::string&)>& find,
                                   const std::string& key, size_t windows, int seq_len);

QuantRun journaled_run(QuantEvaluator& ev, Journal& journal, const std::string& key, const ModelQuantConfig& config,
                       const AlphaChoice& alpha, const std::vector<int32_t>& ids, int seq_len, const std::string& label);
// The same with the journal of an MPI run (one process: journal.txt, as above).
QuantRun journaled_run(QuantEvaluator& ev, RankJournal& journal, const std::string& key, const ModelQuantConfig& config,
                       const AlphaChoice& alpha, const std::vector<int32_t>& ids, int seq_len, const std::string& label);

}  // namespace sqsim::cli
