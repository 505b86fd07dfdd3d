// run_sweep reuses quantized operands across configurations (LayerAlphaCache);
// its rows must be exactly those of the oracle below, which recomputes
// everything through kernels::quantized_linear.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "experiments/quant_options.h"
#include "experiments/sweep.h"
#include "kernels/quantized_linear.h"
#include "quant/error_metrics.h"
#include "sim/eval/synthetic_traces.h"

namespace sqsim::cli {
namespace {

// The oracle: one row from scratch. The layer smoothed by s (may be null),
// quantized and multiplied by quantized_linear, compared with y_ref.
SweepRow uncached_row(const LayerTrace& layer, const VectorF* s, const SweepConfig& c, const RunOptions& options,
                      const MatrixF& y_ref) {
  SweepRow row = sweep_row_head(layer, c);
  if (!row.status.empty()) return row;
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
  row.output = compare(y_ref, r.y, layer.name + " output");
  row.weight = compare(w, r.w_dequant, layer.name + " weight");
  row.act = compare(x, r.x_dequant, layer.name + " input");
  row.path = r.used_integer_kernel ? kernels::kernel_path_name(kernels::resolve_kernel_path(options.kernel))
                                   : "fake-quant";
  row.status = "ok";
  return row;
}

std::vector<SweepConfig> configs_from(std::vector<std::string> args) {
  po::options_description o;
  add_sweep_grid_options(o);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(o).run(), vm);
  po::notify(vm);
  return build_sweep_configs(sweep_grid(vm));
}

TraceFile small_traces() {
  SyntheticTraceSpec spec;
  spec.blocks = 1;
  spec.hidden = 64;
  spec.kv_dim = 32;
  spec.intermediate = 128;
  spec.tokens = 16;
  spec.outlier_channels = 2;
  spec.seed = 3;
  return make_synthetic_traces(spec);
}

std::vector<SweepRow> sweep_rows(const TraceFile& t, const std::vector<size_t>& layers,
                                 const std::vector<SweepConfig>& configs, const RunOptions& options,
                                 const std::vector<char>& done) {
  std::vector<SweepRow> rows(layers.size() * configs.size());
  run_sweep(t, layers, configs, options, done, [&](size_t i, const SweepRow& row) { rows[i] = row; },
            [](size_t) {});
  return rows;
}

// Every branch of a row: both integer products and W4A16, static and dynamic
// scales, fake-quant fallbacks (per-tensor int4 weights, per-channel and
// asymmetric activations, float weights), and skipped rows (static per-token,
// group 48 that divides no K here).
const std::vector<std::string> kMixedArgs = {
    "--alpha=none,0.5,1", "--w-bits=8,4,16", "--a-bits=8,16",
    "--w-granularity=per-tensor,per-channel,group32,group48", "--a-granularity=per-token,per-tensor,per-channel",
    "--act-scale=dynamic,static"};

TEST(Sweep, CachedRowsEqualTheUncachedOracleForEveryBranch) {
  const TraceFile t = small_traces();
  const std::vector<SweepConfig> configs = configs_from(kMixedArgs);
  std::vector<size_t> layers;
  for (size_t i = 0; i < t.layers.size(); ++i) layers.push_back(i);
  std::map<float, std::vector<VectorF>> factors;
  for (const SweepConfig& c : configs)
    if (c.alpha) factors[*c.alpha] = group_smoothing_factors(t, layers, *c.alpha);

  for (const auto mode : {kernels::EmulationMode::kInteger, kernels::EmulationMode::kFakeQuant}) {
    RunOptions options;
    options.mode = mode;
    options.threads = 2;
    const std::vector<SweepRow> rows = sweep_rows(t, layers, configs, options, {});
    std::map<std::string, int> seen;
    for (size_t li = 0; li < layers.size(); ++li) {
      const MatrixF y_ref = reference_output(t.layers[li]);
      for (size_t ci = 0; ci < configs.size(); ++ci) {
        const SweepConfig& c = configs[ci];
        const VectorF* s = c.alpha ? &factors.at(*c.alpha)[li] : nullptr;
        const SweepRow expected = uncached_row(t.layers[li], s, c, options, y_ref);
        ASSERT_EQ(sweep_row_fields(rows[li * configs.size() + ci]), sweep_row_fields(expected))
            << "layer " << li << " config " << ci;
        if (expected.ok() && expected.path == "fake-quant") {
          seen["fake-quant"]++;
        } else if (expected.ok()) {
          seen["integer"]++;
        } else if (expected.status.rfind("skipped: ", 0) == 0) {
          seen["skipped"]++;
        }
      }
    }
    // The configuration set really reaches each branch it is meant to cover.
    if (mode == kernels::EmulationMode::kInteger) {
      EXPECT_GT(seen["integer"], 0);
    }
    EXPECT_GT(seen["fake-quant"], 0);
    EXPECT_GT(seen["skipped"], 0);
  }
}

TEST(Sweep, ResumedItemsAreNotRedoneAndOthersMatch) {
  const TraceFile t = small_traces();
  const std::vector<SweepConfig> configs = configs_from({"--alpha=none,0.5", "--w-bits=8,4", "--a-bits=8",
                                                          "--w-granularity=per-channel,group32",
                                                          "--a-granularity=per-token,per-tensor"});
  const std::vector<size_t> layers = {0, 3, 6};
  RunOptions options;
  options.threads = 1;
  const std::vector<SweepRow> full = sweep_rows(t, layers, configs, options, {});
  std::vector<char> done(full.size(), 0);
  for (size_t i = 0; i < done.size(); i += 3) done[i] = 1;
  options.threads = 2;
  const std::vector<SweepRow> rest = sweep_rows(t, layers, configs, options, done);
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_FALSE(full[i].status.empty());
    EXPECT_EQ(sweep_row_fields(rest[i]), sweep_row_fields(done[i] ? SweepRow() : full[i])) << i;
  }
}

