#include "experiments/sweep.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <mutex>

#include "experiments/interrupt.h"
#include "experiments/cli.h"
#include "experiments/format.h"
#include "kernels/gemm.h"
#include "kernels/int_weights.h"
#include "base/error.h"
#include "quant/error_metrics.h"
#include "quant/scales.h"

namespace sqsim::cli {

namespace {

double parse_number(const std::string& text) {
  size_t used = 0;
  const double v = std::stod(text, &used);
  if (used != text.size()) throw std::invalid_argument(text);
  return v;
}

#define SQSIM_TEXT_COLUMN(name, field)                                           \
  {                                                                              \
    name, [](const SweepRow& r, int) { return r.field; },                        \
        [](SweepRow& r, const std::string& c) { r.field = c; }                   \
  }
#define SQSIM_INT_COLUMN(name, field)                                            \
  {                                                                              \
    name, [](const SweepRow& r, int) { return std::to_string(r.field); },        \
        [](SweepRow& r, const std::string& c) { r.field = std::stoi(c); }        \
  }
#define SQSIM_METRIC_COLUMN(name, field)                                                           \
  {                                                                                                \
    name, [](const SweepRow& r, int digits) { return r.ok() ? significant(r.field, digits) : ""; },     \
        [](SweepRow& r, const std::string& c) {                                                    \
          if (!c.empty()) r.field = parse_number(c);                                              \
        }                                                                                          \
  }

}  // namespace

const std::vector<SweepColumn>& sweep_columns() {
  static const std::vector<SweepColumn> columns = {
      SQSIM_TEXT_COLUMN("layer", layer),
      {"alpha", [](const SweepRow& r, int) { return alpha_name(r.alpha); },
       [](SweepRow& r, const std::string& c) { r.alpha = parse_alpha(c, "alpha"); }},
      SQSIM_INT_COLUMN("w_bits", w_bits),
      SQSIM_INT_COLUMN("a_bits", a_bits),
      SQSIM_TEXT_COLUMN("w_granularity", w_granularity),
      SQSIM_TEXT_COLUMN("a_granularity", a_granularity),
      SQSIM_TEXT_COLUMN("act_scale", act_scale),
      SQSIM_METRIC_COLUMN("output_rel_err", output.rel_err),
      SQSIM_METRIC_COLUMN("output_sqnr_db", output.sqnr_db),
      SQSIM_METRIC_COLUMN("output_max_abs", output.max_abs),
      SQSIM_METRIC_COLUMN("output_cosine", output.cosine),
      SQSIM_METRIC_COLUMN("weight_rel_err", weight.rel_err),
      SQSIM_METRIC_COLUMN("weight_sqnr_db", weight.sqnr_db),
      SQSIM_METRIC_COLUMN("act_rel_err", act.rel_err),
      SQSIM_METRIC_COLUMN("act_sqnr_db", act.sqnr_db),
      {"path", [](const SweepRow& r, int) { return r.ok() ? r.path : std::string(); },
       [](SweepRow& r, const std::string& c) { r.path = c; }},
      SQSIM_TEXT_COLUMN("status", status),
  };
  return columns;
}

std::string sweep_csv(const std::vector<SweepRow>& rows) {
  std::string out;
  for (const SweepColumn& c : sweep_columns()) out += (out.empty() ? "" : ",") + std::string(c.name);
  out += "\n";
  for (const SweepRow& r : rows) {
    bool first = true;
    for (const SweepColumn& c : sweep_columns()) {
      out += (first ? "" : ",") + csv_quote(c.cell(r, 9));
      first = false;
    }
    out += "\n";
  }
  return out;
}

std::vector<std::string> sweep_row_fields(const SweepRow& row) {
  std::vector<std::string> fields;
  for (const SweepColumn& c : sweep_columns()) fields.push_back(c.cell(row, 17));
  return fields;
}

SweepRow sweep_row_from_fields(const std::vector<std::string>& fields, const std::string& where) {
  const auto& columns = sweep_columns();
  if (fields.size() != columns.size())
    throw Error(where + ": expected " + std::to_string(columns.size()) + " fields of a sweep row, got " +
                std::to_string(fields.size()));
  SweepRow row;
  row.status = fields.back();  // the metric columns read it
  for (size_t i = 0; i < columns.size(); ++i) {
    try {
      columns[i].parse(row, fields[i]);
    } catch (const std::logic_error&) {  // stoi / stod
      throw Error(where + ": " + columns[i].name + " '" + fields[i] + "' is not a number");
    }
  }
  return row;
}

std::string settings_text(const SweepGrid& g) {
  return "alpha=" + g.alpha + "\nw-bits=" + g.w_bits + "\na-bits=" + g.a_bits + "\nw-granularity=" + g.w_granularity +
         "\na-granularity=" + g.a_granularity + "\nact-scale=" + g.act_scale + "\n" + settings_text(g.variant);
}

std::vector<SweepConfig> build_sweep_configs(const SweepGrid& g) {
  std::vector<SweepConfig> out;
  const auto alphas = expand_alpha_list(g.alpha, "--alpha");
  const auto wbits = split_list(g.w_bits, "--w-bits");
  const auto abits = split_list(g.a_bits, "--a-bits");
  const auto wgran = split_list(g.w_granularity, "--w-granularity");
  const auto agran = split_list(g.a_granularity, "--a-granularity");
  const auto scales = split_list(g.act_scale, "--act-scale");
  for (const auto& a : alphas)
    for (const auto& wb : wbits)
      for (const auto& ab : abits)
        for (const auto& wg : wgran)
          for (const auto& ag : agran)
            for (const auto& as : scales) {
              SweepConfig c;
              c.alpha = parse_alpha(a, "--alpha");
              c.weight = weight_spec(parse_bits(wb, "--w-bits"), wg, g.variant);
              const int abits_value = parse_bits(ab, "--a-bits");
              parse_scale_source(as);
              try {
                c.act = activation_spec(abits_value, ag, abits_value == 16 ? "dynamic" : as, g.variant);
              } catch (const Error& e) {
                // Impossible combinations stay in the product as skipped rows.
                if (as != "static") throw;
                c.act = activation_spec(abits_value, ag, "dynamic", g.variant);
                c.invalid = "static scales need per-tensor or per-channel activations";
              }
              c.w_granularity = wg;
              c.a_granularity = ag;
              c.act_scale = as;
              out.push_back(c);
            }
  return out;
}

std::vector<size_t> smoothing_group_members(const TraceFile& traces, size_t layer) {
  const std::string& group = traces.layers[layer].smooth_group;
  if (group.empty()) return {layer};  // a layer without a group smooths alone
  std::vector<size_t> members;
  for (size_t i = 0; i < traces.layers.size(); ++i)
    if (traces.layers[i].smooth_group == group) members.push_back(i);
  return members;
}

SmoothingGroupStats smoothing_group_stats(const TraceFile& traces, const std::vector<size_t>& members,
                                          const std::string& what) {
  std::vector<VectorF> absmax;
  std::vector<const MatrixF*> weights;
  for (size_t i : members) {
    absmax.push_back(traces.layers[i].activation_absmax());
    weights.push_back(&traces.layers[i].weight);
  }
  std::vector<const VectorF*> acts;
  for (const VectorF& a : absmax) acts.push_back(&a);
  return sqsim::smoothing_group_stats(acts, weights, what);
}

std::vector<std::vector<VectorF>> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers,
                                                          const std::vector<float>& alphas) {
  std::vector<std::vector<VectorF>> out(alphas.size(), std::vector<VectorF>(traces.layers.size()));
  std::vector<char> done(traces.layers.size(), 0);
  for (size_t li : layers) {
    if (done[li]) continue;
    const std::vector<size_t> members = smoothing_group_members(traces, li);
    const std::string what = traces.path + ": smoothing of " + traces.layers[li].name;
    const SmoothingGroupStats stats = smoothing_group_stats(traces, members, what);
    for (size_t a = 0; a < alphas.size(); ++a) {
      const VectorF s = smoothing_group_factors(stats, alphas[a], what);
      for (size_t i : members) out[a][i] = s;
    }
    for (size_t i : members) done[i] = 1;
  }
  return out;
}

