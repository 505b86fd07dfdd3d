#pragma once
// Calibration's one mechanism: run windows through a model with a recorder
// swapped in front of chosen linear layers, so every input those layers see
// is handed to an observer before the layer computes. calibrate() and
// calibrate_weight_search() differ only in what their observers keep.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

// observe(i, x): the input x of layers[i], already checked finite (an error
// names the layer and the channel otherwise). progress(done, windows) after
// every window. The model's layers are put back afterwards, also when a
// forward or an observer throws.
void record_linear_inputs(CausalLm& model, const std::vector<std::string>& layers,
                          const std::vector<std::vector<int32_t>>& windows,
                          const std::function<void(size_t, const MatrixF&)>& observe,
                          const std::function<void(size_t, size_t)>& progress = {});

// Appends min(per_window, rows of x) rows of x spread evenly over them (row
// i * rows / n): the samples calibration keeps for the per-layer searches.
void append_spread_rows(MatrixF& sample, const MatrixF& x, long per_window);

}  // namespace sqsim