// A row goes through the journal's fields and back unchanged, numbers bit for
// bit, and results.csv prints it as before the rows were typed.
TEST(Sweep, RowFieldsRoundTripAndCsvKeepsItsColumns) {
  SweepRow r;
  r.layer = "model.layers.0.self_attn.q_proj, \"odd\"\r";
  r.alpha = 0.05f;
  r.w_bits = 4;
  r.a_bits = 8;
  r.w_granularity = "group64";
  r.a_granularity = "per-token";
  r.act_scale = "dynamic";
  r.output = {0.1 / 3, 29.5, INFINITY, 0.999};
  r.weight = {1e-300, -0.0, 0, 1};
  r.act = {2.0 / 3, 12.25, 0, 1};
  r.path = "avx2";
  r.status = "ok";
  const SweepRow back = sweep_row_from_fields(sweep_row_fields(r), "test");
  EXPECT_EQ(sweep_row_fields(back), sweep_row_fields(r));
  EXPECT_EQ(back.output.rel_err, r.output.rel_err);
  EXPECT_EQ(back.alpha, r.alpha);
  EXPECT_EQ(sweep_csv({r}),
            "layer,alpha,w_bits,a_bits,w_granularity,a_granularity,act_scale,output_rel_err,output_sqnr_db,"
            "output_max_abs,output_cosine,weight_rel_err,weight_sqnr_db,act_rel_err,act_sqnr_db,path,status\n"
            "\"model.layers.0.self_attn.q_proj, \"\"odd\"\"\r\",0.05,4,8,group64,per-token,dynamic,0.0333333333,29.5,"
            "inf,0.999,1e-300,-0,0.666666667,12.25,avx2,ok\n");
  SweepRow skipped = r;
  skipped.status = "skipped: static scales need per-tensor or per-channel activations";
  EXPECT_EQ(sweep_csv({skipped}).substr(sweep_csv({skipped}).find('\n') + 1),
            "\"model.layers.0.self_attn.q_proj, \"\"odd\"\"\r\",0.05,4,8,group64,per-token,dynamic,,,,,,,,,,"
            "skipped: static scales need per-tensor or per-channel activations\n");
}

}  // namespace
}  // namespace sqsim::cli
