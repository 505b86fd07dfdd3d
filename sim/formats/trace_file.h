#pragma once
// Trace format v1 (docs/trace-format.md): per linear layer, its weight, a
// sample of its calibration inputs, optional bias and input_absmax, and the
// smooth_group that says which layers share one input.
#include <optional>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

struct LayerTrace {
  std::string name;          // module path, e.g. model.layers.0.self_attn.q_proj
  MatrixF weight;            // [out_features, in_features]
  MatrixF input;             // [tokens, in_features]
  std::optional<VectorF> bias;          // [out_features]
  std::optional<VectorF> input_absmax;  // [in_features], over the whole calibration set
  std::string smooth_group;  // empty: the layer shares its input with no other
  // Shapes as stored, known also before the data is read (read_trace_index).
  long out_features = 0, in_features = 0, input_rows = 0;
  // Whether weight and input hold the layer's data (load_trace_layers).
  bool loaded() const { return weight.size() > 0; }

  // input_absmax when stored, else computed from the sampled input.
  VectorF activation_absmax() const;
};

struct TraceFile {
  std::string path;
  std::string model;               // optional file attribute
  std::vector<LayerTrace> layers;  // sorted by name
};

// Reads and validates a whole trace file; every refusal names the file, the
// dataset and what was expected.
TraceFile read_trace_file(const std::string& path);

// Per layer, for files larger than memory: the index holds every layer's
// name, smooth_group and stored shapes, with no data (loaded() false);
// load_trace_layers reads the data of the chosen layers (validated as
// read_trace_file validates), unload_trace_layers frees it again.
// read_trace_file = index + load of every layer.
TraceFile read_trace_index(const std::string& path);
void load_trace_layers(TraceFile& traces, const std::vector<size_t>& which);
void unload_trace_layers(TraceFile& traces, const std::vector<size_t>& which);

// Writes format v1 (float32, gzip level 4 with shuffle, chunked) to path.tmp
// and renames it over path, so no reader ever sees a half-written file.
void write_trace_file(const std::string& path, const TraceFile& traces);

}  // namespace sqsim
