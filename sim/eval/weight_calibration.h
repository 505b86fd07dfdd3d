#pragma once
// The calibration pass of the weight searches (GPTQ, AWQ): the float model
// over the search windows, keeping per distinct linear input what the method
// needs and the smoothing calibration (calibration.h) does not: sum x^T x over
// every token (GPTQ's Hessian), mean |x| per channel and many sample rows
// (AWQ). docs/quantization.md, "Weight search calibration".
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

struct WeightCalibrationOptions {
  bool xtx = false;       // sum x^T x (float32 per window, float64 across windows)
  bool mean_abs = false;  // sum |x| per channel
  bool absmax = false;    // max |x| per channel
  long sample_rows = 0;   // rows kept, spread evenly over the windows
  std::function<void(size_t, size_t)> progress;  // after every window
};

struct WeightInputStats {
  long tokens = 0;
  MatrixD xtx;       // sum x^T x [K, K] (when asked)
  Eigen::VectorXd sum_abs;  // sum |x| per channel (when asked)
  VectorF absmax;           // max |x| per channel (when asked)
  MatrixF sample;    // [rows, K]
  VectorF mean_abs() const;  // sum_abs / tokens, as float
};

struct WeightCalibration {
  // Keyed by the first layer reading the input (q_proj for q/k/v, gate_proj
  // for gate/up, o_proj, down_proj).
  std::map<std::string, WeightInputStats> inputs;
  std::map<std::string, std::string> input_of;  // layer -> key of its input
  // The search windows' tokens: the block-by-block searches (sequential
  // GPTQ, AWQ's module objective) run them again.
  std::vector<std::vector<int32_t>> windows;
  const WeightInputStats& of(const std::string& layer) const;
};

// sum x^T x of one window's rows x added to `upper` (float64 [K, K], upper
// triangle only; zero-sized: set to zeros first): one float32 symmetric rank
// update, then the float64 sum, as the calibration pass accumulates S.
void add_window_xtx(MatrixD& upper, const MatrixF& x);
// Mirrors the upper triangle into the lower one.
void mirror_xtx(MatrixD& upper);

// The layers that share one input (a smoothing group's members) map to its
// first member; every other layer to itself. Only `layers` are recorded.
WeightCalibration calibrate_weight_search(CausalLm& model, const std::vector<std::string>& layers,
                                          const std::vector<std::vector<int32_t>>& windows,
                                          const WeightCalibrationOptions& options);

}  // namespace sqsim
