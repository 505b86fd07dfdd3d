#pragma once
// Synthetic trace files shaped like a Llama block (SmolLM2-135M by default):
// q/k/v share the attention input, gate/up share the MLP input, o and down
// stand alone. Inputs carry planted outlier channels. For tests, demos and
// benchmarks that must run without the real model.
#include <cstdint>

#include "sim/formats/trace_file.h"

namespace sqsim {

struct SyntheticTraceSpec {
  int blocks = 2;
  long hidden = 576;
  long kv_dim = 192;
  long intermediate = 1536;
  long tokens = 128;
  int outlier_channels = 4;
  float outlier_scale = 50.0f;
  uint64_t seed = 1;
};

TraceFile make_synthetic_traces(const SyntheticTraceSpec& spec);

}  // namespace sqsim
