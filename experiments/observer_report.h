#pragma once
// What each calibration observer (quant/observers.h) would choose for the
// inputs of every layer of a trace file, and what it costs: the clip, the
// share of values clipped, and the quantization error of the sampled inputs
// under the static per-tensor scale it gives, overall and on the layer's
// outlier channels (the 1% with the largest absmax, at least one).
#include <string>
#include <vector>

#include "quant/observers.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

struct ObserverReportSpec {
  std::vector<ObserverSpec> observers;  // each with the same bins
  int bits = 8;
  std::vector<std::string> layers;      // empty: every layer
};

struct ObserverRow {
  std::string layer;
  std::string observer;  // observer_name()
  double absmax = 0;     // of the sampled inputs
  double clip = 0;       // the observer's c
  double clipped_share = 0;     // share of values with |x| > c
  double mse = 0;               // mean squared quantization error over every value
  double mse_outlier_channels = 0;  // the same over the outlier channels only
  double mse_other_channels = 0;    // and over the rest
  int outlier_channels = 0;
};

// One row per layer and observer, layers in the file's order, observers in the
// spec's. Unknown layer names are an error naming them.
std::vector<ObserverRow> compare_observers(const TraceFile& traces, const ObserverReportSpec& spec);

}  // namespace sqsim::cli