std::vector<VectorF> group_smoothing_factors(const TraceFile& traces, const std::vector<size_t>& layers, float alpha) {
  return std::move(group_smoothing_factors(traces, layers, std::vector<float>{alpha}).front());
}

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

MatrixF reference_output(const LayerTrace& layer) {
  MatrixF y = layer.input * layer.weight.transpose();
  if (layer.bias) y.rowwise() += layer.bias->transpose();
  return y;
}

SweepRow sweep_row_head(const LayerTrace& layer, const SweepConfig& c) {
  SweepRow r;
  r.layer = layer.name;
  r.alpha = c.alpha;
  r.w_bits = c.weight.bits;
  r.a_bits = c.act.bits;
  r.w_granularity = c.w_granularity;
  r.a_granularity = c.a_granularity;
  r.act_scale = c.act_scale;
  if (!c.invalid.empty()) {
    r.status = "skipped: " + c.invalid;
    return r;
  }
  try {
    c.weight.validate_shape(layer.weight.rows(), layer.weight.cols(), "weight");
    if (c.act.enabled()) c.act.validate_shape(layer.input.rows(), layer.input.cols(), "input");
  } catch (const Error& e) {
    r.status = std::string("skipped: ") + e.what();
  }
  return r;
}

namespace {

void set_measured(SweepRow& r, const ErrorMetrics& ey, const ErrorMetrics& ew, const ErrorMetrics& ex,
                  const std::string& path) {
  r.output = ey;
  r.weight = ew;
  r.act = ex;
  r.path = path;
  r.status = "ok";
}

// The measured part of a row from the (smoothed) operands x and w, through
// quantized_linear: the rows the cache below does not serve (fake-quant, ragged groups).
void measure_uncached(SweepRow& row, const LayerTrace& layer, const MatrixF& x, const MatrixF& w, const VectorF* s,
                      const SweepConfig& c, const RunOptions& options, const MatrixF& y_ref) {
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
  set_measured(row, ey, ew, ex, path);
}

}  // namespace

