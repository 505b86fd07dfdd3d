#include "experiments/gptq_report.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "base/error.h"

namespace sqsim::cli {

std::vector<GptqTraceRow> gptq_traces(const TraceFile& traces, const GptqTraceSpec& spec, TraceFile* quantized) {
  const std::set<std::string> wanted(spec.layers.begin(), spec.layers.end());
  for (const std::string& name : wanted) {
    if (std::none_of(traces.layers.begin(), traces.layers.end(), [&](const LayerTrace& l) { return l.name == name; }))
      throw Error("--layers: " + traces.path + " has no layer '" + name + "'");
  }
  if (quantized) {
    quantized->path.clear();
    quantized->model = traces.model;
    quantized->layers.clear();
  }
  std::vector<GptqTraceRow> rows;
  for (const LayerTrace& l : traces.layers) {
    if (!wanted.empty() && !wanted.count(l.name)) continue;
    const std::string what = traces.path + ": /layers/" + l.name;
    const auto t0 = std::chrono::steady_clock::now();
    HessianAccumulator h(l.weight.cols());
    h.add(l.input, what + "/input");
    const GptqResult g = gptq_quantize(l.weight, h.hessian(), spec.options, what);
    GptqTraceRow row;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.layer = l.name;
    row.rows = l.input.rows();
    row.in_features = l.weight.cols();
    row.out_features = l.weight.rows();
    row.loss = g.loss;
    row.dead_columns = g.dead_columns;
    const MatrixD x = l.input.cast<double>();
    const MatrixD y = x * l.weight.cast<double>().transpose();
    const MatrixF w_gptq = dequantize(g.q);
    const MatrixF w_rtn = fake_quantize(l.weight, g.q.spec, what + "/weight");
    const double ref = y.norm();
    row.gptq_rel_err = (x * w_gptq.cast<double>().transpose() - y).norm() / ref;
    row.rtn_rel_err = (x * w_rtn.cast<double>().transpose() - y).norm() / ref;
    rows.push_back(row);
    if (quantized) {
      LayerTrace q = l;
      q.weight = w_gptq;
      quantized->layers.push_back(std::move(q));
    }
  }
  return rows;
}

}  // namespace sqsim::cli
