// sqsim outliers: per-layer outlier report of a trace file (CSV, Markdown, SVG).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/csv.h"
#include "experiments/format.h"
#include "experiments/report_table.h"
#include "base/io.h"
#include "experiments/svg_plot.h"
#include "base/error.h"
#include "quant/outlier_metrics.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

namespace {

std::string fmt(double v) { return significant(v, 6); }

struct OutliersJob {
  std::string traces;
  OutlierOptions options;
  int worst = 4;  // layers drawn in the plot
  OutputOptions output;
};

// outliers.csv and outliers.md: one row per layer.
void write_outlier_tables(const OutliersJob& job, const TraceFile& traces, const std::vector<OutlierReport>& reports) {
  const OutlierOptions& opt = job.options;
  CsvTable csv{{"layer", "tokens", "in_features", "max_absmax", "max_median_ratio", "kurtosis", "channels_over_sigma",
                "channels_over_median", "topk_consistency", "top_channels"},
               {}};
  std::vector<std::vector<std::string>> md_rows;
  for (size_t i = 0; i < traces.layers.size(); ++i) {
    const LayerTrace& l = traces.layers[i];
    const OutlierReport& r = reports[i];
    std::string top;
    for (size_t t = 0; t < r.top_channels.size(); ++t) top += (t ? " " : "") + std::to_string(r.top_channels[t]);
    std::vector<std::string> cells = {l.name, std::to_string(l.input.rows()), std::to_string(l.input.cols()),
                                      fmt(r.channel_absmax.maxCoeff()), fmt(r.max_median_ratio), fmt(r.kurtosis),
                                      std::to_string(r.channels_over_sigma), std::to_string(r.channels_over_median),
                                      fmt(r.topk_consistency)};
    md_rows.push_back(cells);
    cells.push_back(top);
    csv.rows.push_back(cells);
  }
  const std::string md =
      "# Activation outliers\n\nTrace file: `" + traces.path + "`" +
      (traces.model.empty() ? "" : ", model `" + traces.model + "`") + ". Thresholds: " + fmt(opt.sigma_threshold) +
      " sigma, " + fmt(opt.median_ratio_threshold) + "x median; top-" + std::to_string(opt.top_k) +
      " consistency.\n\n" +
      markdown_grid({"layer", "tokens", "K", "max absmax", "max/median", "kurtosis", ">" + fmt(opt.sigma_threshold) + "σ",
                     ">" + fmt(opt.median_ratio_threshold) + "× median", "top-k consistency"},
                    md_rows, MarkdownAlign::kLeft) +
      "\nCommand: `sqsim outliers --traces " + traces.path + " --out " + job.output.out + "`\n";
  write_file_atomic(job.output.out + "/outliers.csv", to_csv(csv));
  write_file_atomic(job.output.out + "/outliers.md", md);
}

// Per-channel input absmax of the `worst` layers with the largest max/median ratio.
Plot worst_layers_plot(const TraceFile& traces, const std::vector<OutlierReport>& reports, int worst) {
  std::vector<size_t> order(traces.layers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return reports[a].max_median_ratio > reports[b].max_median_ratio; });
  Plot plot;
  plot.title = "Per-channel input absmax, layers with the largest max/median ratio";
  plot.x_label = "input channel";
  plot.y_label = "max |x|";
  plot.log_y = true;
  plot.bars = true;
  for (size_t i = 0; i < order.size() && static_cast<int>(i) < worst; ++i) {
    const LayerTrace& l = traces.layers[order[i]];
    PlotSeries s;
    s.name = l.name.size() > 24 ? "..." + l.name.substr(l.name.size() - 21) : l.name;
    const VectorF a = l.activation_absmax();
    for (Eigen::Index c = 0; c < a.size(); ++c) {
      s.x.push_back(static_cast<double>(c));
      s.y.push_back(a[c]);
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

int run_outliers_job(const OutliersJob& job) {
  if (job.worst < 0) throw Error("--worst " + std::to_string(job.worst) + ": expected a non-negative count");
  prepare_output_dir(job.output, false);
  const TraceFile traces = read_trace_file(job.traces);
  std::vector<OutlierReport> reports;
  for (size_t i = 0; i < traces.layers.size(); ++i) {
    const LayerTrace& l = traces.layers[i];
    OutlierOptions lo = job.options;
    lo.top_k = std::min<int>(job.options.top_k, static_cast<int>(l.input.cols()));
    reports.push_back(analyze_outliers(l.input, lo, traces.path + ": /layers/" + l.name + "/input"));
    std::cerr << "\routliers: " << i + 1 << "/" << traces.layers.size() << " layers" << std::flush;
  }
  std::cerr << "\n";
  write_outlier_tables(job, traces, reports);
  write_file_atomic(job.output.out + "/outliers_absmax.svg", render_svg(worst_layers_plot(traces, reports, job.worst)));
  std::cout << "wrote " << job.output.out << "/outliers.csv, outliers.md, outliers_absmax.svg ("
            << traces.layers.size() << " layers)\n";
  return 0;
}

}  // namespace

int run_outliers(int argc, char** argv) {
  po::options_description o("outliers");
  add_output_options(o, "output directory", /*resumable=*/false);
  o.add_options()("traces", po::value<std::string>()->required(), "trace file (docs/trace-format.md)")(
      "sigma", po::value<double>()->default_value(6.0), "count channels with absmax > SIGMA x stddev")(
      "median-ratio", po::value<double>()->default_value(20.0), "count channels with absmax > RATIO x median absmax")(
      "top-k", po::value<int>()->default_value(8), "k of the top-k channel consistency")(
      "worst", po::value<int>()->default_value(4), "layers drawn in the per-channel absmax plot");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim outliers --traces FILE --out DIR\n\n"
             "Per-layer activation outlier metrics (docs/quantization.md, \"Outlier metrics\"):\n"
             "outliers.csv, outliers.md and outliers_absmax.svg (per-channel input absmax of\n"
             "the layers with the largest max/median ratio).",
             o, vm))
    return 0;
  OutliersJob job;
  job.traces = vm["traces"].as<std::string>();
  job.options.sigma_threshold = vm["sigma"].as<double>();
  job.options.median_ratio_threshold = vm["median-ratio"].as<double>();
  job.options.top_k = vm["top-k"].as<int>();
  job.worst = vm["worst"].as<int>();
  job.output = output_options(vm);
  return run_outliers_job(job);
}

}  // namespace sqsim::cli
