#pragma once
// GPTQ on the layers of a trace file (quant/gptq.h): the Hessian from each
// layer's sampled inputs, the weights quantized by GPTQ and by round-to-nearest
// with the same groups, and the output error of each on those inputs.
#include <string>
#include <vector>

#include "quant/gptq.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

struct GptqTraceSpec {
  GptqOptions options;
  std::vector<std::string> layers;  // empty: every layer
};

struct GptqTraceRow {
  std::string layer;
  long rows = 0, in_features = 0, out_features = 0;
  double rtn_rel_err = 0;   // ||X (W_rtn - W)^T||_F / ||X W^T||_F
  double gptq_rel_err = 0;  // the same for GPTQ
  double loss = 0;          // GPTQ's own loss
  long dead_columns = 0;
  double seconds = 0;
};

// Rows in the file's order; `quantized` (may be null) receives the traces with
// every selected layer's weight replaced by its GPTQ-dequantized weight.
std::vector<GptqTraceRow> gptq_traces(const TraceFile& traces, const GptqTraceSpec& spec, TraceFile* quantized);

}  // namespace sqsim::cli