namespace {

bool same_spec(const QuantSpec& a, const QuantSpec& b) {
  return a.bits == b.bits && a.symmetric == b.symmetric && a.granularity == b.granularity &&
         a.group_size == b.group_size && a.source == b.source && a.rounding == b.rounding &&
         a.scale_rule == b.scale_rule && a.clamp == b.clamp && a.seed == b.seed;
}

// What the configurations of one (layer, alpha) share. A sweep repeats each
// weight quantization for every activation setting and each activation
// quantization for every weight setting; here both are made once, with their
// error metrics and integer operands, so per configuration only the GEMM and
// the output comparison remain. Every cached value is a pure function of its
// key (the spec), computed by the same calls quantized_linear makes, so rows
// equal those computed from scratch byte for byte (tested in sweep_test.cpp).
class LayerAlphaCache {
 public:
  LayerAlphaCache(const LayerTrace& layer, const VectorF* s) : layer_(layer), s_(s) {}

  // y_sums: reference_sums(y_ref), made once per layer.
  SweepRow row(const SweepConfig& c, const RunOptions& options, const MatrixF& y_ref, const ReferenceSums& y_sums) {
    SweepRow row = sweep_row_head(layer_, c);
    if (!row.status.empty()) return row;
    const long k = w().cols();
    if (options.mode != kernels::EmulationMode::kInteger || !kernels::integer_path_supports(c.weight, c.act, k) ||
        kernels::padded_reduction_length(c.act, c.weight, k) != k) {
      // fake-quant and ragged groups (padded by quantized_linear): rare, not cached
      measure_uncached(row, layer_, x(), w(), s_, c, options, y_ref);
      return row;
    }
    if (x().cols() != w().cols()) {  // as quantized_linear refuses it
      throw Error(layer_.name + ": input has " + std::to_string(x().cols()) + " channels, weight expects " +
                  std::to_string(w().cols()));
    }
    const float* bias = layer_.bias ? layer_.bias->data() : nullptr;
    Weight& qw = weight(c.weight);
    const Act& qx = act(c.act);
    // Weights packed once per spec for the kernel path (same bits as packing
    // on every call); each is used by every activation setting.
    MatrixF y;
    if (!c.act.enabled()) {
      y = kernels::linear_f32s4(x(), qw.packed_int4(options.kernel), bias);
    } else if (qw.is_int4) {
      y = kernels::linear_s8s4(qx.int8, qw.packed_int4(options.kernel), bias);
    } else {
      y = kernels::linear_s8s8(qx.int8, qw.packed_int8(options.kernel), bias);
    }
    const ErrorMetrics ey = compare(y_ref, y_sums, y, layer_.name + " output");
    const std::string path = kernels::kernel_path_name(kernels::resolve_kernel_path(options.kernel));
    set_measured(row, ey, qw.err, qx.err, path);
    return row;
  }

