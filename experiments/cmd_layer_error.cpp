// sqsim layer-error: one synthetic layer with planted outlier channels,
// quantized at each requested alpha, with output/weight/activation errors.
#include <cstdio>
#include <iostream>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/quant_options.h"
#include "kernels/quantized_linear.h"
#include "quant/error_metrics.h"
#include "quant/outlier_metrics.h"
#include "quant/scales.h"
#include "quant/smoothing.h"
#include "sim/eval/synthetic_layer.h"

namespace sqsim::cli {

namespace {

struct LayerErrorJob {
  SyntheticLayerSpec layer;
  QuantSpec weight, act;
  std::vector<std::string> alphas;  // "none" or values
  RunOptions run;
};

// One line per alpha: the errors of the layer smoothed at that alpha (factors
// from a second synthetic batch, the calibration), then quantized.
void print_layer_errors(const LayerErrorJob& job) {
  const SyntheticLayerSpec& ls = job.layer;
  const SyntheticLayer layer = make_synthetic_layer(ls);
  SyntheticLayerSpec calib_spec = ls;
  calib_spec.seed = ls.seed + 1000003;
  const SyntheticLayer calib = make_synthetic_layer(calib_spec);
  const OutlierReport outl = analyze_outliers(layer.x, "synthetic input");
  std::printf("layer: X [%ld, %ld], W [%ld, %ld], kurtosis %.2f, max/median channel absmax %.1f, "
              "%d channels > 6 sigma\n",
              ls.tokens, ls.in_features, ls.out_features, ls.in_features, outl.kurtosis, outl.max_median_ratio,
              outl.channels_over_sigma);
  std::printf("%-6s %12s %12s %12s %12s %10s %s\n", "alpha", "out_rel_err", "out_sqnr_db", "w_rel_err",
              "x_rel_err", "cosine", "path");
  const MatrixF y_ref = layer.x * layer.w.transpose();
  const QuantSpec& aspec = job.act;
  for (const std::string& a : job.alphas) {
    MatrixF x = layer.x, w = layer.w, xc = calib.x;
    const Alpha alpha = parse_alpha(a, "--alpha");
    if (alpha) {
      // Calibration statistics decide the factors; the evaluated batch is only divided by them.
      const VectorF s = smoothing_factors(activation_column_absmax(calib.x, "calibration input"),
                                          weight_column_absmax({&w}, "weight"), *alpha, "smoothing");
      smooth_activations(x, s);
      smooth_activations(xc, s);
      smooth_weight(w, s);
    }
    QuantParams static_params;
    if (aspec.enabled() && aspec.source == ScaleSource::kStatic) {
      static_params = params_from_range(observe_range(xc, aspec, "calibration input"), aspec);
    }
    const auto r = kernels::quantized_linear(
        x, w, nullptr, job.weight, aspec, aspec.source == ScaleSource::kStatic ? &static_params : nullptr,
        job.run.mode, job.run.kernel, "synthetic layer");
    const ErrorMetrics ey = compare(y_ref, r.y, "output");
    const ErrorMetrics ew = compare(w, r.w_dequant, "weight");
    const ErrorMetrics ex = compare(x, r.x_dequant, "input");
    std::printf("%-6s %12.6g %12.4f %12.6g %12.6g %10.6f %s\n", a.c_str(), ey.rel_err, ey.sqnr_db, ew.rel_err,
                ex.rel_err, ey.cosine,
                r.used_integer_kernel ? kernels::kernel_path_name(kernels::resolve_kernel_path(job.run.kernel)).c_str()
                                      : "fake-quant");
  }
}

}  // namespace

int run_layer_error(int argc, char** argv) {
  po::options_description o("layer-error");
  o.add_options()("tokens", po::value<long>()->default_value(512), "activation rows")(
      "in-features", po::value<long>()->default_value(576), "input channels K")(
      "out-features", po::value<long>()->default_value(576), "output channels N")(
      "outlier-channels", po::value<int>()->default_value(4), "planted outlier channels")(
      "outlier-scale", po::value<float>()->default_value(50.0f), "how much larger the outlier channels are")(
      "data-seed", po::value<unsigned long long>()->default_value(1), "seed of the synthetic data")(
      "alpha", po::value<std::string>()->default_value("none,0.5"), "migration strengths: none, values, start:stop:step")(
      "w-bits", po::value<std::string>()->default_value("8"), "weight bits (2..8, 16 = float)")(
      "a-bits", po::value<std::string>()->default_value("8"), "activation bits (2..8, 16 = float)")(
      "w-granularity", po::value<std::string>()->default_value("per-tensor"), "per-tensor, per-channel, group<G>")(
      "a-granularity", po::value<std::string>()->default_value("per-tensor"),
      "per-tensor, per-token, per-channel, group<G>")(
      "act-scale", po::value<std::string>()->default_value("dynamic"),
      "dynamic, or static (scales calibrated on a second synthetic batch)");
  add_run_options(o);
  add_quantizer_variant_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim layer-error [options]\n\n"
             "Builds a synthetic linear layer Y = X W^T whose activations have a few outlier\n"
             "channels, smooths it at each alpha (SmoothQuant), quantizes it, and prints the\n"
             "output, weight and activation errors (docs/quantization.md).",
             o, vm))
    return 0;
  LayerErrorJob job;
  job.layer.tokens = vm["tokens"].as<long>();
  job.layer.in_features = vm["in-features"].as<long>();
  job.layer.out_features = vm["out-features"].as<long>();
  job.layer.outlier_channels = vm["outlier-channels"].as<int>();
  job.layer.outlier_scale = vm["outlier-scale"].as<float>();
  job.layer.seed = vm["data-seed"].as<unsigned long long>();
  const QuantizerVariant variant = quantizer_variant(vm);
  job.weight = weight_spec(parse_bits(vm["w-bits"].as<std::string>(), "--w-bits"),
                           vm["w-granularity"].as<std::string>(), variant);
  job.act = activation_spec(parse_bits(vm["a-bits"].as<std::string>(), "--a-bits"),
                            vm["a-granularity"].as<std::string>(), vm["act-scale"].as<std::string>(), variant);
  job.run = run_options(vm);  // an unavailable kernel is refused before anything is printed
  job.alphas = expand_alpha_list(vm["alpha"].as<std::string>(), "--alpha");
  // Refuse impossible shapes before printing anything.
  job.weight.validate_shape(job.layer.out_features, job.layer.in_features, "--w-granularity");
  if (job.act.enabled()) job.act.validate_shape(job.layer.tokens, job.layer.in_features, "--a-granularity");
  const auto limit = thread_limit(job.run.threads);
  print_layer_errors(job);
  return 0;
}

}  // namespace sqsim::cli
