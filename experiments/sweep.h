#pragma once
// The sweep: every selected layer of a trace file times every configuration
// (alpha x bits x granularities x static/dynamic), each quantized through the
// integer kernels (or fake-quant) and measured. Results are journaled as they
// complete so an interrupted sweep can be resumed to the same bytes.
#include <functional>
#include <string>
#include <vector>

#include "experiments/quant_variant.h"
#include "experiments/run_options.h"
#include "kernels/quantized_linear.h"
#include "quant/quant_spec.h"
#include "quant/smoothing.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

struct SweepConfig {
  std::string alpha_name;  // "none" or a number
  Alpha alpha;
  QuantSpec weight, act;
  std::string w_granularity, a_granularity, act_scale;
  std::string invalid;  // non-empty: the combination is impossible (e.g. static per-token); rows are skipped
};

struct SweepOptions {
  RunOptions run;  // threads (0 = all cores), mode, kernel
  // false: every item recomputes its operands through evaluate_layer (the
  // pre-cache behaviour, same rows); kept for sweep_bench's side-by-side timing.
  bool reuse_operands = true;
};

// The sweep's axes as its options list them (--alpha, --w-bits, --a-bits,
// --w-granularity, --a-granularity, --act-scale: comma lists, alpha ranges
// start:stop:step) and the quantizer variant they all share.
struct SweepGrid {
  std::string alpha = "none,0.5", w_bits = "8", a_bits = "8", w_granularity = "per-tensor",
              a_granularity = "per-token", act_scale = "dynamic";
  QuantizerVariant variant;
};
// "alpha=...\nw-bits=...\n..." and the variant: what a journal records of it.
std::string settings_text(const SweepGrid& grid);

// The Cartesian product of the grid, alpha outermost (so the configs of one
// alpha are adjacent, which run_sweep's per-thread cache relies on for speed).
// Errors name the option of the bad item.
std::vector<SweepConfig> build_sweep_configs(const SweepGrid& grid);

// The CSV header and one row per (layer, config); rows are pure functions of
// their inputs, formatted with %.9g, so any thread count gives the same bytes.
extern const char* const kSweepCsvHeader;

// Smoothing factors for every layer at `alpha`: layers of one smooth_group share
// one vector computed from the group's input absmax and all the group's weights.
std::vector<VectorF> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers, float alpha);
// The same for several alphas, each group's absmax statistics gathered once:
// result[i] is group_smoothing_factors(traces, layers, alphas[i]).
std::vector<std::vector<VectorF>> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers,
                                                          const std::vector<float>& alphas);

// The float output Y = X W^T (+ b) every configuration of a layer is compared with.
MatrixF reference_output(const LayerTrace& layer);

// One CSV row (without newline) for one layer and config; `s` may be null;
// `y_ref` is reference_output(layer).
std::string evaluate_layer(const LayerTrace& layer, const VectorF* s, const SweepConfig& config,
                           const SweepOptions& options, const MatrixF& y_ref);

// Runs items [0, layers.size() * configs.size()) (layer-major) skipping those in
// `done`, calling `on_row(index, row)` (serialized) as each completes and
// `on_progress(completed)` about once a second.
void run_sweep(const TraceFile& traces, const std::vector<size_t>& layers, const std::vector<SweepConfig>& configs,
               const SweepOptions& options, const std::vector<char>& done,
               const std::function<void(size_t, const std::string&)>& on_row,
               const std::function<void(size_t)>& on_progress);

}  // namespace sqsim::cli