 private:
  struct Weight {
    QuantSpec spec;
    ErrorMetrics err;
    bool is_int4 = false;  // the operand quantized_linear builds: int4 when it can pack it, else int8
    kernels::Int8Matrix int8;
    kernels::Int4Matrix int4;
    std::optional<kernels::PackedS8Weights> packed8;
    std::optional<kernels::PackedS4Weights> packed4;
    const kernels::PackedS8Weights& packed_int8(kernels::KernelPath path) {
      if (!packed8) packed8 = kernels::pack_s8_weights(int8, path);
      return *packed8;
    }
    const kernels::PackedS4Weights& packed_int4(kernels::KernelPath path) {
      if (!packed4) packed4 = kernels::pack_s4_weights(int4, path, kernels::S4Use::kW4A8);
      return *packed4;
    }
  };
  struct Act {
    QuantSpec spec;
    ErrorMetrics err;
    kernels::Int8Matrix int8;  // empty for float activations
  };

  // Smoothed operands; with no smoothing, the trace's own matrices (no copy).
  const MatrixF& x() {
    if (!s_) return layer_.input;
    if (!x_) x_ = smoothed_activations(layer_.input, *s_);
    return *x_;
  }
  const MatrixF& w() {
    if (!s_) return layer_.weight;
    if (!w_) w_ = smoothed_weight(layer_.weight, *s_);
    return *w_;
  }

  Weight& weight(const QuantSpec& spec) {
    for (Weight& e : weights_)
      if (same_spec(e.spec, spec)) return e;
    const std::string what = layer_.name + " weight";
    checked(w(), w_checked_, what);
    ErrorLaneState err;
    const QuantizedMatrix q =
        quantize_and_measure(w(), spec, params_from_range(range(w(), spec, what, weight_ranges_), spec), what,
                             FiniteCheck::kAlreadyChecked, ErrorSumsParts::kErrorOnly, err);
    Weight e;
    e.spec = spec;
    e.err = rel_sqnr_metrics(sums(w(), w_sums_), err);  // the row reports these two
    e.is_int4 = spec.bits <= 4 && kernels::int4_representable(spec);
    if (e.is_int4) {
      e.int4 = kernels::to_int4(q, what);
    } else {
      e.int8 = kernels::to_int8(q, what);
    }
    weights_.push_back(std::move(e));
    return weights_.back();
  }

  const Act& act(const QuantSpec& spec) {
    for (const Act& e : acts_)
      if (same_spec(e.spec, spec)) return e;
    const std::string what = layer_.name + " input";
    Act e;
    e.spec = spec;
    if (!spec.enabled()) {
      require_finite(x(), what);
      e.err = compare(x(), x(), what);
    } else {
      checked(x(), x_checked_, what);
      const QuantParams params = spec.source == ScaleSource::kStatic
                                     ? static_activation_params(layer_, x(), s_, spec)
                                     : params_from_range(range(x(), spec, what, act_ranges_), spec);
      ErrorLaneState err;
      const QuantizedMatrix q =
          quantize_and_measure(x(), spec, params, what, FiniteCheck::kAlreadyChecked, ErrorSumsParts::kErrorOnly, err);
      e.err = rel_sqnr_metrics(sums(x(), x_sums_), err);
      e.int8 = kernels::to_int8(q, what);
    }
    acts_.push_back(std::move(e));
    return acts_.back();
  }

  // Each operand is checked for NaN/Inf once; its ranges and quantizations
  // then skip the check (the same error, raised before any of them).
  static void checked(const MatrixF& m, bool& done, const std::string& what) {
    if (done) return;
    require_finite(m, what);
    done = true;
  }

  // The operand's own error sum, shared by its quantizations.
  static const ReferenceSums& sums(const MatrixF& m, std::optional<ReferenceSums>& cache) {
    if (!cache) cache = reference_sums(m);
    return *cache;
  }

