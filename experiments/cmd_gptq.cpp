// sqsim gptq: GPTQ against round-to-nearest on the layers of a trace file
// (experiments/gptq_report.h).
#include <cstdio>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/gptq_report.h"
#include "experiments/json_writer.h"

namespace sqsim::cli {

int run_gptq(int argc, char** argv) {
  po::options_description o("gptq");
  o.add_options()("traces", po::value<std::string>()->required(), "trace file (docs/trace-format.md)")(
      "group", po::value<int>()->default_value(128), "columns per scale and zero point")(
      "bits", po::value<int>()->default_value(4), "weight bits (2..8)")(
      "gptq-damp", po::value<double>()->default_value(0.01), "damping: this share of the mean Hessian diagonal")(
      "gptq-block", po::value<int>()->default_value(128), "columns per lazy-update block")(
      "act-order", po::bool_switch(), "quantize columns by decreasing Hessian diagonal (groups fixed up front)")(
      "layers", po::value<std::string>(), "comma-separated layer names (default: every layer)")(
      "out", po::value<std::string>(), "write the traces with GPTQ-dequantized weights to this HDF5 file")(
      "force", po::bool_switch(), "replace an existing --out file")(
      "json", po::bool_switch(), "one JSON object per layer instead of a table");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim gptq --traces FILE [--group G] [--layers LIST] [--out FILE.h5]\n\n"
             "GPTQ (docs/quantization.md, \"GPTQ\") on every layer of a trace file, the Hessian from\n"
             "the layer's sampled inputs, against round-to-nearest with the same groups: the relative\n"
             "output error of each on those inputs, GPTQ's loss, and the time per layer.",
             o, vm))
    return 0;
  GptqTraceSpec spec;
  spec.options.group_size = vm["group"].as<int>();
  spec.options.bits = vm["bits"].as<int>();
  spec.options.damp = vm["gptq-damp"].as<double>();
  spec.options.block = vm["gptq-block"].as<int>();
  spec.options.act_order = vm["act-order"].as<bool>();
  if (vm.count("layers")) spec.layers = split_list(vm["layers"].as<std::string>(), "--layers");
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "";
  if (!out.empty() && !vm["force"].as<bool>() && std::ifstream(out))
    throw Error("--out " + out + ": the file exists (--force replaces it)");
  const TraceFile traces = read_trace_file(vm["traces"].as<std::string>());
  TraceFile quantized;
  const std::vector<GptqTraceRow> rows = gptq_traces(traces, spec, out.empty() ? nullptr : &quantized);
  for (const GptqTraceRow& r : rows) {
    if (r.rows < r.in_features)
      std::cerr << "gptq: warning: " << r.layer << ": " << r.rows << " calibration rows for " << r.in_features
                << " columns: the Hessian is singular and only the damping makes it invertible\n";
  }
  if (vm["json"].as<bool>()) {
    for (const GptqTraceRow& r : rows) {
      JsonWriter w(JsonWriter::kOneLine);
      w.begin_object().member("layer", r.layer).member("rows", r.rows);
      w.key("rtn_rel_err").number(r.rtn_rel_err, "%.9g").key("gptq_rel_err").number(r.gptq_rel_err, "%.9g");
      w.key("loss").number(r.loss, "%.9g").member("dead_columns", r.dead_columns);
      std::printf("%s\n", w.key("seconds").number(r.seconds, "%.3f").end_object().str().c_str());
    }
  } else {
    std::printf("%-44s %10s %12s %12s %8s\n", "layer", "rows", "rtn rel err", "gptq rel err", "seconds");
    for (const GptqTraceRow& r : rows)
      std::printf("%-44s %10ld %12.6g %12.6g %8.2f\n", r.layer.c_str(), r.rows, r.rtn_rel_err, r.gptq_rel_err,
                  r.seconds);
  }
  if (!out.empty()) write_trace_file(out, quantized);
  return 0;
}

}  // namespace sqsim::cli
