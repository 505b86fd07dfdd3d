#include "experiments/sweep.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

#include "experiments/interrupt.h"
#include "quant/error.h"
#include "quant/error_metrics.h"
#include "quant/scales.h"

namespace sqsim::cli {

const char* const kSweepCsvHeader =
    "layer,alpha,w_bits,a_bits,w_granularity,a_granularity,act_scale,output_rel_err,output_sqnr_db,"
    "output_max_abs,output_cosine,weight_rel_err,weight_sqnr_db,act_rel_err,act_sqnr_db,path,status";

std::vector<VectorF> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers, float alpha) {
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t li : layers) {
    const LayerTrace& l = traces.layers[li];
    // Layers without a group smooth alone; the group covers every layer of the
    // file that shares it, selected or not, because they share one input.
    groups[l.smooth_group.empty() ? "\x01" + l.name : l.smooth_group].push_back(li);
  }
  std::map<std::string, std::vector<size_t>> all_members;
  for (size_t i = 0; i < traces.layers.size(); ++i) {
    const LayerTrace& l = traces.layers[i];
    all_members[l.smooth_group.empty() ? "\x01" + l.name : l.smooth_group].push_back(i);
  }
  std::vector<VectorF> out(traces.layers.size());
  for (const auto& [key, members] : groups) {
    const auto& everyone = all_members[key];
    std::vector<const MatrixF*> weights;
    VectorF act = traces.layers[everyone.front()].activation_absmax();
    for (size_t i : everyone) {
      weights.push_back(&traces.layers[i].weight);
      if (traces.layers[i].weight.cols() != act.size()) {
        throw Error(traces.path + ": smooth_group '" + traces.layers[i].smooth_group +
                    "' mixes layers of different input widths");
      }
      act = act.cwiseMax(traces.layers[i].activation_absmax());
    }
    const std::string what = traces.path + ": smoothing of " + traces.layers[members.front()].name;
    const VectorF s = smoothing_factors(act, weight_column_absmax(weights, what), alpha, what);
    for (size_t i : members) out[i] = s;
  }
  return out;
}

