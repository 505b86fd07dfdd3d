// sqsim make-traces: a synthetic trace file shaped like SmolLM2-135M's blocks.
#include <iostream>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "base/error.h"
#include "sim/eval/synthetic_traces.h"

namespace sqsim::cli {

int run_make_traces(int argc, char** argv) {
  po::options_description o("make-traces");
  add_output_options(o, "trace file to write (.h5)", /*resumable=*/false);
  o.add_options()(
      "blocks", po::value<int>()->default_value(2), "transformer blocks (7 linear layers each)")(
      "hidden", po::value<long>()->default_value(576), "hidden size")(
      "kv-dim", po::value<long>()->default_value(192), "k/v projection width")(
      "intermediate", po::value<long>()->default_value(1536), "MLP width")(
      "tokens", po::value<long>()->default_value(128), "input rows per layer")(
      "outlier-channels", po::value<int>()->default_value(4), "planted outlier channels per input")(
      "outlier-scale", po::value<float>()->default_value(50.0f), "how much larger the outlier channels are")(
      "seed", po::value<unsigned long long>()->default_value(1), "seed");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim make-traces --out FILE.h5 [options]\n\n"
             "Writes trace format v1 (docs/trace-format.md) with q/k/v, o, gate/up and down\n"
             "layers per block, Gaussian weights and inputs with planted outlier channels.",
             o, vm))
    return 0;
  const OutputOptions output = output_options(vm);
  prepare_output_file(output);
  SyntheticTraceSpec s;
  s.blocks = vm["blocks"].as<int>();
  s.hidden = vm["hidden"].as<long>();
  s.kv_dim = vm["kv-dim"].as<long>();
  s.intermediate = vm["intermediate"].as<long>();
  s.tokens = vm["tokens"].as<long>();
  s.outlier_channels = vm["outlier-channels"].as<int>();
  s.outlier_scale = vm["outlier-scale"].as<float>();
  s.seed = vm["seed"].as<unsigned long long>();
  const TraceFile t = make_synthetic_traces(s);
  write_trace_file(output.out, t);
  std::cout << "wrote " << output.out << " (" << t.layers.size() << " layers)\n";
  return 0;
}

}  // namespace sqsim::cli
