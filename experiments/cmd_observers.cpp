// sqsim observers: what each calibration observer chooses for every layer's
// inputs in a trace file, and what it costs (experiments/observer_report.h).
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/observer_report.h"
#include "experiments/format.h"
#include "experiments/json_writer.h"
#include "experiments/report_table.h"

namespace sqsim::cli {

int run_observers(int argc, char** argv) {
  po::options_description o("observers");
  o.add_options()("traces", po::value<std::string>()->required(), "trace file (docs/trace-format.md)")(
      "observers", po::value<std::string>()->default_value("absmax,percentile:99.9,percentile:99.99,mse,entropy"),
      "comma-separated: absmax, percentile:P (0 < P <= 100), mse, entropy (docs/quantization.md, "
      "\"Calibration observers\")")(
      "observer-bins", po::value<int>()->default_value(2048), "histogram bins (a power of two, 128 .. 1048576)")(
      "bits", po::value<int>()->default_value(8), "activation bits (2..8)")(
      "layers", po::value<std::string>(), "comma-separated layer names (default: every layer)")(
      "json", po::bool_switch(), "print one JSON object per layer and observer instead of a table");
  add_output_options(o, "write observers.csv / .md / .tex into this directory", /*resumable=*/false,
                     /*optional=*/true);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim observers --traces FILE [--observers LIST] [--out DIR | --json]\n\n"
             "For every layer's sampled inputs: the clipping value each observer picks for a static\n"
             "symmetric per-tensor activation quantizer, the share of values it clips, and the mean\n"
             "squared quantization error it leaves, overall, on the outlier channels (the 1% with the\n"
             "largest absmax) and on the rest.",
             o, vm))
    return 0;
  ObserverReportSpec spec;
  spec.bits = vm["bits"].as<int>();
  if (spec.bits < 2 || spec.bits > 8) throw Error("--bits " + std::to_string(spec.bits) + ": expected 2..8");
  const int bins = vm["observer-bins"].as<int>();
  validate_observer_bins(bins, "--observer-bins");
  for (const std::string& name : split_list(vm["observers"].as<std::string>(), "--observers")) {
    ObserverSpec s = parse_observer(name, "--observers");
    s.bins = bins;
    spec.observers.push_back(s);
  }
  if (vm.count("layers")) spec.layers = split_list(vm["layers"].as<std::string>(), "--layers");
  const bool json = vm["json"].as<bool>();
  const OutputOptions output = output_options(vm);
  const std::string& out = output.out;
  if (!out.empty()) prepare_output_dir(output, false);
  const TraceFile traces = read_trace_file(vm["traces"].as<std::string>());
  const std::vector<ObserverRow> rows = compare_observers(traces, spec);

  if (json) {
    for (const ObserverRow& r : rows) {
      JsonWriter w(JsonWriter::kOneLine);
      w.begin_object().member("layer", r.layer).member("observer", r.observer);
      w.key("absmax").number(r.absmax, "%.9g").key("clip").number(r.clip, "%.9g");
      w.key("clipped_share").number(r.clipped_share, "%.9g").key("mse").number(r.mse, "%.9g");
      w.key("mse_outlier_channels").number(r.mse_outlier_channels, "%.9g");
      w.key("mse_other_channels").number(r.mse_other_channels, "%.9g");
      std::printf("%s\n", w.member("outlier_channels", r.outlier_channels).end_object().str().c_str());
    }
  }
  ReportTable t;
  t.title = "Calibration observers: static per-tensor INT" + std::to_string(spec.bits) + " activations";
  t.caption = "Per layer of " + traces.path + ": each observer's clip c, c / absmax, the share of values clipped, "
              "and the mean squared quantization error of the sampled inputs (all, the outlier channels, the rest).";
  t.header = {"layer", "observer", "absmax", "clip", "clip/absmax", "clipped", "mse", "mse outlier ch.",
              "mse other ch."};
  for (const ObserverRow& r : rows)
    t.rows.push_back({r.layer, r.observer, significant(r.absmax, 6), significant(r.clip, 6),
                      significant(r.absmax > 0 ? r.clip / r.absmax : 0.0, 4), significant(r.clipped_share, 4),
                      significant(r.mse, 6), significant(r.mse_outlier_channels, 6),
                      significant(r.mse_other_channels, 6)});
  t.provenance = {"command: sqsim observers --traces " + traces.path + " --observers " +
                  vm["observers"].as<std::string>() + " --observer-bins " + std::to_string(bins) + " --bits " +
                  std::to_string(spec.bits)};
  if (!out.empty()) write_report_table(t, out + "/observers");
  if (!json) std::cout << to_markdown(t);
  return 0;
}

}  // namespace sqsim::cli