namespace {

std::string g9(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

// Static activation statistics: from input_absmax over the whole calibration
// set when symmetric (divided by the smoothing factors), else from the sample.
QuantParams static_activation_params(const LayerTrace& layer, const MatrixF& x_smoothed, const VectorF* s,
                                     const QuantSpec& spec) {
  if (!spec.symmetric) return params_from_range(observe_range(x_smoothed, spec, layer.name + " input"), spec);
  VectorF a = layer.activation_absmax();
  if (s) a = (a.array() / s->array()).matrix();
  RangeStats r;
  if (spec.granularity == Granularity::kPerTensor) {
    r.absmax = {a.maxCoeff()};
  } else {
    r.absmax.assign(a.data(), a.data() + a.size());
  }
  r.min.resize(r.absmax.size());
  r.max = r.absmax;
  for (size_t i = 0; i < r.absmax.size(); ++i) r.min[i] = -r.absmax[i];
  return params_from_range(r, spec);
}

}  // namespace

MatrixF reference_output(const LayerTrace& layer) {
  MatrixF y = layer.input * layer.weight.transpose();
  if (layer.bias) y.rowwise() += layer.bias->transpose();
  return y;
}

std::string evaluate_layer(const LayerTrace& layer, const VectorF* s, const SweepConfig& c,
                           const SweepOptions& options, const MatrixF& y_ref) {
  std::string row = csv_cell(layer.name) + "," + c.alpha_name + "," + std::to_string(c.weight.bits) + "," +
                    std::to_string(c.act.bits) + "," + c.w_granularity + "," + c.a_granularity + "," + c.act_scale + ",";
  if (!c.invalid.empty()) return row + ",,,,,,,,," + csv_cell("skipped: " + c.invalid);
  try {
    c.weight.validate_shape(layer.weight.rows(), layer.weight.cols(), "weight");
    if (c.act.enabled()) c.act.validate_shape(layer.input.rows(), layer.input.cols(), "input");
  } catch (const Error& e) {
    return row + ",,,,,,,,," + csv_cell(std::string("skipped: ") + e.what());
  }
  MatrixF x = layer.input, w = layer.weight;
  if (s) {
    smooth_activations(x, *s);
    smooth_weight(w, *s);
  }
  QuantParams static_params;
  const bool is_static = c.act.enabled() && c.act.source == ScaleSource::kStatic;
  if (is_static) static_params = static_activation_params(layer, x, s, c.act);
  const float* bias = layer.bias ? layer.bias->data() : nullptr;
  const auto r = kernels::quantized_linear(x, w, bias, c.weight, c.act, is_static ? &static_params : nullptr,
                                           options.mode, options.kernel, layer.name);
  const ErrorMetrics ey = compare(y_ref, r.y, layer.name + " output");
  const ErrorMetrics ew = compare(w, r.w_dequant, layer.name + " weight");
  const ErrorMetrics ex = compare(x, r.x_dequant, layer.name + " input");
  const std::string path =
      r.used_integer_kernel ? kernels::kernel_path_name(kernels::resolve_kernel_path(options.kernel)) : "fake-quant";
  return row + g9(ey.rel_err) + "," + g9(ey.sqnr_db) + "," + g9(ey.max_abs) + "," + g9(ey.cosine) + "," +
         g9(ew.rel_err) + "," + g9(ew.sqnr_db) + "," + g9(ex.rel_err) + "," + g9(ex.sqnr_db) + "," + path + ",ok";
}

void run_sweep(const TraceFile& traces, const std::vector<size_t>& layers, const std::vector<SweepConfig>& configs,
               const SweepOptions& options, const std::vector<char>& done,
               const std::function<void(size_t, const std::string&)>& on_row,
               const std::function<void(size_t)>& on_progress) {
  // Smoothing vectors per distinct alpha, computed once up front.
  std::map<std::string, std::vector<VectorF>> factors;
  for (const SweepConfig& c : configs) {
    if (c.alpha && !factors.count(c.alpha_name)) factors[c.alpha_name] = group_smoothing_factors(traces, layers, *c.alpha);
  }
  const size_t total = layers.size() * configs.size();
  std::mutex mu;
  std::atomic<size_t> completed{0};
  for (char d : done) completed += d != 0;
  auto last = std::chrono::steady_clock::now();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, std::max(1, options.threads));
  // Items are layer-major, so each worker keeps the float output of the layer
  // it last worked on instead of recomputing it for every configuration.
  struct CachedOutput {
    size_t layer = SIZE_MAX;
    MatrixF y;
  };
  tbb::enumerable_thread_specific<CachedOutput> cache;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, total, 1), [&](const tbb::blocked_range<size_t>& range) {
    CachedOutput& cached = cache.local();
    for (size_t i = range.begin(); i != range.end(); ++i) {
      if (i < done.size() && done[i]) continue;
      if (interrupt_signal()) return;  // stop cleanly: finished rows are already journaled
      const size_t li = layers[i / configs.size()];
      const SweepConfig& c = configs[i % configs.size()];
      const VectorF* s = c.alpha ? &factors.at(c.alpha_name)[li] : nullptr;
      if (cached.layer != li) {
        cached.y = reference_output(traces.layers[li]);
        cached.layer = li;
      }
      const std::string row = evaluate_layer(traces.layers[li], s, c, options, cached.y);
      std::lock_guard<std::mutex> lock(mu);
      on_row(i, row);
      const size_t n = ++completed;
      const auto now = std::chrono::steady_clock::now();
      if (now - last > std::chrono::seconds(1) || n == total) {
        last = now;
        on_progress(n);
      }
    }
  });
}

}  // namespace sqsim::cli
