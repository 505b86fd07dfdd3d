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
#include "quant/error_metrics.h"
#include "quant/quant_spec.h"
#include "quant/smoothing.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

struct SweepConfig {
  Alpha alpha;  // none, or the migration strength (alpha_name() displays it)
  QuantSpec weight, act;
  std::string w_granularity, a_granularity, act_scale;
  std::string invalid;  // non-empty: the combination is impossible (e.g. static per-token); rows are skipped
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

// One result of the sweep: a layer under one configuration. Rows are pure
// functions of their inputs, so any thread count gives the same rows.
struct SweepRow {
  std::string layer;
  Alpha alpha;
  int w_bits = 0, a_bits = 0;
  std::string w_granularity, a_granularity, act_scale;  // as the options list them
  ErrorMetrics output, weight, act;  // of a row that ran (status "ok")
  std::string path;                  // the kernel path's name, or "fake-quant"
  std::string status;                // "ok", or "skipped: <why>"
  bool ok() const { return status == "ok"; }
};

// The columns of results.csv, in order: the name and the cell of a row (the
// measured cells of a skipped row are empty). Numbers are printed with `digits`
// significant digits: 9 in results.csv, 17 in the journal (exact). `parse`
// sets the field back from its cell.
struct SweepColumn {
  const char* name;
  std::string (*cell)(const SweepRow& row, int digits);
  void (*parse)(SweepRow& row, const std::string& cell);
};
const std::vector<SweepColumn>& sweep_columns();

// results.csv: the header, then one line per row (%.9g numbers).
std::string sweep_csv(const std::vector<SweepRow>& rows);
// A row as journal fields (%.17g numbers) and back; errors name `where`.
std::vector<std::string> sweep_row_fields(const SweepRow& row);
SweepRow sweep_row_from_fields(const std::vector<std::string>& fields, const std::string& where);
// Same fields, numbers bit for bit.
inline bool operator==(const SweepRow& a, const SweepRow& b) { return sweep_row_fields(a) == sweep_row_fields(b); }
inline bool operator!=(const SweepRow& a, const SweepRow& b) { return !(a == b); }

// The trace adapter of smoothing_group_factors (quant/smoothing.h): the layers
// of the file that share `layer`'s smooth_group, selected or not, since they
// share one input (the layer alone when it has none), and their statistics.
std::vector<size_t> smoothing_group_members(const TraceFile& traces, size_t layer);
SmoothingGroupStats smoothing_group_stats(const TraceFile& traces, const std::vector<size_t>& members,
                                          const std::string& what);

// Smoothing factors for every layer at `alpha`: layers of one smooth_group share
// one vector computed from the group's input absmax and all the group's weights.
std::vector<VectorF> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers, float alpha);
// The same for several alphas, each group's absmax statistics gathered once:
// result[i] is group_smoothing_factors(traces, layers, alphas[i]).
std::vector<std::vector<VectorF>> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers,
                                                          const std::vector<float>& alphas);

// The float output Y = X W^T (+ b) every configuration of a layer is compared with.
MatrixF reference_output(const LayerTrace& layer);

// The configuration columns of the row of `layer` under `config`; the status
// is "skipped: <why>" when the config cannot run on the layer (an impossible
// combination, or a shape its granularity does not fit), else empty.
SweepRow sweep_row_head(const LayerTrace& layer, const SweepConfig& config);

// Static activation parameters: from the trace's input_absmax over the whole
// calibration set when symmetric (divided by the smoothing factors `s`, which
// may be null), else from the range of the (smoothed) sample x_smoothed.
QuantParams static_activation_params(const LayerTrace& layer, const MatrixF& x_smoothed, const VectorF* s,
                                     const QuantSpec& spec);

// Runs items [0, layers.size() * configs.size()) (layer-major) skipping those in
// `done`, calling `on_row(index, row)` (serialized) as each completes and
// `on_progress(completed)` about once a second.
// Each row is made from operands cached per (layer, alpha) and per spec; it
// equals, byte for byte, the row computed from scratch (the oracle in
// tests/sweep_test.cpp).
void run_sweep(const TraceFile& traces, const std::vector<size_t>& layers, const std::vector<SweepConfig>& configs,
               const RunOptions& options, const std::vector<char>& done,
               const std::function<void(size_t, const SweepRow&)>& on_row,
               const std::function<void(size_t)>& on_progress);

}  // namespace sqsim::cli