  // observe_range depends on the granularity alone, so e.g. W8 and W4 weights of
  // one granularity share it; quantize(m, spec, what) is exactly
  // quantize(m, spec, params_from_range(observe_range(m, spec, what), spec), what).
  // A coarser granularity is folded from a finer one already observed
  // (coarsen_range: the same statistics bit for bit) instead of rescanning m:
  // group64 from group32, per-tensor from per-token.
  struct Range {
    QuantSpec spec;  // its granularity and group size
    RangeStats stats;
  };
  // m must have been checked (checked()).
  static const RangeStats& range(const MatrixF& m, const QuantSpec& spec, const std::string& what,
                                 std::deque<Range>& cache) {
    spec.validate(what);  // as observe_range would, before a cached range is used
    spec.validate_shape(m.rows(), m.cols(), what);
    for (const Range& r : cache)
      if (r.spec.granularity == spec.granularity && r.spec.group_size == spec.group_size) return r.stats;
    for (const Range& r : cache) {
      if (can_coarsen_range(r.spec, spec)) {
        cache.push_back({spec, coarsen_range(r.stats, r.spec, spec, m.rows(), m.cols())});
        return cache.back().stats;
      }
    }
    cache.push_back({spec, observe_range(m, spec, what, FiniteCheck::kAlreadyChecked)});
    return cache.back().stats;
  }

  const LayerTrace& layer_;
  const VectorF* s_;
  std::deque<Range> weight_ranges_, act_ranges_;
  std::optional<MatrixF> x_, w_;
  std::optional<ReferenceSums> x_sums_, w_sums_;
  bool x_checked_ = false, w_checked_ = false;
  std::deque<Weight> weights_;  // deque: references stay valid as entries are added
  std::deque<Act> acts_;
};

}  // namespace

void run_sweep(const TraceFile& traces, const std::vector<size_t>& layers, const std::vector<SweepConfig>& configs,
               const RunOptions& options, const std::vector<char>& done,
               const std::function<void(size_t, const SweepRow&)>& on_row,
               const std::function<void(size_t)>& on_progress) {
  // Smoothing vectors per distinct alpha, computed once up front.
  std::map<float, std::vector<VectorF>> factors;
  {
    std::vector<float> values;
    for (const SweepConfig& c : configs)
      if (c.alpha && std::find(values.begin(), values.end(), *c.alpha) == values.end()) values.push_back(*c.alpha);
    // Only for layers with an item still to run: a rank of an MPI job holds
    // the data of its own layers (and their groups) only.
    std::vector<size_t> active;
    for (size_t p = 0; p < layers.size(); ++p)
      for (size_t c = 0; c < configs.size(); ++c)
        if (p * configs.size() + c >= done.size() || !done[p * configs.size() + c]) {
          active.push_back(layers[p]);
          break;
        }
    if (!values.empty()) {  // (no smoothing, no statistics: nothing to refuse)
      auto per_alpha = group_smoothing_factors(traces, active, values);
      for (size_t i = 0; i < values.size(); ++i) factors[values[i]] = std::move(per_alpha[i]);
    }
  }
  const size_t total = layers.size() * configs.size();
  std::mutex mu;
  std::atomic<size_t> completed{0};
  for (char d : done) completed += d != 0;
  auto last = std::chrono::steady_clock::now();
  const auto limit = thread_limit(options.threads);
  // Items are layer-major, so each worker keeps the float output of the layer
  // it last worked on instead of recomputing it for every configuration.
  // Likewise it keeps the quantized operands of the (layer, alpha) it last
  // worked on (LayerAlphaCache).
  struct CachedOutput {
    size_t layer = SIZE_MAX;
    MatrixF y;
    ReferenceSums y_sums;
    Alpha alpha;
    std::unique_ptr<LayerAlphaCache> operands;
  };
  tbb::enumerable_thread_specific<CachedOutput> cache;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, total, 1), [&](const tbb::blocked_range<size_t>& range) {
    CachedOutput& cached = cache.local();
    for (size_t i = range.begin(); i != range.end(); ++i) {
      if (i < done.size() && done[i]) continue;
      if (interrupt_signal()) return;  // stop cleanly: finished rows are already journaled
      const size_t li = layers[i / configs.size()];
      const SweepConfig& c = configs[i % configs.size()];
      const VectorF* s = c.alpha ? &factors.at(*c.alpha)[li] : nullptr;
      if (cached.layer != li) {
        cached.operands.reset();  // before the new output: at most one layer's data per thread
        cached.y = reference_output(traces.layers[li]);
        cached.y_sums = reference_sums(cached.y);
        cached.layer = li;
      }
      if (!cached.operands || cached.alpha != c.alpha) {
        cached.operands.reset();
        cached.operands = std::make_unique<LayerAlphaCache>(traces.layers[li], s);
        cached.alpha = c.alpha;
      }
      const SweepRow row = cached.operands->row(c, options, cached.y, cached.y_sums);
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
