#include "experiments/observer_report.h"

#include <algorithm>
#include <set>

#include "base/error.h"
#include "quant/outlier_metrics.h"
#include "quant/quantize.h"
#include "quant/scales.h"

namespace sqsim::cli {

namespace {

// Sum of squared differences between x and its per-tensor static quantization
// with clip c, split by channel class.
struct ErrorSplit {
  double all = 0, outlier = 0, other = 0;
  long clipped = 0;
};

ErrorSplit quantization_error(const MatrixF& x, float c, int bits, const std::vector<bool>& is_outlier,
                              const std::string& what) {
  QuantSpec spec;
  spec.bits = bits;
  spec.granularity = Granularity::kPerTensor;
  spec.source = ScaleSource::kStatic;
  RangeStats range;
  range.absmax = {c};
  range.min = {-c};
  range.max = {c};
  const QuantParams params = params_from_range(range, spec);
  const MatrixF deq = fake_quantize(x, spec, what, &params);
  ErrorSplit e;
  for (long r = 0; r < x.rows(); ++r)
    for (long k = 0; k < x.cols(); ++k) {
      const double d = double(x(r, k)) - double(deq(r, k));
      e.all += d * d;
      (is_outlier[size_t(k)] ? e.outlier : e.other) += d * d;
      e.clipped += std::fabs(x(r, k)) > c;
    }
  return e;
}

}  // namespace

std::vector<ObserverRow> compare_observers(const TraceFile& traces, const ObserverReportSpec& spec) {
  if (spec.observers.empty()) throw Error("--observers: at least one observer is needed");
  std::set<std::string> wanted(spec.layers.begin(), spec.layers.end());
  for (const std::string& name : wanted) {
    const bool found = std::any_of(traces.layers.begin(), traces.layers.end(),
                                   [&](const LayerTrace& l) { return l.name == name; });
    if (!found) throw Error("--layers: " + traces.path + " has no layer '" + name + "'");
  }
  std::vector<ObserverRow> rows;
  for (const LayerTrace& l : traces.layers) {
    if (!wanted.empty() && !wanted.count(l.name)) continue;
    const std::string what = traces.path + ": /layers/" + l.name + "/input";
    const MatrixF& x = l.input;
    require_nonempty(x, what);
    // Outlier channels: the top 1% by the sampled inputs' absmax (at least one).
    const VectorF ch = x.cwiseAbs().colwise().maxCoeff().transpose();
    const int k = std::max(1, int(x.cols() / 100));
    std::vector<bool> is_outlier(size_t(x.cols()), false);
    for (int c : top_k_indices(ch.data(), int(ch.size()), k)) is_outlier[size_t(c)] = true;
    const double n_all = double(x.size()), n_out = double(k) * double(x.rows());
    for (const ObserverSpec& o : spec.observers) {
      AbsHistogram h(o.bins);
      for (long r = 0; r < x.rows(); ++r) h.add(x.row(r).data(), x.cols(), what);
      const float c = observer_clip(h, o, spec.bits);
      const ErrorSplit e = quantization_error(x, c, spec.bits, is_outlier, what);
      ObserverRow row;
      row.layer = l.name;
      row.observer = observer_name(o);
      row.absmax = h.absmax();
      row.clip = c;
      row.clipped_share = double(e.clipped) / n_all;
      row.mse = e.all / n_all;
      row.mse_outlier_channels = e.outlier / n_out;
      row.mse_other_channels = n_all > n_out ? e.other / (n_all - n_out) : 0.0;
      row.outlier_channels = k;
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace sqsim::cli
