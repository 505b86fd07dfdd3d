#pragma once
// Calibration: run the float model over calibration text and record, for the
// input of every linear layer, per-channel absmax / min / max over all tokens
// and (optionally) a deterministic sample of input rows. Those statistics feed
// smoothing (per-channel absmax), static activation scales, the per-layer α
// search and `sqsim trace`.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

struct LayerInputStats {
  VectorF absmax, min, max;  // per input channel, over every calibration token
  long tokens = 0;
  MatrixF sample;            // rows of the input, spread evenly over the windows
};

// Keyed by the linear layer's HF module path.
using CalibrationStats = std::map<std::string, LayerInputStats>;

struct CalibrationOptions {
  long sample_rows = 0;  // rows of input kept per layer (0: none)
  // Called after every window: (windows done, windows).
  std::function<void(size_t, size_t)> progress;
};

// `count` windows of seq_len tokens starting at positions drawn uniformly from
// [0, ids.size() - seq_len] with a fixed-seed mt19937_64, so they may overlap;
// sorted by start. sqsim's own protocol (docs/quantization.md, "Calibration"):
// mit-han-lab/smoothquant instead takes N documents truncated to L tokens.
// Throws when ids hold fewer than seq_len tokens.
std::vector<std::vector<int32_t>> calibration_windows(const std::vector<int32_t>& ids, int seq_len, int count,
                                                      uint64_t seed = 0);

// Runs every window through the model (the model is restored afterwards) and
// returns the statistics of every linear layer's input. Inputs that hold NaN
// or Inf are an error naming the layer and the channel.
CalibrationStats calibrate(CausalLm& model, const std::vector<std::vector<int32_t>>& windows,
                           const CalibrationOptions& options = {});

// calibrate() in parts, for calibration split over several processes
// (experiments/calibration_ranks.h): windows cut into consecutive runs, each
// run's statistics made by calibrate_part with the rows per window of the
// whole (calibration_rows_per_window(sample_rows, all windows)), merged in
// window order, then keep_sample_rows. The result equals calibrate()'s bit for
// bit: absmax/min/max are max/min (order-free), token counts sum, sample rows
// are concatenated in window order.
long calibration_rows_per_window(long sample_rows, size_t windows);
CalibrationStats calibrate_part(CausalLm& model, const std::vector<std::vector<int32_t>>& windows,
                                long rows_per_window, const std::function<void(size_t, size_t)>& progress = {});
// Appends `later` (statistics of the windows after those of `into`); parts
// that saw no window are skipped.
void merge_calibration(CalibrationStats& into, CalibrationStats&& later);
// Cuts every layer's sample to its first sample_rows rows (0: keep all).
void keep_sample_rows(CalibrationStats& stats, long sample_rows);

}  // namespace sqsim
